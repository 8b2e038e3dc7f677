"""Read the tables offices hand in, as they save them: any common encoding and separator.

Offices save CSV from Excel or WPS: UTF-8 with or without a byte-order mark,
GBK/GB18030 on a Chinese Windows, commas, semicolons (a European Excel) or
tabs.  :func:`read_table` reads all of them as text columns; a workbook
(``.xlsx``/``.xls``) is refused with what to do instead.
"""

from __future__ import annotations

import csv
import io
import os
from pathlib import Path

import pandas as pd

from gis._errors import UnreadableFileError

#: Encodings tried in turn: UTF-8 (a BOM is dropped), then GB18030 (a superset of GBK and GB2312).
ENCODINGS = ("utf-8-sig", "gb18030")
#: Separators recognised in the header line.
SEPARATORS = (",", ";", "\t", "|")

_WORKBOOK_MAGIC = (b"PK\x03\x04", b"\xd0\xcf\x11\xe0")  # .xlsx (zip), .xls (OLE)


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
    if data.startswith(_WORKBOOK_MAGIC):
        raise UnreadableFileError(
            f"the {what} {name} is an Excel workbook, not a CSV file: "
            "save it as CSV (File > Save As > CSV UTF-8) and give that file"
        )
    text = _decode(data, what, name)
    if not text.strip():
        raise UnreadableFileError(f"the {what} {name} is empty: give a CSV file with a header row")
    try:
        table = pd.read_csv(
            io.StringIO(text),
            sep=_separator(text),
            dtype=str,
            keep_default_na=False,
            na_values=[""],
            skipinitialspace=True,
        )
    except (pd.errors.ParserError, pd.errors.EmptyDataError, csv.Error) as exc:
        raise UnreadableFileError(f"cannot read the {what} {name} as CSV: {exc}") from exc
    table.columns = [str(c).strip() for c in table.columns]
    return table


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
