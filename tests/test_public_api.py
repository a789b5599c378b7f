"""The public names are pinned: scripts and notebooks depend on them."""

from __future__ import annotations

import subprocess
import sys

import engagifii_data


def test_all_is_pinned() -> None:
    assert sorted(engagifii_data.__all__) == sorted(
        [
            "EVENT_COLUMNS",
            "ApiError",
            "AuthenticationError",
            "BadRequestError",
            "ConfigurationError",
            "ConflictError",
            "EventQuery",
            "ForbiddenError",
            "QueryError",
            "ReportError",
            "ReportNotWritable",
            "UnprocessableError",
            "WalkReport",
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
            "export_excel",
            "export_parquet",
            "read_report",
            "sandbox",
            "sessions",
            "contacts",
        ]
    )
    for name in engagifii_data.__all__:
        assert hasattr(engagifii_data, name), name


def test_import_stays_light() -> None:
    code = (
        "import sys, engagifii_data; "
        "heavy = [m for m in ('ipywidgets', 'IPython', 'jupyter_client', 'flask', 'werkzeug', 'faker', "
        "'matplotlib') if m in sys.modules]; print(','.join(heavy))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == ""


def test_exceptions_subclass_the_builtins_they_resemble() -> None:
    from engagifii_data import exceptions as ex

    assert issubclass(ex.ConfigurationError, ValueError)
    assert issubclass(ex.NotFoundError, LookupError)
    assert issubclass(ex.TenantNotFoundError, LookupError)
    assert issubclass(ex.TransportError, ConnectionError)
    assert issubclass(ex.IncompleteWalkError, ex.PaginationError)
    assert ex.error_class_for(503) is ex.ServerError
    assert ex.error_class_for(429) is ex.RateLimitError
