"""What goes wrong in a flow file, located: ``FlowIssue(file, line, reason)`` and ``FlowError``.

Every problem the loader or the validator finds is one issue pointing at a line of the YAML file, so a flow
author can jump straight to it (``flows/library/discharge.yaml:42: ...``). Problems are collected, never
raised one at a time: an author sees every issue of a file at once, sorted by line.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True, order=True)
class FlowIssue:
    """One problem at ``file:line``. ``line`` is 1-based; 0 means "no source line" (a missing file, a flow
    built in code), printed as ``file: reason``."""

    file: str
    line: int
    reason: str

    def __str__(self) -> str:
        if self.line <= 0:
            return f"{self.file}: {self.reason}"
        return f"{self.file}:{self.line}: {self.reason}"


def sort_issues(issues: Iterable[FlowIssue]) -> list[FlowIssue]:
    """Issues ordered by file, then line, duplicates removed (two checks may see the same fault)."""
    return sorted(set(issues))


class FlowError(ValueError):
    """A flow file (or several) did not load. ``issues`` are the errors; ``warnings`` do not stop a load.

    ``str(error)`` is one ``file:line: reason`` per line, ready to print.
    """

    def __init__(self, issues: Iterable[FlowIssue], warnings: Iterable[FlowIssue] = ()) -> None:
        self.issues: list[FlowIssue] = sort_issues(issues)
        self.warnings: list[FlowIssue] = sort_issues(warnings)
        super().__init__("\n".join(str(i) for i in self.issues))

    def __str__(self) -> str:
        return "\n".join(str(i) for i in self.issues)


class FlowNotFound(LookupError):
    """``find_flow`` got an id that is not in the library and is not a file."""
