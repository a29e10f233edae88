"""Progress of long ingests on stderr: a bar per source with records per second while it
runs (on a terminal), and a summary table at the end."""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass, field
from typing import TextIO

from hub.store.load import RunResult


@dataclass(slots=True)
class SourceProgress:
    source_id: str
    total_files: int | None  # None: pages of an API, count unknown in advance
    out: TextIO = field(default_factory=lambda: sys.stderr)
    runs: list[RunResult] = field(default_factory=list)
    started: float = field(default_factory=time.monotonic)
    elapsed: float = 0.0
    tty: bool = field(init=False)  # asked once, not per file (a system call each time)

    def __post_init__(self) -> None:
        self.tty = self.out.isatty()

    def __call__(self, run: RunResult) -> None:
        self.runs.append(run)
        self.elapsed = time.monotonic() - self.started
        if run.status == "failed" or run.records_quarantined:
            self._clear()
            print(
                f"  {run.status}: {run.records_accepted} accepted, {run.records_quarantined} "
                f"quarantined  {run.file_name}" + (f"  ({run.error})" if run.error else ""),
                file=self.out,
            )
        if self.tty:
            self.out.write("\r" + self._bar())
            self.out.flush()

    def done(self) -> None:
        self.elapsed = time.monotonic() - self.started
        self._clear()
        print(self._bar(final=True), file=self.out)

    def _clear(self) -> None:
        if self.tty:
            self.out.write("\r\033[K")

    @property
    def records(self) -> int:
        return sum(r.records_read for r in self.runs)

    @property
    def rate(self) -> float:
        return self.records / self.elapsed if self.elapsed > 0 else 0.0

    def _bar(self, *, final: bool = False) -> str:
        done = len(self.runs)
        if self.total_files:
            filled = round(20 * done / self.total_files)
            bar = f"[{'#' * filled}{'.' * (20 - filled)}] {done}/{self.total_files} files"
        else:
            bar = f"[{'#' * 20 if final else '~' * (done % 20)}] {done} pages"
        return f"{self.source_id:28} {bar}  {self.records:,} records  {self.rate:,.0f}/s"


def summary_table(progress: list[SourceProgress]) -> str:
    """One line per source and a total: files, read, accepted, quarantined, failed files."""
    head = (
        f"{'source':28} {'files':>6} {'read':>9} {'accepted':>9} {'quarantined':>11} "
        f"{'failed':>6} {'records/s':>9}"
    )
    lines = [head, "-" * len(head)]
    totals = [0, 0, 0, 0, 0]
    for p in progress:
        row = [
            len(p.runs),
            p.records,
            sum(r.records_accepted for r in p.runs),
            sum(r.records_quarantined for r in p.runs),
            sum(r.status == "failed" for r in p.runs),
        ]
        totals = [a + b for a, b in zip(totals, row, strict=True)]
        lines.append(_line(p.source_id, row, p.rate))
    elapsed = sum(p.elapsed for p in progress)
    lines.append("-" * len(head))
    lines.append(_line("total", totals, totals[1] / elapsed if elapsed else 0.0))
    return "\n".join(lines)


def _line(name: str, row: list[int], rate: float) -> str:
    files, read, accepted, quarantined, failed = row
    return (
        f"{name:28} {files:>6} {read:>9,} {accepted:>9,} {quarantined:>11,} {failed:>6} "
        f"{rate:>9,.0f}"
    )
