"""Secret scan: no cassette (``cassettes/**/*.yaml``) and no notebook (``notebooks/*.ipynb``) may hold
the canary secret, an access token, or anything shaped like a secret.

Run by ``make cassettes`` right after recording, and by ``make test``. Each finding names the file
and the line. Also checked: the client secret configured in the environment or ``.env`` (when
there is one, for cassettes recorded against the real API).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from engagifii_data import sandbox
from tests.helpers import CASSETTES, REDACTED_SECRET, REDACTED_TOKEN, ROOT, configured_secret, scan_text


def scanned_files() -> list[Path]:
    files = sorted(CASSETTES.rglob("*.yaml")) + sorted((ROOT / "notebooks").glob("*.ipynb"))
    return files


FILES = scanned_files()


@pytest.mark.parametrize("path", FILES, ids=[str(p.relative_to(ROOT)) for p in FILES])
def test_no_secrets_in(path: Path) -> None:
    secret = configured_secret()
    findings = scan_text(path.read_text(encoding="utf-8"), (secret,) if secret else ())
    assert not findings, "\n".join(f"{path.relative_to(ROOT)}:{line}: {what}" for line, what in findings)


def test_there_are_cassettes_to_scan() -> None:
    assert any(p.suffix == ".yaml" for p in FILES), "no cassettes found: run `make cassettes`"


@pytest.mark.parametrize(
    "leak",
    [
        sandbox.CLIENT_SECRET,
        "not-the-secret-CANARY-9f8e7d",
        # planted leaks are assembled from pieces so that repository-wide secret scans of the
        # test sources themselves do not flag them
        "eyJ" + "hbGciOiJSUzI1NiIsImtpZCI6IjEifQ.eyJzdWIiOiJ4In0.c2ln",
        "Authorization: Bear" + "er abcdefghijklmnopqrstuvwxyz012345",
        "body: grant_type=client_credentials&client_secret" + "=s3cr3t-value",
        "body: client_secret" + "=REDACTED",
        '"access_token": "abc.def.ghi"',
        '"client_secret":"hunter2hunter2"',
        "    Cookie:\n    - session=1",
        "    Set-Cookie:\n    - ARRAffinity=abc",
    ],
)
def test_the_scan_finds_each_kind_of_leak(leak: str) -> None:
    text = f"interactions:\n- request:\n    {leak}\n"
    assert scan_text(text), leak
    assert scan_text(text)[0][0] >= 3  # names the line


def test_the_scan_accepts_scrubbed_values_and_finds_extra_secrets() -> None:
    clean = (
        "body: grant_type=client_credentials&client_id=sandbox-client&client_secret=" + REDACTED_SECRET + "\n"
        f'  "access_token": "{REDACTED_TOKEN}",\n  "token_type": "Bearer",\n'
    )
    assert scan_text(clean) == []
    assert scan_text(clean + "x my-real-secret-value\n", ("my-real-secret-value",)) == [
        (4, "the configured client secret")
    ]
