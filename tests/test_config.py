"""Settings: validation, secret hiding, environment and .env search order."""

from __future__ import annotations

from pathlib import Path

import pytest

from engagifii_data.config import Settings
from engagifii_data.exceptions import ConfigurationError

SECRET = "s3cr3t-CANARY-value"


def make(**kw: object) -> Settings:
    base: dict[str, object] = {
        "client_id": "cid",
        "client_secret": SECRET,
        "tenant_codes": "T1, T2",
        "identity_url": "https://id.example.test/",
        "api_base_url": "https://api.example.test",
    }
    base.update(kw)
    return Settings(**base)  # type: ignore[arg-type]


def test_secret_is_hidden_from_repr_and_str() -> None:
    s = make()
    assert SECRET not in repr(s)
    assert SECRET not in str(s)
    assert s.tenant_codes == ("T1", "T2")
    assert s.tenant_code == "T1"
    assert s.identity_url == "https://id.example.test"
    assert s.token_url == "https://id.example.test/connect/token"


@pytest.mark.parametrize("url", ["http://api.example.test", "http://10.0.0.5:8080", "ftp://x"])
def test_plain_http_is_refused_for_remote_hosts(url: str) -> None:
    with pytest.raises(ConfigurationError):
        make(api_base_url=url)


@pytest.mark.parametrize("url", ["http://127.0.0.1:8765", "http://localhost:1", "http://[::1]:9"])
def test_plain_http_is_allowed_for_loopback(url: str) -> None:
    assert make(identity_url=url).identity_url == url


def test_frozen() -> None:
    s = make()
    with pytest.raises(AttributeError):
        s.client_id = "x"  # type: ignore[misc]


def test_from_env_environment_wins_over_dotenv(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text(
        "ENGAGIFII_CLIENT_ID=from-file\nENGAGIFII_CLIENT_SECRET=file-secret\nENGAGIFII_TENANT_CODE=A,B\n"
        "ENGAGIFII_API_BASE_URL=https://file.example.test\n",
        encoding="utf-8",
    )
    s = Settings.from_env(env_file, environ={"ENGAGIFII_CLIENT_ID": "from-env"})
    assert s.client_id == "from-env"
    assert s.client_secret == "file-secret"
    assert s.tenant_codes == ("A", "B")
    assert s.api_base_url == "https://file.example.test"
    assert s.api_version == "1.0"
    assert s.scope == "EventsApi"


def test_from_env_search_order(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    named = tmp_path / "named.env"
    named.write_text("ENGAGIFII_CLIENT_ID=named\nENGAGIFII_CLIENT_SECRET=x\nENGAGIFII_TENANT_CODE=N\n")
    cwd = tmp_path / "work"
    cwd.mkdir()
    (cwd / ".env").write_text("ENGAGIFII_CLIENT_ID=cwd\nENGAGIFII_CLIENT_SECRET=y\nENGAGIFII_TENANT_CODE=C\n")
    monkeypatch.chdir(cwd)
    assert Settings.from_env(environ={}).client_id == "cwd"
    assert Settings.from_env(environ={"ENGAGIFII_ENV_FILE": str(named)}).client_id == "named"
    explicit = tmp_path / "explicit.env"
    explicit.write_text("ENGAGIFII_CLIENT_ID=explicit\nENGAGIFII_CLIENT_SECRET=z\nENGAGIFII_TENANT_CODE=E\n")
    assert Settings.from_env(explicit, environ={"ENGAGIFII_ENV_FILE": str(named)}).client_id == "explicit"


def test_from_env_missing_values_are_named_without_secrets(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigurationError) as info:
        Settings.from_env(environ={"ENGAGIFII_CLIENT_SECRET": SECRET})
    text = str(info.value)
    assert "ENGAGIFII_CLIENT_ID" in text and "ENGAGIFII_TENANT_CODE" in text
    assert "ENGAGIFII_CLIENT_SECRET" not in text
    assert SECRET not in text


def test_from_env_named_file_must_exist(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="not found"):
        Settings.from_env(tmp_path / "nope.env", environ={})


@pytest.mark.parametrize("code", ["T 1", "T1\r\nX-Injected: 1", "Tënant", ""])
def test_tenant_codes_must_be_header_safe(code: str) -> None:
    with pytest.raises(ConfigurationError):
        make(tenant_codes=(code,) if code else ("",))


def test_dotenv_values_are_literal(tmp_path: Path) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text(
        "ENGAGIFII_CLIENT_ID=c\nENGAGIFII_CLIENT_SECRET=xY9#mK2$pL8@nQ5${HOME}\nENGAGIFII_TENANT_CODE=T\n",
        encoding="utf-8",
    )
    assert Settings.from_env(env_file, environ={"HOME": "/root"}).client_secret == "xY9#mK2$pL8@nQ5${HOME}"


def test_pasted_endpoint_paths_are_reduced_to_the_base() -> None:
    s = make(identity_url="https://id.example.test/connect/token", api_base_url="https://api.example.test/api/1.0/")
    assert s.identity_url == "https://id.example.test"
    assert s.token_url == "https://id.example.test/connect/token"
    assert s.api_base_url == "https://api.example.test"
