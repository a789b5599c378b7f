"""The public names are pinned: scripts and notebooks depend on them."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

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


def test_the_base_install_needs_no_web_stack_widgets_or_excel() -> None:
    import tomllib

    from tests.helpers import ROOT

    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    base = {re.split(r"[<>=\[ ]", d, maxsplit=1)[0].lower() for d in project["dependencies"]}
    heavy = {"flask", "werkzeug", "faker", "joserfc", "authlib", "ipywidgets", "ipython", "matplotlib", "jupyterlab"}
    assert not base & heavy, base & heavy
    extras = project["optional-dependencies"]
    assert {"sandbox", "widgets", "excel", "lab", "dev"} <= set(extras)
    assert any(d.startswith("engagifii-data[sandbox,widgets,excel]") for d in extras["dev"])


@pytest.mark.parametrize(
    ("code", "absent"),
    [
        ("import engagifii_data", ("pandas", "oauthlib", "authlib", "flask", "ipywidgets", "IPython")),
        (
            "from engagifii_data.cli import main\ntry:\n    main(['--help'])\nexcept SystemExit:\n    pass",
            ("pandas", "pyarrow", "oauthlib", "flask"),
        ),
        ("from engagifii_data.cli import main; main(['--version'])", ("pandas", "oauthlib")),
    ],
    ids=["import", "help", "version"],
)
def test_starting_is_light(code: str, absent: tuple[str, ...]) -> None:
    probe = "import sys, io, contextlib\nwith contextlib.redirect_stdout(io.StringIO()):\n" + "".join(
        f"    {line}\n" for line in code.splitlines()
    )
    probe += f"print(','.join(m for m in {absent!r} if m in sys.modules))"
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=False)
    assert result.stdout.strip() == "", (result.stdout, result.stderr)


def test_without_the_sandbox_extra_the_cli_names_the_install(monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib.util
    import io

    from engagifii_data.cli import main

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "flask" else real(name, *a))
    out, err = io.StringIO(), io.StringIO()
    assert main(["events", "--sandbox", "-o", "x.csv"], out=out, err=err) == 2
    assert "pip install 'engagifii-data[sandbox]'" in err.getvalue()
    assert "Traceback" not in err.getvalue() and "unexpected" not in err.getvalue()
