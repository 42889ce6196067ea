"""Deleting from a registry's filesystem storage (distribution's layout, collect/storage.py).

`StorageDeleter` does every check and every measurement; only `_rmtree` and `_rmdir` change
anything, and `DryRunDeleter` makes those do nothing, so a dry run goes the same way as a
confirmed run and says exactly what would be deleted. Names come from a checked plan (repository
names, digests and upload ids that are single path segments); a path that leaves the storage
through a symbolic link is still refused, never followed.
"""

from __future__ import annotations

import os
import shutil
import stat
from dataclasses import dataclass

from pruneplan.collect.storage import REPOSITORY_MARKS, storage_base
from pruneplan.execute.ports import ERROR, NOT_FOUND, OK


@dataclass(slots=True)
class Deleted:
    status: str  # ports.OK, NOT_FOUND (already gone: done) or ERROR
    message: str = ""
    size: int = 0  # bytes of data removed (a blob's or an upload's)

    @property
    def done(self) -> bool:
        return self.status in (OK, NOT_FOUND)


def _hex(digest: str) -> str:
    return digest.split(":", 1)[1]


class StorageDeleter:
    """Deletes for real. Each method answers what it did; an OSError is an ERROR, never raised."""

    dry_run = False

    def __init__(self, root: str) -> None:
        self.base = os.path.realpath(storage_base(root))
        self.repositories = os.path.join(self.base, "repositories")

    # -- the only two calls that change the storage -------------------------------------------
    def _rmtree(self, path: str) -> None:
        shutil.rmtree(path)

    def _rmdir(self, path: str) -> None:
        os.rmdir(path)

    # -- checks ----------------------------------------------------------------------------------
    def _within(self, directory: str) -> bool:
        """`directory` resolves inside the storage (no symbolic link leads out of it)."""
        real = os.path.realpath(directory)
        return real == self.base or real.startswith(self.base + os.sep)

    def _inside(self, path: str) -> bool:
        return self._within(os.path.dirname(path))

    def _repository(self, name: str) -> str:
        return os.path.join(self.repositories, *name.split("/"))

    def _remove_directory(self, path: str, what: str) -> Deleted:
        """Remove the directory `path` and everything in it."""
        if not self._inside(path):
            return Deleted(ERROR, f"{path} leads out of the storage through a symbolic link; not deleted")
        try:
            info = os.lstat(path)
        except FileNotFoundError:
            return Deleted(NOT_FOUND, f"{what} is already absent")
        except OSError as err:
            return Deleted(ERROR, f"{path}: {err.strerror or err}")
        if not stat.S_ISDIR(info.st_mode):
            return Deleted(ERROR, f"{path} is not a directory; not deleted")
        size = self._data_size(path)
        try:
            self._rmtree(path)
        except OSError as err:
            return Deleted(ERROR, f"{path}: {err.strerror or err}")
        return Deleted(OK, "", size)

    @staticmethod
    def _data_size(directory: str) -> int:
        try:
            info = os.lstat(os.path.join(directory, "data"))
        except OSError:
            return 0
        return info.st_size if stat.S_ISREG(info.st_mode) else 0

    # -- the plan's deletions --------------------------------------------------------------------
    def delete_manifest_link(self, repository: str, digest: str) -> Deleted:
        """The revision link, and what of the repository's tags still names that revision (a tag
        left pointing at a deleted revision answers "manifest unknown" to every pull)."""
        manifests = os.path.join(self._repository(repository), "_manifests")
        outcome = self._remove_directory(os.path.join(manifests, "revisions", "sha256", _hex(digest)),
                                         f"manifest link {digest} in repository {repository}")
        if outcome.done:
            self._drop_tags(os.path.join(manifests, "tags"), digest)
        return outcome

    def _drop_tags(self, tags: str, digest: str) -> None:
        try:
            names = sorted(os.listdir(tags)) if self._within(tags) else []
        except OSError:
            return
        for tag in names:
            self._remove_directory(os.path.join(tags, tag, "index", "sha256", _hex(digest)), "tag index entry")
            try:
                with open(os.path.join(tags, tag, "current", "link"), "rb") as handle:
                    current = handle.read(200).decode("utf-8", "replace")
            except OSError:
                continue
            if current == digest:
                self._remove_directory(os.path.join(tags, tag), "tag")

    def delete_layer_link(self, repository: str, digest: str) -> Deleted:
        return self._remove_directory(os.path.join(self._repository(repository), "_layers", "sha256", _hex(digest)),
                                      f"layer link {digest} in repository {repository}")

    def delete_upload(self, repository: str, uuid: str) -> Deleted:
        return self._remove_directory(os.path.join(self._repository(repository), "_uploads", uuid),
                                      f"upload {uuid} in repository {repository}")

    def delete_repository(self, repository: str) -> Deleted:
        """The repository's own `_manifests`, `_layers` and `_uploads`, then its directories that
        are left empty, up to `repositories/` (a nested repository keeps its parents)."""
        directory = self._repository(repository)
        what = f"repository {repository}"
        if not os.path.lexists(directory):
            return Deleted(NOT_FOUND, f"{what} is already absent")
        size = 0
        removed = False
        for mark in REPOSITORY_MARKS:
            part = os.path.join(directory, mark)
            if not os.path.lexists(part):
                continue
            if mark == "_uploads":
                size += self._uploads_size(part)
            outcome = self._remove_directory(part, what)
            if outcome.status == ERROR:
                return outcome
            removed = True
        self._prune_empty(directory)
        return Deleted(OK if removed else NOT_FOUND, "" if removed else f"{what} is already absent", size)

    def _uploads_size(self, uploads: str) -> int:
        try:
            names = os.listdir(uploads)
        except OSError:
            return 0
        return sum(self._data_size(os.path.join(uploads, name)) for name in names)

    def _prune_empty(self, directory: str) -> None:
        while directory != self.repositories and directory.startswith(self.repositories + os.sep):
            try:
                self._rmdir(directory)
            except OSError:
                return  # not empty (a nested repository, a stray file) or already gone: left as it is
            directory = os.path.dirname(directory)

    def delete_blob(self, digest: str) -> Deleted:
        hex_digest = _hex(digest)
        return self._remove_directory(os.path.join(self.base, "blobs", "sha256", hex_digest[:2], hex_digest), f"blob {digest}")


class DryRunDeleter(StorageDeleter):
    """The same checks and measurements; nothing is removed."""

    dry_run = True

    def _rmtree(self, path: str) -> None:
        pass

    def _rmdir(self, path: str) -> None:
        raise OSError("dry run")  # no directory is emptied by a dry run: none is removed as empty
