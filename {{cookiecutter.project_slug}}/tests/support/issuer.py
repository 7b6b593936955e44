"""A real OAuth 2.0 issuer on loopback, in its own thread, for the tests of the oauth2 mode.

It serves discovery, its JWKS and a token endpoint (client credentials with
``client_secret_basic``), signs RFC 9068 access tokens with RSA and EC keys it
generates, rotates keys on demand and counts the requests it answers. It runs
in a thread because the service under test may be a subprocess, and some tests
are synchronous: it must answer whatever the test's event loop is doing.
"""

import base64
import json
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self
from urllib.parse import parse_qs, unquote_plus

import jwt
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import ECAlgorithm, RSAAlgorithm

type PrivateKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey

OPENID_CONFIGURATION = "/.well-known/openid-configuration"
RFC8414_METADATA = "/.well-known/oauth-authorization-server"
JWKS_PATH = "/jwks"
TOKEN_PATH = "/token"  # noqa: S105 - a path, not a secret


@dataclass(frozen=True, slots=True)
class SigningKey:
    """A private key of the issuer and the public JWK it publishes."""

    kid: str
    algorithm: str
    private: PrivateKey = field(repr=False)

    @classmethod
    def generate(cls, algorithm: str = "RS256") -> Self:
        """A new RSA (RS*/PS*) or P-256 (ES256) key."""
        private: PrivateKey = (
            ec.generate_private_key(ec.SECP256R1())
            if algorithm == "ES256"
            else rsa.generate_private_key(public_exponent=65537, key_size=2048)
        )
        return cls(f"{algorithm.lower()}-{uuid.uuid4().hex[:8]}", algorithm, private)

    def public_jwk(self) -> dict[str, Any]:
        """The JWK of the public half, as a JWKS lists it."""
        public = self.private.public_key()
        jwk = (
            ECAlgorithm.to_jwk(public, as_dict=True)
            if isinstance(public, ec.EllipticCurvePublicKey)
            else RSAAlgorithm.to_jwk(public, as_dict=True)
        )
        return {**jwk, "kid": self.kid, "use": "sig", "alg": self.algorithm}


@dataclass(slots=True)
class Client:
    """A registered client: its secret and the scopes it may ask for."""

    secret: str
    scopes: frozenset[str]


# How often a serving thread looks for shutdown: what stopping a server waits, at most
# (the standard library's 0.5 s would be most of a short test's time).
POLL_SECONDS = 0.05


class LocalIssuer:
    """An authorization server on ``127.0.0.1`` with an ephemeral port."""

    def __init__(
        self,
        audience: str,
        *,
        path: str = "",
        token_lifetime_seconds: int = 300,
        discovery: str = OPENID_CONFIGURATION,
    ) -> None:
        self.audience = audience
        self.token_lifetime_seconds = token_lifetime_seconds
        self.requests: Counter[str] = Counter()
        self.keys: list[SigningKey] = [SigningKey.generate("ES256"), SigningKey.generate("RS256")]
        self.clients: dict[str, Client] = {}
        self.extra_jwks: list[dict[str, Any]] = []
        self.metadata_issuer: str | None = None  # to publish another issuer's name
        self.failing = False  # answer 503 to everything, as an issuer in trouble does
        self._path = path
        self._discovery = discovery
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self._server.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        """The port it listens on."""
        return int(self._server.server_address[1])

    @property
    def issuer(self) -> str:
        """Its issuer identifier, as tokens carry it in ``iss``."""
        return f"http://127.0.0.1:{self.port}{self._path}"

    def start(self) -> Self:
        """Serve in a daemon thread."""
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(POLL_SECONDS,), daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and free the port."""
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()

    @contextmanager
    def unavailable(self) -> Iterator[None]:
        """Answer 503 to every request inside the block."""
        self.failing = True
        try:
            yield
        finally:
            self.failing = False

    # Keys

    @property
    def signing_key(self) -> SigningKey:
        """The key new tokens are signed with (the newest)."""
        return self.keys[-1]

    def key(self, algorithm: str) -> SigningKey:
        """The newest published key of ``algorithm``."""
        return next(key for key in reversed(self.keys) if key.algorithm == algorithm)

    def rotate(self, algorithm: str = "RS256") -> SigningKey:
        """Publish a new signing key and retire the previous keys of that algorithm."""
        new = SigningKey.generate(algorithm)
        with self._lock:
            self.keys = [key for key in self.keys if key.algorithm != algorithm] + [new]
        return new

    def jwks(self) -> dict[str, Any]:
        """The published key set."""
        with self._lock:
            return {"keys": [key.public_jwk() for key in self.keys] + list(self.extra_jwks)}

    # Tokens

    def claims(self, subject: str, scope: str, **overrides: Any) -> dict[str, Any]:
        """RFC 9068 claims for ``subject`` (``None`` in ``overrides`` leaves a claim out)."""
        now = int(time.time())
        claims: dict[str, Any] = {
            "iss": self.issuer,
            "sub": subject,
            "aud": self.audience,
            "client_id": subject,
            "scope": scope,
            "iat": now,
            "exp": now + self.token_lifetime_seconds,
            "jti": uuid.uuid4().hex,
        }
        claims.update(overrides)
        return {name: value for name, value in claims.items() if value is not None}

    def sign(
        self,
        claims: Mapping[str, Any],
        *,
        key: SigningKey | None = None,
        headers: Mapping[str, Any] | None = None,
    ) -> str:
        """``claims`` signed with ``key`` (default: newest); ``typ: at+jwt`` unless overridden."""
        key = key or self.signing_key
        header: dict[str, Any] = {"typ": "at+jwt", "kid": key.kid} | dict(headers or {})
        return jwt.encode(dict(claims), key.private, algorithm=key.algorithm, headers=header)

    def access_token(
        self, subject: str = "caller", scope: str = "", *, key: SigningKey | None = None
    ) -> str:
        """A valid access token for ``subject`` holding ``scope``."""
        return self.sign(self.claims(subject, scope), key=key)

    def register(self, client_id: str, secret: str, scopes: str = "") -> None:
        """Let a client use the client-credentials grant."""
        self.clients[client_id] = Client(secret, frozenset(scopes.split()))

    def metadata(self) -> dict[str, Any]:
        """Its discovery document."""
        base = f"http://127.0.0.1:{self.port}"
        return {
            "issuer": self.metadata_issuer or self.issuer,
            "jwks_uri": f"{base}{JWKS_PATH}",
            "token_endpoint": f"{base}{TOKEN_PATH}",
            "grant_types_supported": ["client_credentials"],
            "token_endpoint_auth_methods_supported": ["client_secret_basic"],
        }

    def discovery_path(self) -> str:
        """Where its metadata lives: appended to the issuer, or RFC 8414's inserted form."""
        if self._discovery == OPENID_CONFIGURATION:
            return f"{self._path}{OPENID_CONFIGURATION}"
        return f"{RFC8414_METADATA}{self._path}"

    def grant(
        self, authorization: str | None, form: Mapping[str, str]
    ) -> tuple[int, dict[str, Any]]:
        """The token endpoint's answer: status and JSON body."""
        client_id = _basic_client(authorization, self.clients)
        if client_id is None:
            return HTTPStatus.UNAUTHORIZED, {"error": "invalid_client"}
        if form.get("grant_type") != "client_credentials":
            return HTTPStatus.BAD_REQUEST, {"error": "unsupported_grant_type"}
        allowed = self.clients[client_id].scopes
        requested = frozenset(form.get("scope", "").split()) or allowed
        if not requested <= allowed:
            return HTTPStatus.BAD_REQUEST, {"error": "invalid_scope"}
        scope = " ".join(sorted(requested))
        body = {
            "access_token": self.access_token(client_id, scope),
            "token_type": "Bearer",
            "expires_in": self.token_lifetime_seconds,
            "scope": scope,
        }
        return HTTPStatus.OK, body


def _basic_client(authorization: str | None, clients: Mapping[str, Client]) -> str | None:
    """The client ``Authorization: Basic`` proves, if any (parts form-decoded, RFC 6749 2.3.1)."""
    scheme, _, encoded = (authorization or "").partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        pair = base64.b64decode(encoded, validate=True).decode()
    except ValueError:
        return None
    client_id, _, secret = (unquote_plus(part) for part in pair.partition(":"))
    client = clients.get(client_id)
    return client_id if client is not None and client.secret == secret else None


def _handler(issuer: LocalIssuer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:
            if issuer.failing:
                issuer.requests["refused"] += 1
                self._reply(HTTPStatus.SERVICE_UNAVAILABLE, {"error": "temporarily_unavailable"})
            elif self.path == issuer.discovery_path():
                issuer.requests["discovery"] += 1
                self._reply(HTTPStatus.OK, issuer.metadata())
            elif self.path == JWKS_PATH:
                issuer.requests["jwks"] += 1
                self._reply(HTTPStatus.OK, issuer.jwks())
            else:
                self._reply(HTTPStatus.NOT_FOUND, {"error": "not_found"})

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            body = self.rfile.read(length).decode()
            if issuer.failing:
                issuer.requests["refused"] += 1
                self._reply(HTTPStatus.SERVICE_UNAVAILABLE, {"error": "temporarily_unavailable"})
                return
            if self.path != TOKEN_PATH:
                self._reply(HTTPStatus.NOT_FOUND, {"error": "not_found"})
                return
            issuer.requests["token"] += 1
            form = {name: values[0] for name, values in parse_qs(body).items()}
            status, answer = issuer.grant(self.headers.get("Authorization"), form)
            self._reply(status, answer)

        def _reply(self, status: int, body: Mapping[str, Any]) -> None:
            payload = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.send_header("Cache-Control", "no-store")
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base's name
            del format, args  # quiet: the test output is not the place for access logs

    return Handler
