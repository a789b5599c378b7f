"""Secret scan: no cassette (``cassettes/**/*.yaml``) and no notebook (``notebooks/*.ipynb``) may hold
the canary secret, an access token, or anything shaped like a secret.

Run by ``make cassettes`` right after recording, and by ``make test``. Each finding names the file
and the line. Also checked: the client secret configured in the environment or ``.env`` (when
there is one, for cassettes recorded against the real API).
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from engagifii_data import sandbox
from tests.conftest import CASSETTES, REDACTED_SECRET, REDACTED_TOKEN, ROOT

#: (what, pattern): anything matching is a finding.
PATTERNS: list[tuple[str, re.Pattern[str]]] = [
    ("the sandbox's canary client secret", re.compile(re.escape(sandbox.CLIENT_SECRET))),
    ("a CANARY marker (canary secrets and tokens carry it)", re.compile(r"CANARY")),
    ("a JWT-shaped string (access token)", re.compile(r"eyJ[A-Za-z0-9_-]{10,}\.")),
    ("a Bearer credential", re.compile(r"Bearer\s+[A-Za-z0-9._~+/=-]{16,}")),
    (
        "an unredacted client_secret form field",
        re.compile(r"client_secret=(?!" + re.escape(REDACTED_SECRET) + r"(?:[&\s'\"]|$))[^&\s'\"]*"),
    ),
    (
        "an unredacted secret or token JSON field",
        re.compile(
            r"\"(?:client_secret|access_token|refresh_token|id_token)\"\s*:\s*\"(?!"
            + re.escape(REDACTED_TOKEN)
            + r"\")[^\"]*\""
        ),
    ),
    ("a recorded Authorization or Cookie header", re.compile(r"^\s*(?:Authorization|Cookie|Set-Cookie):", re.I | re.M)),
]


def configured_secret() -> str | None:
    """The client secret from the environment or ``.env``, if any (long enough to search for)."""
    value = os.environ.get("ENGAGIFII_CLIENT_SECRET")
    if not value:
        try:
            from dotenv import dotenv_values, find_dotenv
        except ImportError:  # pragma: no cover - python-dotenv is a dependency
            return None
        path = find_dotenv(usecwd=True)
        value = dotenv_values(path).get("ENGAGIFII_CLIENT_SECRET") if path else None
    return value if value and len(value) >= 8 else None


def scan_text(text: str, extra_secrets: tuple[str, ...] = ()) -> list[tuple[int, str]]:
    """``(line number, what)`` for every finding in ``text`` (1-based lines)."""
    findings: list[tuple[int, str]] = []
    patterns = PATTERNS + [("the configured client secret", re.compile(re.escape(s))) for s in extra_secrets if s]
    for what, pattern in patterns:
        for match in pattern.finditer(text):
            findings.append((text.count("\n", 0, match.start()) + 1, what))
    return sorted(set(findings))


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
