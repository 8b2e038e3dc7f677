"""Finding text left untranslated on the page or in the report."""

from __future__ import annotations

import json
import re
from pathlib import Path

#: Text allowed in any language: names of formats and products, units, keys, symbols.
UNTRANSLATED = [
    r"GeoJSON",
    r"GeoPackage",
    r"CSV",
    r"OpenStreetMap",
    r"Leaflet",
    r"Polsby-Popper",
    r"gridplan",
    r"\bk=",
    r"\bv\d+\b",
    r"\bCtrl\+(Shift\+)?Z\b",
    r"\bAlt\+",
    r"\bm/s\b",
    r"\bk?m\b",
    r"English",
    r"WGS 84",
    r"CGCS2000",
    r"GCJ-02",
    r"GPS",
    r"中文",
    r"plan\.csv",
]


def data_strings(folder: Path) -> list[str]:
    """Names that come from the data (area, communities, services, sub-districts), as they are."""
    meta = json.loads((folder / "build.json").read_text("utf-8"))
    names = [meta["name"]]
    for layer in ("communities", "pois", "subdistricts"):
        path = folder / f"{layer}.geojson"
        if path.exists():
            for f in json.loads(path.read_text("utf-8"))["features"]:
                names.append(str(f["properties"].get("name", "")))
    return sorted((n for n in names if n), key=len, reverse=True)


def untranslated(text: str, data: list[str], language: str) -> list[str]:
    """Words of the other language in ``text``, once data names and allowed tokens are gone."""
    for name in data:
        text = text.replace(name, " ")
    for pattern in UNTRANSLATED:
        text = re.sub(pattern, " ", text)
    if language == "zh":  # no English words (single letters are labels: the A/B columns)
        return sorted(set(re.findall(r"[A-Za-z]{2,}", text)))
    return sorted(set(re.findall(r"[\u3000-\u303f\u4e00-\u9fff\uff00-\uffef]+", text)))
