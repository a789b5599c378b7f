"""Reports: CSV and Parquet writers, written atomically, never a partial walk as if complete."""

from __future__ import annotations

from .csv_writer import DATETIME_FORMAT, export_csv
from .parquet_writer import export_parquet

__all__ = ["DATETIME_FORMAT", "export_csv", "export_parquet"]
