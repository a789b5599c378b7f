"""The ``engagifii-data sandbox`` command: every fault switch of the Python API, errors naming options."""

from __future__ import annotations

import dataclasses
import io
import os
import signal
import subprocess
import sys
import time
from typing import Any

import pytest
import requests

from engagifii_data.cli import build_parser, main
from engagifii_data.sandbox import Faults
from engagifii_data.sandbox.command import FAULT_HELP, fault_option, fault_values
from tests.helpers import LIST, get_token, headers


def test_every_fault_field_has_an_option_with_help(capsys: pytest.CaptureFixture[str]) -> None:
    names = {f.name for f in dataclasses.fields(Faults)}
    assert set(FAULT_HELP) == names
    assert main(["sandbox", "--help"]) == 0
    text = capsys.readouterr().out
    for name in names:
        assert fault_option(name) in text


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["--latency", "0.25"], {"latency": 0.25}),
        (["--rate-limit-every", "5", "--retry-after", "2"], {"rate_limit_every": 5, "retry_after": "2"}),
        (["--page-faults", "2=drop, 7=html503"], {"page_faults": {2: "drop", 7: "html503"}}),
        (["--detail-faults", "*=truncate"], {"detail_faults": {"*": "truncate"}}),
        (["--detail-faults", "AB-12=drop"], {"detail_faults": {"ab-12": "drop"}}),  # ids in any case
        (["--fail-from-page", "3", "--max-page-size", "50"], {"fail_from_page": 3, "max_page_size": 50}),
        (["--ignore-page-number", "--reject-tokens"], {"ignore_page_number": True, "reject_tokens": True}),
        (
            ["--insert-after-first-page", "4", "--delete-after-listing", "2"],
            {"insert_after_first_page": 4, "delete_after_listing": 2},
        ),
        (["--envelope", "docs", "--token-lifetime", "60"], {"envelope": "docs", "token_lifetime": 60}),
        ([], {}),
    ],
)
def test_options_become_faults(argv: list[str], expected: dict[str, Any]) -> None:
    args = build_parser().parse_args(["sandbox", *argv])
    values = fault_values(args)
    assert values == expected
    Faults(**values)  # every value is one the sandbox accepts


@pytest.mark.parametrize(
    ("argv", "named"),
    [
        (["--page-faults", "2=boom"], "--page-faults"),
        (["--page-faults", "two=drop"], "--page-faults"),
        (["--page-faults", "2"], "--page-faults"),
        (["--envelope", "xml"], "--envelope"),
        (["--latency", "-1"], "--latency"),
        (["--max-page-size", "0"], "--max-page-size: must be at least 1, got 0"),
        (["--latency", "nan"], "--latency: must be at least 0 seconds, got nan"),
        (["--fail-from-page", "0"], "--fail-from-page: must be at least 1"),
        (["--page-faults", "0=drop"], "--page-faults: keys are page numbers from 1, got 0"),
        (["--token-lifetime", "0", "--rate-limit-every", "-1"], "--token-lifetime: must be at least 1 seconds"),
        (["--token-lifetime", "0", "--rate-limit-every", "-1"], "--rate-limit-every: must be at least 0, got -1"),
    ],
)
def test_errors_name_the_commands_own_options(argv: list[str], named: str) -> None:
    out, err = io.StringIO(), io.StringIO()
    assert main(["sandbox", "--port", "0", *argv], out=out, err=err) == 2
    assert named in err.getvalue(), err.getvalue()
    assert "page_faults" not in err.getvalue() and "Traceback" not in err.getvalue()


def test_problems_are_reported_in_the_order_a_user_fixes_them(monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib.util
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = str(taken.getsockname()[1])
        # a bad option before a taken port
        err = io.StringIO()
        assert main(["sandbox", "--port", port, "--latency", "-1"], out=io.StringIO(), err=err) == 2
        assert "--latency" in err.getvalue() and "choose another --port" not in err.getvalue()
        # a taken port alone
        err = io.StringIO()
        assert main(["sandbox", "--port", port], out=io.StringIO(), err=err) == 2
        assert f"cannot serve on 127.0.0.1:{port}" in err.getvalue()
        # a lean install before anything else: the install command is the first thing to fix
        real = importlib.util.find_spec
        monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "flask" else real(name, *a))
        err = io.StringIO()
        assert main(["sandbox", "--port", port, "--latency", "-1"], out=io.StringIO(), err=err) == 2
        assert "pip install 'engagifii-data[sandbox]'" in err.getvalue(), err.getvalue()
        assert "--latency" not in err.getvalue() and "choose another" not in err.getvalue()


def test_the_command_serves_with_its_faults_until_ctrl_c() -> None:
    command = [
        sys.executable,
        "-m",
        "engagifii_data.cli",
        "sandbox",
        "--port",
        "0",
        "--page-faults",
        "2=html503",
        "--rate-limit-every",
        "1000",
    ]
    env = {k: v for k, v in os.environ.items() if not k.startswith("ENGAGIFII_")}
    with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env) as proc:
        try:
            url = ""
            printed: list[str] = []
            deadline = time.monotonic() + 30
            assert proc.stdout is not None
            while time.monotonic() < deadline and "Serving until Ctrl-C." not in printed:
                printed.append(proc.stdout.readline().strip())
                if printed[-1].startswith("ENGAGIFII_API_BASE_URL="):
                    url = printed[-1].split("=", 1)[1]
            assert url, "the sandbox did not print its URL"

            class Running:
                identity_url = api_url = url
                client_id = "sandbox-client"
                client_secret = "sandbox-secret-CANARY-1234"

            token = get_token(Running())
            body = {"pageNumber": 2, "pageSize": 10}
            first = requests.post(url + LIST, headers=headers(token), json=body, timeout=10)
            again = requests.post(url + LIST, headers=headers(token), json=body, timeout=10)
            assert (first.status_code, again.status_code) == (503, 200)
        finally:
            proc.send_signal(signal.SIGINT)
            out, err = proc.communicate(timeout=20)
        assert proc.returncode == 0, err
        assert "stopped" in out
        assert "faults: --rate-limit-every 1000, --page-faults 2=html503" in printed
