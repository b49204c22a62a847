"""CSV for spreadsheets: one line at a time (for streamed answers), text never run as a formula."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from typing import Any

# Spreadsheets run a cell that starts with one of these as a formula (a tab or a carriage
# return too: some programs strip it first).
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: Any) -> str:
    """The cell as text a spreadsheet shows and never runs: a leading quote when needed."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(_FORMULA_STARTS) else text


def csv_line(cells: Sequence[Any]) -> str:
    """One CSV line (with its line end) of safe cells."""
    buffer = io.StringIO()
    csv.writer(buffer).writerow([safe_cell(cell) for cell in cells])
    return buffer.getvalue()
