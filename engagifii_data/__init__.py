"""engagifii-data: walk every page of the Engagifii Events API into pandas DataFrames.

Quick use::

    from engagifii_data import EngagifiiClient, export_csv, sandbox

    client = EngagifiiClient.from_env()          # ENGAGIFII_* variables, then .env
    df = client.events("T1")                     # every page, typed columns, df.attrs["engagifii"]
    export_csv(df, "events.csv")                 # atomic, UTF-8 with BOM, formula-safe

    with sandbox.run() as sb:                    # local identity server + Events API
        df = EngagifiiClient(sb.settings()).events()

Importing this package never imports ipywidgets, Jupyter or the sandbox's web stack.
"""

from __future__ import annotations

from . import sandbox
from .client import EngagifiiClient, WalkProgress
from .config import Settings, credentials_configured
from .exceptions import (
    ApiError,
    AuthenticationError,
    ConfigurationError,
    EngagifiiError,
    IncompleteWalkError,
    NotFoundError,
    PaginationError,
    RateLimitError,
    ServerError,
    TenantNotFoundError,
    TransportError,
)
from .frames import EVENT_COLUMNS, events_frame
from .pagination import Page
from .reports import export_csv, export_parquet

__version__ = "0.1.0"

__all__ = [
    "EVENT_COLUMNS",
    "ApiError",
    "AuthenticationError",
    "ConfigurationError",
    "EngagifiiClient",
    "EngagifiiError",
    "IncompleteWalkError",
    "NotFoundError",
    "Page",
    "PaginationError",
    "RateLimitError",
    "ServerError",
    "Settings",
    "TenantNotFoundError",
    "TransportError",
    "WalkProgress",
    "__version__",
    "credentials_configured",
    "events_frame",
    "export_csv",
    "export_parquet",
    "sandbox",
]
