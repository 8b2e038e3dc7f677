"""Read the tables offices hand in, as they save them: any common encoding and separator.

Offices save CSV from Excel or WPS: UTF-8 with or without a byte-order mark,
GBK/GB18030 on a Chinese Windows, commas, semicolons (a European Excel) or
tabs; or they hand in the workbook itself.  :func:`read_table` reads all of
them as text columns: an Excel workbook (``.xlsx``, also as WPS saves it) is
read from its first sheet with data (openpyxl), an old binary ``.xls`` is
refused with what to do instead.  Title lines above the header (a merged
"某某社区住户统计表" row) are skipped, in a workbook and in a CSV saved from it.
"""

from __future__ import annotations

import csv
import io
import os
from pathlib import Path

import numpy as np
import pandas as pd

from gis._errors import UnreadableFileError

#: Encodings tried in turn: UTF-8 (a BOM is dropped), then GB18030 (a superset of GBK and GB2312).
ENCODINGS = ("utf-8-sig", "gb18030")
#: Separators recognised in the header line.
SEPARATORS = (",", ";", "\t", "|")

_XLSX_MAGIC = b"PK\x03\x04"  # an .xlsx is a zip of XML parts
_XLS_MAGIC = b"\xd0\xcf\x11\xe0"  # an .xls is an OLE compound file
#: Rows looked at for the header line (title lines above it are skipped).
HEADER_SEARCH_ROWS = 10


def read_table(source: str | os.PathLike[str] | bytes, *, what: str = "table") -> pd.DataFrame:
    """Read a CSV file (or its bytes) into a frame of text columns.

    Parameters
    ----------
    source
        A path, or the file's bytes (an upload).
    what
        What the table is, for error messages ("household table").

    Returns
    -------
    pandas.DataFrame
        Every column as ``str``; empty cells are NaN; header names stripped.
    """
    data, name = _bytes(source, what)
    if data.startswith(_XLS_MAGIC):
        raise UnreadableFileError(
            f"the {what} {name} is an old Excel 97-2003 workbook (.xls): save it as an Excel "
            "workbook (.xlsx) or as CSV (File > Save As > CSV UTF-8) and give that file"
        )
    if is_workbook(data):
        rows = _workbook_rows(data, what, name)
    else:
        rows = _csv_rows(_decode(data, what, name), what, name)
    return _frame(rows, what, name)


def is_workbook(data: bytes) -> bool:
    """Whether ``data`` is an Excel workbook (.xlsx: a zip archive), not CSV text."""
    return data.startswith(_XLSX_MAGIC)


def _csv_rows(text: str, what: str, name: str) -> list[list[str]]:
    """The cells of a CSV text, row by row (empty rows dropped)."""
    try:
        reader = csv.reader(io.StringIO(text), delimiter=_separator(text), skipinitialspace=True)
        return [row for row in reader if any(cell.strip() for cell in row)]
    except csv.Error as exc:
        raise UnreadableFileError(f"cannot read the {what} {name} as CSV: {exc}") from exc


def _workbook_rows(data: bytes, what: str, name: str) -> list[list[str]]:
    """The cells of the first sheet with data of an .xlsx workbook, as text."""
    import zipfile

    import openpyxl

    try:
        book = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, OSError, ValueError) as exc:
        raise UnreadableFileError(
            f"cannot read the {what} {name} as an Excel workbook ({exc}): open it in Excel or "
            "WPS and save it again as .xlsx or as CSV UTF-8"
        ) from exc
    try:
        for sheet in book.worksheets:
            rows = [
                [_cell_text(v) for v in row]
                for row in sheet.iter_rows(values_only=True)
                if any(v is not None and str(v).strip() for v in row)
            ]
            if rows:
                return rows
    finally:
        book.close()
    return []


def _cell_text(value: object) -> str:
    """A workbook cell as the text a CSV export would hold (``123``, not ``123.0``)."""
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _frame(rows: list[list[str]], what: str, name: str) -> pd.DataFrame:
    """Rows of cells as a frame of text columns, under the header line found in them."""
    if not rows:
        raise UnreadableFileError(f"the {what} {name} is empty: give a table with a header row")
    start = _header_row(rows)
    header = [str(c).strip() for c in rows[start]]
    while header and not header[-1]:
        header.pop()
    width = len(header)
    body = [(row + [""] * width)[:width] for row in rows[start + 1 :]]
    table = pd.DataFrame(body, columns=_unique(header), dtype=str)
    return table.apply(lambda col: col.str.strip()).replace("", np.nan)


def _header_row(rows: list[list[str]]) -> int:
    """The first leading row that fills more than half as many cells as the widest one.

    A title line ("某某社区住户统计表", merged over the columns) fills one cell
    above the header, which fills them all.
    """
    filled = [sum(1 for cell in row if str(cell).strip()) for row in rows[:HEADER_SEARCH_ROWS]]
    return next(i for i, n in enumerate(filled) if n > max(filled) / 2)


def _unique(header: list[str]) -> list[str]:
    """Column names as pandas reads them: ``Unnamed: 3`` for an empty one, ``a.1`` for a repeat."""
    seen: dict[str, int] = {}
    names = []
    for i, raw in enumerate(header):
        name = raw or f"Unnamed: {i}"
        if name in seen:
            seen[name] += 1
            name = f"{name}.{seen[name]}"
        else:
            seen[name] = 0
        names.append(name)
    return names


def _bytes(source: str | os.PathLike[str] | bytes, what: str) -> tuple[bytes, str]:
    if isinstance(source, bytes):
        return source, "(upload)"
    path = Path(source)
    if not path.is_file():
        raise UnreadableFileError(f"the {what} {path} does not exist")
    return path.read_bytes(), str(path)


def _decode(data: bytes, what: str, name: str) -> str:
    for encoding in ENCODINGS:
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise UnreadableFileError(
        f"the {what} {name} is neither UTF-8 nor GBK/GB18030 text: save it as CSV UTF-8"
    )


def _separator(text: str) -> str:
    """The separator of the header line: the most frequent of :data:`SEPARATORS`."""
    header = text.lstrip("\n").split("\n", 1)[0]
    counts = {sep: header.count(sep) for sep in SEPARATORS}
    best = max(SEPARATORS, key=lambda sep: counts[sep])
    return best if counts[best] else ","


def redecode_latin1(values: pd.Series) -> pd.Series:
    """Text a reader decoded as Latin-1 although it was UTF-8 or GBK, decoded right.

    A Shapefile's ``.dbf`` without a ``.cpg`` beside it is read as Latin-1;
    Chinese offices' files are GBK and newer ones UTF-8.  A value is re-decoded
    only when every value of the column re-decodes cleanly (UTF-8 first; GBK
    only when each run of non-ASCII bytes has even length, as GBK characters
    do, so that a German ``Müller`` stays as it is).

    Parameters
    ----------
    values
        A text column as read.

    Returns
    -------
    pandas.Series
        The column, re-decoded where that is unambiguous, else unchanged.
    """
    texts = [v for v in values.dropna().unique() if isinstance(v, str) and not v.isascii()]
    if not texts:
        return values
    try:
        raw = [v.encode("latin-1") for v in texts]
    except UnicodeEncodeError:  # the reader decoded other than Latin-1: leave it
        return values
    for encoding in ("utf-8", "gb18030"):
        if encoding == "gb18030" and not all(_even_high_runs(b) for b in raw):
            continue
        try:
            fixed = {v: b.decode(encoding) for v, b in zip(texts, raw, strict=True)}
        except UnicodeDecodeError:
            continue
        return values.replace(fixed)
    return values


def _even_high_runs(data: bytes) -> bool:
    run = 0
    for byte in data:
        if byte >= 0x80:
            run += 1
        elif run % 2:
            return False
        else:
            run = 0
    return run % 2 == 0
