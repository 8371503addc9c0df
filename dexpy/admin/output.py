"""How admin commands print: an aligned table (default) or JSON (`-o json`)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any, TextIO


def _cell(value: Any) -> str:
    if isinstance(value, list):
        return ",".join(str(v) for v in value) or "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value) if value not in ("", None) else "-"


def table(rows: Sequence[dict[str, Any]], columns: Sequence[str], out: TextIO) -> None:
    cells = [[c.upper() for c in columns]] + [[_cell(row.get(c)) for c in columns] for row in rows]
    widths = [max(len(line[i]) for line in cells) for i in range(len(columns))]
    for line in cells:
        out.write("  ".join(cell.ljust(width) for cell, width in zip(line, widths)).rstrip() + "\n")


def emit(rows: Sequence[dict[str, Any]], columns: Sequence[str], fmt: str, out: TextIO, *, single: bool = False) -> None:
    """Print `rows` as a table of `columns`, or every field as JSON (one object when `single`)."""
    if fmt == "json":
        out.write(json.dumps(rows[0] if single else list(rows), indent=2) + "\n")
    else:
        table(rows, columns, out)
