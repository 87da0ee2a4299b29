"""Errors and warnings about files, each with the place it was found."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class CampusError(Exception):
    """The root of every error campusctl raises on purpose."""


class Severity(StrEnum):
    ERROR = "error"
    WARNING = "warning"


@dataclass(frozen=True, slots=True)
class Position:
    """1-based line and column in a file."""

    file: str
    line: int
    col: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.col}"


@dataclass(frozen=True, slots=True)
class Problem:
    """Something wrong in a file, printed as ``FILE:LINE:COL: message``."""

    pos: Position
    message: str
    severity: Severity = Severity.ERROR

    def __str__(self) -> str:
        tag = "" if self.severity is Severity.ERROR else "warning: "
        return f"{self.pos}: {tag}{self.message}"


class ConfigError(CampusError):
    """A file could not be used; `problems` says everything that is wrong with it."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


class DriverError(CampusError):
    """A driver could not talk to its devices or server."""
