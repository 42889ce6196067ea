"""The execution journal: one JSON line per action outcome, flushed and fsynced as it happens.

A rerun with the same plan and journal skips what is done (ok, or 404 = already gone) and finishes
the rest; a journal written for another plan is refused. Only outcomes are journalled, never
decisions: a rerun re-checks the live cluster, so a skip is decided afresh each time.
"""

from __future__ import annotations

import os
import threading
from datetime import datetime, timezone
from typing import IO, Any

import orjson

from pruneplan.errors import EXIT_BAD_INPUT, PrunePlanError

DONE = frozenset({"ok", "notfound"})


def _now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class Journal:
    def __init__(self, path: str, plan_sha256: str) -> None:
        self.path = path
        self.plan_sha256 = plan_sha256
        self.done: set[str] = set()
        self._lock = threading.Lock()
        self._handle: IO[bytes] | None = None
        if os.path.exists(path):
            self._load()

    def _load(self) -> None:
        try:
            with open(self.path, "rb") as handle:
                lines = handle.read().splitlines()
        except OSError as err:
            raise PrunePlanError(f"cannot read journal {self.path}: {err.strerror or err}", EXIT_BAD_INPUT) from None
        for number, line in enumerate(lines, 1):
            if not line.strip():
                continue
            try:
                entry = orjson.loads(line)
            except orjson.JSONDecodeError:
                if number == len(lines):
                    break  # a line cut short by a crash: that action did not finish
                raise PrunePlanError(f"journal {self.path} is corrupt at line {number}", EXIT_BAD_INPUT) from None
            if number == 1:
                if entry.get("planSha256") != self.plan_sha256:
                    raise PrunePlanError(
                        f"journal {self.path} belongs to plan {entry.get('planSha256')}, not to this plan ({self.plan_sha256})",
                        EXIT_BAD_INPUT,
                    )
                continue
            if entry.get("status") in DONE:
                self.done.add(entry["key"])

    def is_done(self, key: str) -> bool:
        return key in self.done

    def _write(self, entry: dict[str, Any]) -> None:
        if self._handle is None:
            fresh = not os.path.exists(self.path) or os.path.getsize(self.path) == 0
            self._handle = open(self.path, "ab")
            if fresh:
                self._append({"journal": "pruneplan", "planSha256": self.plan_sha256, "at": _now()})
        self._append(entry)

    def _append(self, entry: dict[str, Any]) -> None:
        assert self._handle is not None
        self._handle.write(orjson.dumps(entry) + b"\n")
        self._handle.flush()
        os.fsync(self._handle.fileno())

    def record(self, key: str, status: str, message: str = "", attempts: int = 1) -> None:
        with self._lock:
            self._write({"key": key, "status": status, "message": message, "attempts": attempts, "at": _now()})
            if status in DONE:
                self.done.add(key)

    def close(self) -> None:
        with self._lock:
            if self._handle is not None:
                self._handle.close()
                self._handle = None
