"""Status codes returned by compiled solvers, and the error type of the Python wrappers.

Compiled and vmapped code never raises: it returns an ``int32`` status per problem (or per
restart). The Python wrappers (``fit``, ``optimize``) turn a bad status into a warning or
an error.
"""

from __future__ import annotations

import enum


class Status(enum.IntEnum):
    """Outcome of a solver run, stored as an ``int32`` array inside compiled code."""

    SUCCESS = 0  # stopping test met
    MAX_STEPS = 1  # step cap reached before the stopping test
    NONFINITE = 2  # the objective or the iterate became NaN/inf
    STUCK = 3  # no damped step lowered the objective, far from the stopping test

    @classmethod
    def describe(cls, code: int) -> str:
        return {
            cls.SUCCESS: "converged",
            cls.MAX_STEPS: "stopped at the step cap before converging",
            cls.NONFINITE: "objective became non-finite",
            cls.STUCK: "stopped: no step lowers the objective, yet it had not converged",
        }[cls(int(code))]


class InputError(ValueError):
    """Invalid user input: a file, a flag or an argument. ``str(err)`` is one line.

    Attributes:
      path: the file the error is in, or None.
      row: 1-based line of a CSV file (header is line 1), or a record number of a JSON list.
      column: the column name or JSON key path, or None.
    """

    def __init__(self, message: str, path=None, row=None, column=None):
        self.path, self.row, self.column, self.message = path, row, column, message
        where = ""
        if path is not None:
            where = str(path)
            if row is not None:
                where += f":{row}"
            where += ": "
        if column is not None:
            where += f"column {column!r}: "
        super().__init__(where + message)
