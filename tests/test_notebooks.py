"""The notebooks run top to bottom in a headless kernel (nbclient), against the sandbox.

Each runs in a temporary working directory (reports and checkpoints land there, not in the repo),
with every ``ENGAGIFII_*`` variable removed from the kernel's environment so the notebooks fall
back to the sandbox. A first cell, added to the in-memory copy only, checks that the kernel runs
this virtual environment's Python.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
pytest.importorskip("ipykernel")

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"
EXPLORE = NOTEBOOKS / "explore_events.ipynb"
REPORT = NOTEBOOKS / "report_all_tenants.ipynb"


def kernel_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ENGAGIFII_")}
    env["MPLBACKEND"] = "module://matplotlib_inline.backend_inline"
    env["PYDEVD_DISABLE_FILE_VALIDATION"] = "1"
    return env


@pytest.fixture(autouse=True)
def _prefer_env_kernelspecs(monkeypatch: pytest.MonkeyPatch) -> None:
    # the venv's python3 kernelspec wins over one in the user's ~/.local/share/jupyter
    monkeypatch.setenv("JUPYTER_PREFER_ENV_PATH", "1")


def execute(
    path: Path,
    cwd: Path,
    *,
    parameters: dict[str, Any] | None = None,
    extra_env: dict[str, str] | None = None,
    then: str | None = None,
) -> Any:
    nb = nbformat.read(path, as_version=4)
    if then is not None:  # a cell run after the notebook's own, as a user would after Run All
        nb.cells.append(nbformat.v4.new_code_cell(then))
    check = nbformat.v4.new_code_cell(
        f"import sys, os\nassert os.path.realpath(sys.executable) == {os.path.realpath(sys.executable)!r}, "
        "sys.executable"
    )
    nb.cells.insert(0, check)
    if parameters is not None:  # what papermill does: a cell of overrides right after `parameters`
        index = next(i for i, c in enumerate(nb.cells) if "parameters" in c.metadata.get("tags", []))
        source = "\n".join(f"{name} = {value!r}" for name, value in parameters.items())
        injected = nbformat.v4.new_code_cell(source, metadata={"tags": ["injected-parameters"]})
        nb.cells.insert(index + 1, injected)
    client = nbclient.NotebookClient(nb, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(cwd)}})
    client.execute(env={**kernel_env(), **(extra_env or {})})
    return nb


def text_of(nb: Any) -> str:
    parts = []
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            if out.get("output_type") == "stream":
                parts.append(out["text"])
            elif "text/plain" in out.get("data", {}):
                parts.append(out["data"]["text/plain"])
    return "\n".join(parts)


@pytest.mark.parametrize("path", [EXPLORE, REPORT], ids=lambda p: p.name)
def test_committed_without_outputs_or_secrets(path: Path) -> None:
    raw = path.read_text(encoding="utf-8")
    nb = nbformat.reads(raw, as_version=4)
    nbformat.validate(nb)
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [], cell.source[:60]
            assert cell.execution_count is None
        assert set(cell.metadata) <= {"tags"}
    assert set(nb.metadata) <= {"kernelspec", "language_info"}
    assert nb.metadata["kernelspec"]["name"] == "python3"
    for secret in ("CANARY", "client_secret=", "Bearer ey"):
        assert secret not in raw
    assert "application/vnd.jupyter.widget-state+json" not in raw


def test_report_notebook_has_a_parameters_cell() -> None:
    nb = nbformat.read(REPORT, as_version=4)
    tagged = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
    assert len(tagged) == 1
    for name in ("tenants", "output", "only_upcoming"):
        assert f"{name} = " in tagged[0].source


AFTER_RUN_ALL = """
explorer.tenant.value = "GLOBEX"
explorer.fetch_button.click()
explorer.wait(60)
print("AFTER RUN ALL:", explorer.message_text)
"""


def test_explore_notebook_runs_headless_against_the_sandbox(tmp_path: Path) -> None:
    nb = execute(EXPLORE, tmp_path, then=AFTER_RUN_ALL)
    text = text_of(nb)
    assert "SANDBOX" in text
    assert "2,400 of 2,400 events fetched" in text
    # the notebook leaves the sandbox and the session running: the explorer still fetches after Run All
    assert "AFTER RUN ALL: ✔ GLOBEX: 36 of 36 events fetched" in text
    assert "sandbox stopped" not in text and "Error" not in text
    report = tmp_path / "reports" / "events-ACME.csv"
    assert report.read_bytes().startswith(b"\xef\xbb\xbf")
    assert len(pd.read_csv(report, encoding="utf-8-sig", dtype=str)) == 2400
    assert (tmp_path / "reports" / "upcoming-capacity.csv").exists()
    images = [o for c in nb.cells for o in c.get("outputs", []) if "image/png" in o.get("data", {})]
    assert len(images) >= 2  # the monthly chart and the capacity/price histograms
    assert not list(tmp_path.rglob("*.jsonl"))  # the completed walk removed its checkpoint
    # the widget updates made in the walk's thread reached the kernel's comms (nbclient keeps their state)
    states = [m["state"] for m in nb.metadata["widgets"]["application/vnd.jupyter.widget-state+json"]["state"].values()]
    bars = [s for s in states if s.get("_model_name") == "IntProgressModel"]
    assert [(b["max"], b["value"], b["bar_style"]) for b in bars] == [(36, 36, "success")]
    outputs = [s for s in states if s.get("_model_name") == "OutputModel"]
    assert len(outputs) == 1
    preview, chart = (o["data"]["text/html"] for o in outputs[0]["outputs"])
    assert "<table" in preview and "Start (UTC)" in preview and "data:image/png;base64," in chart


def test_report_notebook_runs_with_injected_parameters(tmp_path: Path) -> None:
    nb = execute(REPORT, tmp_path, parameters={"tenants": "GLOBEX,INITECH", "output": "out/report.csv"})
    text = text_of(nb)
    assert "36 events from 2 tenants" in text
    report = pd.read_csv(tmp_path / "out" / "report.csv", encoding="utf-8-sig", dtype=str)
    assert len(report) == 36 and set(report["tenant"]) == {"GLOBEX"}
    assert list(report.columns[:2]) == ["tenant", "id"]
    summary = pd.read_csv(tmp_path / "out" / "report-summary.csv", encoding="utf-8-sig")
    assert summary.set_index("tenant")["total_count"].to_dict() == {"GLOBEX": 36, "INITECH": 0}
    assert json.dumps(summary["complete"].tolist()) == "[true, true]"


def test_a_wrong_configuration_fails_instead_of_falling_back_to_the_sandbox(tmp_path: Path) -> None:
    wrong = {
        "ENGAGIFII_CLIENT_ID": "real-client",
        "ENGAGIFII_CLIENT_SECRET": "real-secret-CANARY",
        "ENGAGIFII_TENANT_CODE": "REAL",
        "ENGAGIFII_API_BASE_URL": "http://engagifii-prod-event.azurewebsites.net",
    }
    with pytest.raises(nbclient.exceptions.CellExecutionError) as info:
        execute(REPORT, tmp_path, extra_env=wrong)
    assert "ConfigurationError" in str(info.value)
    assert "real-secret-CANARY" not in str(info.value)
    assert not (tmp_path / "reports").exists()


@pytest.fixture
def papermill(monkeypatch: pytest.MonkeyPatch) -> Any:
    """papermill, with the kernel's environment of :func:`kernel_env` (no ENGAGIFII_* variables)."""
    module = pytest.importorskip("papermill")
    for name in [k for k in os.environ if k.startswith("ENGAGIFII_")]:
        monkeypatch.delenv(name)
    for name, value in kernel_env().items():
        monkeypatch.setenv(name, value)
    return module


def test_report_notebook_runs_under_papermill_with_parameters(tmp_path: Path, papermill: Any) -> None:
    """What a scheduled run does: papermill injects the parameters after the tagged cell."""
    out = tmp_path / "run.ipynb"
    papermill.execute_notebook(
        str(REPORT),
        str(out),
        parameters={"tenants": "GLOBEX", "output": "nightly/report.csv", "status": "Published,Completed"},
        cwd=str(tmp_path),
        kernel_name="python3",
        progress_bar=False,
    )
    nb = nbformat.read(out, as_version=4)
    assert any("injected-parameters" in c.metadata.get("tags", []) for c in nb.cells)
    report = pd.read_csv(tmp_path / "nightly" / "report.csv", encoding="utf-8-sig", dtype=str)
    assert set(report["eventStatus"]) == {"Published", "Completed"} and set(report["tenant"]) == {"GLOBEX"}
    summary = pd.read_csv(tmp_path / "nightly" / "report-summary.csv", encoding="utf-8-sig")
    assert summary["tenant"].tolist() == ["GLOBEX"] and summary["rows"].tolist() == [len(report)]
    assert f"{len(report):,} events from 1 tenant (GLOBEX)" in text_of(nb)


def test_report_notebook_fails_on_an_unknown_tenant_with_the_command_lines_message(
    tmp_path: Path, papermill: Any
) -> None:
    with pytest.raises(papermill.PapermillExecutionError) as info:
        papermill.execute_notebook(
            str(REPORT),
            str(tmp_path / "run.ipynb"),
            parameters={"tenants": "GLOBEX,NOPE", "output": "out/report.csv"},
            cwd=str(tmp_path),
            kernel_name="python3",
            progress_bar=False,
        )
    error = info.value
    assert error.ename == "SystemExit"
    lines = error.evalue.splitlines()
    assert lines[0].startswith("error: unknown tenant: HTTP 404 TENANT_NOT_FOUND") and "'NOPE'" in lines[0]
    assert lines[1] == "check the tenant code (ENGAGIFII_TENANT_CODE or the tenants parameter)"
    shown = json.dumps(nbformat.read(tmp_path / "run.ipynb", as_version=4)["cells"])
    assert "tenacity" not in shown and "Traceback" not in shown
    assert not (tmp_path / "out").exists()
