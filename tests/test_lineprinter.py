"""execute's printer thread: every queued line is written, in the order the workers queued them
across both streams, and an output that cannot be written is reported, not lost."""

from __future__ import annotations

import io
import threading

import pytest

from pruneplan.execute.lineprinter import LinePrinter


class Log(io.StringIO):
    """Both streams into one log, each line tagged with its stream: a combined `2>&1` log."""

    def __init__(self, combined: list[str], tag: str) -> None:
        super().__init__()
        self.combined, self.tag = combined, tag

    def write(self, text: str) -> int:
        self.combined.append(f"{self.tag} {text}")
        return len(text)


def test_lines_of_both_streams_come_out_in_the_order_they_were_queued():
    combined: list[str] = []
    with LinePrinter(Log(combined, "out"), Log(combined, "err")) as printer:
        printer.say("Deleting blob a")
        printer.error("error deleting blob a from the registry: boom")
        printer.say("Deleting blob b")
    assert combined == ["out Deleting blob a\n", "err error deleting blob a from the registry: boom\n",
                        "out Deleting blob b\n"]


def test_every_line_of_many_workers_is_written_once_and_each_workers_lines_keep_their_order():
    out = io.StringIO()
    with LinePrinter(out, io.StringIO()) as printer:
        def work(w: int) -> None:
            for i in range(500):
                printer.say(f"{w} {i}")
        threads = [threading.Thread(target=work, args=(w,)) for w in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    lines = out.getvalue().splitlines()
    assert sorted(lines) == sorted(f"{w} {i}" for w in range(8) for i in range(500))
    for w in range(8):
        assert [line for line in lines if line.startswith(f"{w} ")] == [f"{w} {i}" for i in range(500)]


def test_lines_are_flushed_once_the_printer_has_caught_up():
    flushed = threading.Event()

    class Watched(io.StringIO):
        def flush(self) -> None:
            if "Deleting image x" in self.getvalue():
                flushed.set()

    printer = LinePrinter(Watched(), io.StringIO())
    with printer:
        printer.say("Deleting image x")
        assert flushed.wait(5), "a line stayed in the buffer while the printer had nothing else to do"


class ClosedPipe(io.StringIO):
    def write(self, text: str) -> int:
        raise BrokenPipeError(32, "Broken pipe")


def test_an_output_that_cannot_be_written_is_raised_when_the_printer_is_left():
    with pytest.raises(BrokenPipeError):
        with LinePrinter(ClosedPipe(), io.StringIO()) as printer:
            printer.say("Deleting blob a")


def test_the_failure_is_visible_to_the_workers_before_the_printer_is_left():
    printer = LinePrinter(ClosedPipe(), io.StringIO())
    with pytest.raises(BrokenPipeError):
        with printer:
            printer.say("Deleting blob a")
            for _ in range(500):
                if printer.failure is not None:
                    break
                threading.Event().wait(0.01)
            assert isinstance(printer.failure, BrokenPipeError)
