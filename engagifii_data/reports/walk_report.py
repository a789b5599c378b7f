"""The record of a walk as reports see it: complete or not, and what is missing."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import pandas as pd


def refuse_incomplete(df: pd.DataFrame, allow_incomplete: bool) -> None:
    meta = df.attrs.get("engagifii")
    if allow_incomplete or not isinstance(meta, Mapping) or meta.get("complete") is not False:
        return
    missing = meta.get("missing_pages") or []
    detail = f"; pages not fetched: {page_ranges(missing)}" if missing else ""
    raise ValueError(
        f"refusing to write a partial result ({len(df):,} rows of a total of {meta.get('total_count')}"
        f"{detail}) as if it were complete; finish or resume the walk, or pass allow_incomplete=True"
    )


def page_ranges(pages: Sequence[int]) -> str:
    out: list[str] = []
    for page in sorted(pages):
        if out and "-" not in out[-1] and int(out[-1]) == page - 1:
            out[-1] = f"{out[-1]}-{page}"
        elif out and "-" in out[-1] and int(out[-1].split("-")[1]) == page - 1:
            out[-1] = f"{out[-1].split('-')[0]}-{page}"
        else:
            out.append(str(page))
    return ", ".join(out)
