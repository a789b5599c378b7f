"""engagifii-data: walk every page of the Engagifii Events API into pandas DataFrames.

(Public names are filled in as the modules land; see ``__all__``.)
"""

from __future__ import annotations

from . import sandbox
from .config import Settings
from .exceptions import (
    ApiError,
    AuthenticationError,
    ConfigurationError,
    EngagifiiError,
    IncompleteWalkError,
    PaginationError,
    RateLimitError,
    TransportError,
)

__version__ = "0.1.0"

__all__ = [
    "ApiError",
    "AuthenticationError",
    "ConfigurationError",
    "EngagifiiError",
    "IncompleteWalkError",
    "PaginationError",
    "RateLimitError",
    "Settings",
    "TransportError",
    "__version__",
    "sandbox",
]
