""".env files: found in search order, read only when safe to trust, decoded by their BOM or as UTF-8."""

from __future__ import annotations

import codecs
import io
import os
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..exceptions import ConfigurationError, caller_stacklevel
from ..ownership import untrusted_reason

ENV_PREFIX = "ENGAGIFII_"


class MissingConfiguration(ConfigurationError):
    """Required variables are not set; the message says how to set them or use the sandbox.

    Attributes
    ----------
    missing : list of str
        The variables missing.
    path : str or None
        The ``.env`` file read, if any.
    """

    def __init__(self, missing: list[str], path: str | None, *, sandbox_hint: str | None = None) -> None:
        self.missing = missing
        self.path = path
        where = f" (read {path})" if path else " (no .env file found)"
        hint = sandbox_hint or (
            "or try the local sandbox: `with engagifii_data.sandbox.run() as sb: "
            "client = EngagifiiClient(sb.settings())`"
        )
        super().__init__(
            "missing configuration: "
            + ", ".join(missing)
            + where
            + f"; copy .env.example to .env and fill it in, {hint}"
        )


def read_env_file(env_file: str | os.PathLike[str] | None, env: Mapping[str, str]) -> tuple[str | None, dict[str, str]]:
    """The ``.env`` path in search order and its values (taken literally, no ``${VAR}`` expansion).

    The file must be safe to trust (:func:`check_env_file`) and readable text (:func:`read_env_text`).
    """
    from dotenv import dotenv_values, find_dotenv

    explicit = env_file if env_file is not None else env.get(ENV_PREFIX + "ENV_FILE") or None
    if explicit is not None:
        if Path(explicit).is_dir():
            raise ConfigurationError(f".env file {explicit} is a folder; give the path of the file")
        if not Path(explicit).is_file():
            raise ConfigurationError(f".env file not found: {explicit}")
        path: str | None = str(explicit)
    else:
        path = find_dotenv(usecwd=True) or None
    if not path:
        return None, {}
    check_env_file(Path(path))
    text = read_env_text(Path(path))
    warn_repeated_keys(path, text)
    # no ${VAR} interpolation: secrets are taken literally (a "$" in a secret stays a "$")
    values = dotenv_values(stream=io.StringIO(text), interpolate=False)
    return path, {k: v for k, v in values.items() if v is not None}


def warn_repeated_keys(path: str, text: str) -> None:
    """Warn when a ``.env`` sets a key more than once (the last one wins, as in python-dotenv).

    Warns
    -----
    UserWarning
        Naming the file, each repeated key and the lines that set it.
    """
    from dotenv.parser import parse_stream

    lines: dict[str, list[int]] = {}
    for binding in parse_stream(io.StringIO(text)):
        if binding.key is not None:
            lines.setdefault(binding.key, []).append(binding.original.line)
    for key, where in lines.items():
        if len(where) > 1:
            listed = ", ".join(str(n) for n in where)
            warnings.warn(
                f".env file {path}: {key} is set {len(where)} times (lines {listed}); the last one, line "
                f"{where[-1]}, is used",
                stacklevel=caller_stacklevel(),
            )


def check_env_file(path: Path) -> None:
    """Refuse a ``.env`` that someone else could have written.

    A ``.env`` found in a shared directory (``/tmp``, a parent folder) may be another user's: it could
    point the identity URL at their server while the secret comes from the environment. The file is
    trusted only when the current user (or root) owns it and no other user can write it: not
    world-writable, and not group-writable through a group that has other members.

    Raises
    ------
    ConfigurationError
        Naming the file and the reason.
    """
    if os.name != "posix":
        return
    try:
        info = path.stat()
    except OSError as exc:
        raise ConfigurationError(f"cannot read .env file {path}: {exc.strerror or exc}") from None
    reason = untrusted_reason(info)
    if reason is None:
        return
    fix = "a .env must be owned by you"
    if "any user" in reason:
        fix = f"run: chmod o-w {path}"
    elif "group" in reason:
        fix = f"run: chmod g-w {path}"
    raise ConfigurationError(f"refusing to read .env file {path}: {reason}; {fix}")


_BOMS: tuple[tuple[bytes, str], ...] = (
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)


def read_env_text(path: Path) -> str:
    """The text of a ``.env`` file: a byte order mark says the encoding, otherwise it must be UTF-8.

    A file saved by PowerShell's ``>`` (UTF-16 with a BOM) or by an editor that adds a UTF-8 BOM is
    read correctly.

    Raises
    ------
    ConfigurationError
        The file cannot be read, or it is not UTF-8 (e.g. saved as Windows-1252), naming the file and
        the first offending byte.
    """
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ConfigurationError(f"cannot read .env file {path}: {exc.strerror or exc}") from None
    encoding = next((name for bom, name in _BOMS if raw.startswith(bom)), "utf-8")
    try:
        text = raw.decode(encoding)
    except UnicodeDecodeError as exc:
        byte = raw[exc.start : exc.start + 1].hex()
        raise ConfigurationError(
            f".env file {path} is not valid {encoding.upper().replace('-SIG', '')} text (byte 0x{byte} at offset "
            f"{exc.start}); save it as UTF-8"
        ) from None
    if "\x00" in text:  # UTF-16 without a byte order mark decodes as UTF-8 with a NUL in every other byte
        raise ConfigurationError(
            f".env file {path} holds NUL bytes: it looks like UTF-16 without a byte order mark; save it as UTF-8"
        )
    return text


def credentials_configured(
    env_file: str | os.PathLike[str] | None = None, *, environ: Mapping[str, str] | None = None
) -> bool:
    """True when any ``ENGAGIFII_CLIENT_ID/CLIENT_SECRET/TENANT_CODE`` is set (environment or ``.env``).

    Notebooks use it to choose between the real API and the sandbox: once anything is configured, a
    mistake in the configuration must surface as an error from :meth:`Settings.from_env`, never as a
    silent switch to sandbox data.

    Raises
    ------
    ConfigurationError
        An explicitly named ``.env`` file does not exist.
    """
    env = dict(os.environ if environ is None else environ)
    _, file_values = read_env_file(env_file, env)
    names = [ENV_PREFIX + n for n in ("CLIENT_ID", "CLIENT_SECRET", "TENANT_CODE")]
    return any(env.get(n) or file_values.get(n) for n in names)


def override_for(env_name: str, overrides: Mapping[str, Any]) -> Any:
    mapping = {
        ENV_PREFIX + "CLIENT_ID": "client_id",
        ENV_PREFIX + "CLIENT_SECRET": "client_secret",
        ENV_PREFIX + "TENANT_CODE": "tenant_codes",
    }
    return overrides.get(mapping[env_name])
