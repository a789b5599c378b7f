"""The sandbox's identity server: the token endpoint, discovery, JWKS and checking bearer tokens (JOSE)."""

from __future__ import annotations

import hmac
import logging
import time
import uuid
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from authlib.integrations.flask_oauth2 import AuthorizationServer
from authlib.oauth2.rfc6749 import ClientMixin, grants
from authlib.oauth2.rfc9068 import JWTBearerTokenGenerator
from flask import Flask, Response, g, request
from joserfc import jwt
from joserfc.errors import BadSignatureError, ExpiredTokenError, JoseError
from joserfc.jwk import KeySet, RSAKey

from .constants import CLIENT_ID, CLIENT_SECRET, SCOPE
from .wire import _ApiError, _json_response

if TYPE_CHECKING:
    from .state import _State


@lru_cache(maxsize=1)
def signing_key() -> RSAKey:
    """The RS256 signing key (generated once per process)."""
    return RSAKey.generate_key(2048, parameters={"kid": "sandbox-rs256", "use": "sig", "alg": "RS256"})


class _Client(ClientMixin):  # type: ignore[misc]  # authlib has no type information
    """The one confidential client the identity server knows."""

    def get_client_id(self) -> str:
        return CLIENT_ID

    def get_default_redirect_uri(self) -> str | None:
        return None

    def get_allowed_scope(self, scope: str | None) -> str:
        if not scope:
            return SCOPE
        return " ".join(s for s in scope.split() if s == SCOPE)

    def check_redirect_uri(self, redirect_uri: str) -> bool:
        return False

    def check_client_secret(self, client_secret: str) -> bool:
        return hmac.compare_digest(client_secret.encode("utf-8"), CLIENT_SECRET.encode("utf-8"))

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        return method in ("client_secret_basic", "client_secret_post")

    def check_response_type(self, response_type: str) -> bool:
        return False

    def check_grant_type(self, grant_type: str) -> bool:
        return grant_type == "client_credentials"


class _ClientCredentialsGrant(grants.ClientCredentialsGrant):  # type: ignore[misc]  # authlib has no type information
    TOKEN_ENDPOINT_AUTH_METHODS = ["client_secret_basic", "client_secret_post"]  # noqa: RUF012


class _TokenGenerator(JWTBearerTokenGenerator):  # type: ignore[misc]  # authlib has no type information
    """RFC 9068 JWT access tokens; lifetime from the faults, jti recorded for revocation."""

    def __init__(self, state: _State) -> None:
        super().__init__(
            issuer="", alg="RS256", expires_generator=lambda client, grant_type: state.faults.token_lifetime
        )
        self.state = state

    def get_jwks(self) -> KeySet:
        return KeySet([signing_key()])  # a key set, so the JWT header names the ``kid``

    def get_jti(self, client: Any, grant_type: str, user: Any, scope: str) -> str:
        jti = uuid.uuid4().hex
        with self.state.lock:
            self.state.issued_jtis.add(jti)
        return jti

    def get_extra_claims(self, client: Any, grant_type: str, user: Any, scope: str) -> dict[str, Any]:
        return {"nbf": int(time.time())}


def _oauth_error(status: int, error: str, description: str) -> Response:
    return _json_response(
        {"error": error, "error_description": description}, status, {"Cache-Control": "no-store", "Pragma": "no-cache"}
    )


def _unauthorized(description: str) -> _ApiError:
    return _ApiError(
        401,
        "invalid_token",
        description,
        headers={"WWW-Authenticate": f'Bearer error="invalid_token", error_description="{description}"'},
    )


def _authenticate(state: _State) -> None:
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise _unauthorized("The access token is missing")
    if state.faults.reject_tokens:
        g.fault = "reject_tokens"
        raise _unauthorized("The access token is invalid")
    try:
        decoded = jwt.decode(token, signing_key(), algorithms=["RS256"])
    except BadSignatureError:
        raise _unauthorized("The signature is invalid") from None
    except (JoseError, ValueError, TypeError):
        raise _unauthorized("The access token is malformed") from None
    registry = jwt.JWTClaimsRegistry(iss={"essential": True, "value": state.issuer}, exp={"essential": True})
    try:
        registry.validate(decoded.claims)
    except ExpiredTokenError:
        raise _unauthorized("The access token expired") from None
    except JoseError as exc:
        raise _unauthorized(f"The access token is invalid: {exc.description or exc}") from None
    with state.lock:
        revoked = decoded.claims.get("jti") in state.revoked_jtis
    if revoked:
        raise _unauthorized("The access token expired")
    if SCOPE not in str(decoded.claims.get("scope", "")).split():
        raise _ApiError(403, "FORBIDDEN", f"The access token lacks the {SCOPE} scope")


def register_identity(app: Flask, state: _State) -> None:
    """Serve the token endpoint, discovery and JWKS on *app*; the token generator goes in ``app.extensions``."""
    # authlib's server-side grants log every issued token at DEBUG ("Issue token {...}"): with
    # the sandbox in-process, `engagifii-data --debug` would print tokens. Keep those loggers quiet.
    logging.getLogger("authlib.oauth2").setLevel(max(logging.INFO, logging.getLogger("authlib.oauth2").level))
    app.config["OAUTH2_SCOPES_SUPPORTED"] = [SCOPE]
    oauth = AuthorizationServer(
        app, query_client=lambda cid: _Client() if cid == CLIENT_ID else None, save_token=lambda token, req: None
    )
    oauth.register_grant(_ClientCredentialsGrant)
    generator = _TokenGenerator(state)
    oauth.register_token_generator("default", generator)
    app.extensions["engagifii_token_generator"] = generator

    @app.post("/connect/token")
    def token() -> Response:
        if request.mimetype != "application/x-www-form-urlencoded":
            return _oauth_error(400, "invalid_request", "The request body must be application/x-www-form-urlencoded")
        grant_type = request.form.get("grant_type")
        if not grant_type:
            return _oauth_error(400, "invalid_request", "grant_type is missing")
        if grant_type != "client_credentials":
            return _oauth_error(
                400, "unsupported_grant_type", f"The grant type '{grant_type}' is not supported; use client_credentials"
            )
        response: Response = oauth.create_token_response()
        if response.status_code == 401 and request.authorization is None:
            # IdentityServer4 answers 400 invalid_client when the client authenticated in the form
            response.status_code = 400
            response.headers.pop("WWW-Authenticate", None)
        return response

    @app.get("/.well-known/openid-configuration")
    def discovery() -> Response:
        base = state.issuer
        return _json_response(
            {
                "issuer": base,
                "jwks_uri": f"{base}/.well-known/openid-configuration/jwks",
                "token_endpoint": f"{base}/connect/token",
                "grant_types_supported": ["client_credentials"],
                "scopes_supported": [SCOPE],
                "response_types_supported": ["token"],
                "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
                "id_token_signing_alg_values_supported": ["RS256"],
                "claims_supported": ["iss", "exp", "iat", "nbf", "scope", "client_id", "jti", "sub", "aud"],
            }
        )

    @app.get("/.well-known/openid-configuration/jwks")
    def jwks() -> Response:
        return _json_response({"keys": [signing_key().as_dict(private=False)]})
