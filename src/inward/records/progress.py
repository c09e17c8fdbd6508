"""Progress lines of long jobs (model calls, finetunes): done/total, rate and time left.

A Snakemake step writes its stderr to the rule's log (``pipeline.steps.run_step`` redirects
it), so a line printed there never reaches the person running ``snakemake`` or ``inward run``.
``Progress`` writes each line to ``sys.stderr`` (the log, complete) and also to the process's
real stderr (``sys.__stderr__``, the terminal) when the two differ, there at most once every
``interval`` seconds besides the first and the last line, so that jobs running side by side
do not flood the terminal.
"""

from __future__ import annotations

import sys
import time


def duration(seconds: float) -> str:
    """``1h02m``, ``3m05s``, ``42s``."""
    s = int(round(seconds))
    if s >= 3600:
        return f"{s // 3600}h{s % 3600 // 60:02d}m"
    if s >= 60:
        return f"{s // 60}m{s % 60:02d}s"
    return f"{s}s"


class Progress:
    """Progress of one job of ``total`` units, each line prefixed with ``label`` (the job's
    output or agent). ``every_line_to_log``: every update goes to the log (coarse updates such
    as chunks of prompts); otherwise the log gets the lines the terminal gets."""

    def __init__(self, label: str, total: int, unit: str, interval: float = 10.0,
                 every_line_to_log: bool = True, clock=time.monotonic):
        self.label, self.total, self.unit = label, total, unit
        self.interval, self.every_line_to_log, self.clock = interval, every_line_to_log, clock
        self.started = clock()
        self.last_shown: float | None = None

    def line(self, done: int, fresh: int | None = None, note: str = "") -> str:
        """``label: done/total unit (pct%, rate/s, time left)``; the rate counts the ``fresh``
        units done by this process (default ``done``: none were resumed)."""
        fresh = done if fresh is None else fresh
        elapsed = max(self.clock() - self.started, 1e-9)
        rate = fresh / elapsed
        pct = 100 * done / self.total if self.total else 100.0
        if done >= self.total:
            left = f"done in {duration(elapsed)}"
        elif rate > 0:
            left = f"{duration((self.total - done) / rate)} left"
        else:
            left = "time left unknown"
        extra = f", {note}" if note else ""
        return (f"[inward] {self.label}: {done}/{self.total} {self.unit} ({pct:.0f}%, "
                f"{rate:.2f} {self.unit}/s, {left}{extra})")

    def update(self, done: int, fresh: int | None = None, note: str = "") -> None:
        """Report ``done`` of ``total`` units (see ``line``)."""
        now = self.clock()
        due = (self.last_shown is None or done >= self.total
               or now - self.last_shown >= self.interval)
        if not (due or self.every_line_to_log):
            return
        text = self.line(done, fresh, note)
        log, terminal = sys.stderr, sys.__stderr__
        print(text, file=log, flush=True)
        if due:
            self.last_shown = now
            if terminal is not None and terminal is not log:
                print(text, file=terminal, flush=True)
