"""API keys: ``<prefix>_<lookup id>_<secret><checksum>``, shown once, stored as a keyed hash.

- The lookup id (12 base62 characters) is the key's public id: it finds the
  stored key with one indexed read, and it is what lists, logs and ``revoke`` name.
- The secret (32 base62 characters from :mod:`secrets`, about 190 bits) is never stored.
  The database holds HMAC-SHA256(``API_KEY_HASH_SECRET``, key): a copy of the
  database alone verifies no key, and the hashes are compared in constant time.
- The checksum (CRC32 of the rest, 6 base62 characters) turns typos and random
  guesses away without a database round trip, and with the fixed prefix lets
  secret scanners recognise a leaked key.

Each key belongs to a client, the principal's subject. Rate limits count per
principal, so every key of one client shares one quota: rotating a key (create,
switch, revoke) does not grant a client a second quota meanwhile.
"""

import hashlib
import hmac
import re
import secrets
import string
import zlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Self

import structlog

from {{ cookiecutter.package_name }}.auth.credentials import CredentialScheme
from {{ cookiecutter.package_name }}.auth.errors import InvalidCredentialsError
from {{ cookiecutter.package_name }}.auth.principal import Permission, Principal
from {{ cookiecutter.package_name }}.domain.errors import ServiceUnavailableError
from {{ cookiecutter.package_name }}.settings import ConfigurationError, Settings
from {{ cookiecutter.package_name }}.storage.api_keys import ApiKeyStore, StoredApiKey

log = structlog.get_logger(__name__)

BASE62 = string.digits + string.ascii_uppercase + string.ascii_lowercase
LOOKUP_ID_LENGTH = 12
SECRET_LENGTH = 32
CHECKSUM_LENGTH = 6  # 62**6 > 2**32: every CRC32 fits
MIN_HASH_SECRET_BYTES = 32

_KEY = re.compile(r"(?P<prefix>[a-z0-9]+)_(?P<id>[0-9A-Za-z]+)_(?P<tail>[0-9A-Za-z]+)")

Clock = Callable[[], datetime]


def _base62(number: int, width: int) -> str:
    digits = []
    for _ in range(width):
        number, digit = divmod(number, 62)
        digits.append(BASE62[digit])
    return "".join(reversed(digits))


def _random_base62(length: int) -> str:
    return "".join(secrets.choice(BASE62) for _ in range(length))


def checksum(body: str) -> str:
    """The 6 base62 characters that end a key whose other characters are ``body``."""
    return _base62(zlib.crc32(body.encode("ascii")), CHECKSUM_LENGTH)


@dataclass(frozen=True, slots=True)
class KeyFormat:
    """Makes keys with this service's prefix, and reads the lookup id back out of one."""

    prefix: str

    def new_key(self) -> tuple[str, str]:
        """A fresh ``(lookup id, key)``."""
        lookup_id = _random_base62(LOOKUP_ID_LENGTH)
        body = f"{self.prefix}_{lookup_id}_{_random_base62(SECRET_LENGTH)}"
        return lookup_id, body + checksum(body)

    def lookup_id(self, key: str) -> str:
        """The lookup id of a well-formed key with a valid checksum; else raise."""
        match = _KEY.fullmatch(key)
        if (
            match is None
            or match["prefix"] != self.prefix
            or len(match["id"]) != LOOKUP_ID_LENGTH
            or len(match["tail"]) != SECRET_LENGTH + CHECKSUM_LENGTH
        ):
            raise InvalidCredentialsError("malformed API key")
        body, sent = key[:-CHECKSUM_LENGTH], key[-CHECKSUM_LENGTH:]
        if not hmac.compare_digest(checksum(body), sent):
            raise InvalidCredentialsError("API key checksum mismatch")
        return match["id"]


@dataclass(frozen=True, slots=True)
class KeyHasher:
    """HMAC-SHA256 under the service's hash secret: what is stored instead of a key."""

    secret: bytes = field(repr=False)

    @classmethod
    def from_settings(cls, settings: Settings) -> Self:
        """Refuse to start without a hash secret of at least 32 bytes."""
        configured = settings.api_key_hash_secret
        secret = b"" if configured is None else configured.get_secret_value().encode()
        if len(secret) < MIN_HASH_SECRET_BYTES:
            message = (
                f"API_KEY_HASH_SECRET must be set to at least {MIN_HASH_SECRET_BYTES} bytes "
                "of randomness to create or verify API keys"
            )
            raise ConfigurationError(message)
        return cls(secret)

    def hash(self, key: str) -> str:
        """The hex digest stored for ``key``."""
        return hmac.new(self.secret, key.encode(), hashlib.sha256).hexdigest()

    def matches(self, key: str, stored_hash: str) -> bool:
        """Whether ``key`` hashes to ``stored_hash``, compared in constant time."""
        return hmac.compare_digest(self.hash(key), stored_hash)


def scopes_of(names: Iterable[str]) -> tuple[str, ...]:
    """Scopes as stored: known permission names, sorted, each once; unknown ones refused."""
    names = set(names)
    unknown = names - {permission.value for permission in Permission}
    if unknown:
        message = f"unknown scopes {sorted(unknown)}: use {[p.value for p in Permission]}"
        raise ValueError(message)
    return tuple(sorted(names))


def _now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class IssuedKey:
    """A new key (the only time it is seen) and what was stored for it."""

    key: str = field(repr=False)
    stored: StoredApiKey


class ApiKeyIssuer:
    """Creates keys: a fresh key per call, only its hash stored."""

    def __init__(
        self, keys: ApiKeyStore, key_format: KeyFormat, hasher: KeyHasher, clock: Clock = _now
    ) -> None:
        self._keys = keys
        self._format = key_format
        self._hasher = hasher
        self._clock = clock

    @classmethod
    def from_settings(cls, settings: Settings, keys: ApiKeyStore) -> Self:
        """An issuer with the configured prefix and hash secret."""
        return cls(keys, KeyFormat(settings.api_key_prefix), KeyHasher.from_settings(settings))

    async def issue(
        self, client: str, scopes: Iterable[str], *, expires_in: timedelta | None = None
    ) -> IssuedKey:
        """Create and store a key for ``client`` granting ``scopes``."""
        if not client.strip():
            raise ValueError("name the client the key is for")
        now = self._clock()
        lookup_id, key = self._format.new_key()
        stored = StoredApiKey(
            id=lookup_id,
            client=client,
            scopes=scopes_of(scopes),
            key_hash=self._hasher.hash(key),
            created_at=now,
            expires_at=None if expires_in is None else now + expires_in,
        )
        await self._keys.create(stored)
        log.info("api_key_created", key_id=lookup_id, client=client, scopes=list(stored.scopes))
        return IssuedKey(key, stored)


class ApiKeyAuthenticator:
    """Verifies an API key against its stored hash; records its use now and then.

    ``last_used_at`` is written at most once per interval per key: the process
    remembers when it last wrote it, and the write itself is conditional, so
    several instances together still write about once per interval.
    """

    def __init__(
        self,
        keys: ApiKeyStore,
        key_format: KeyFormat,
        hasher: KeyHasher,
        *,
        last_used_interval: timedelta,
        clock: Clock = _now,
    ) -> None:
        self._keys = keys
        self._format = key_format
        self._hasher = hasher
        self._interval = last_used_interval
        self._clock = clock
        self._touched: dict[str, datetime] = {}

    @classmethod
    def from_settings(cls, settings: Settings, keys: ApiKeyStore) -> Self:
        """An authenticator over ``keys``; fails at start-up without a usable hash secret."""
        return cls(
            keys,
            KeyFormat(settings.api_key_prefix),
            KeyHasher.from_settings(settings),
            last_used_interval=timedelta(seconds=settings.api_key_last_used_interval_seconds),
        )

    @property
    def scheme(self) -> CredentialScheme:
        """API keys, sent in the ``X-API-Key`` header."""
        return CredentialScheme.API_KEY

    async def authenticate(self, secret: str) -> Principal:
        """The client whose active key ``secret`` is, with the key's scopes as permissions."""
        lookup_id = self._format.lookup_id(secret)
        stored = await self._keys.find(lookup_id)
        if stored is None:
            raise InvalidCredentialsError(f"unknown API key {lookup_id}")
        if not self._hasher.matches(secret, stored.key_hash):
            raise InvalidCredentialsError(f"API key {lookup_id} does not match its stored hash")
        now = self._clock()
        if stored.revoked_at is not None:
            raise InvalidCredentialsError(f"API key {lookup_id} is revoked")
        if stored.expires_at is not None and stored.expires_at <= now:
            raise InvalidCredentialsError(f"API key {lookup_id} has expired")
        await self._record_use(lookup_id, now)
        return Principal(stored.client, Permission.granted_by(stored.scopes))

    async def _record_use(self, lookup_id: str, now: datetime) -> None:
        """Write ``last_used_at`` unless this process (or, per the database, another) did lately."""
        last = self._touched.get(lookup_id)
        if last is not None and now - last < self._interval:
            return
        self._touched[lookup_id] = now
        try:
            await self._keys.touch(lookup_id, now, stale_before=now - self._interval)
        except ServiceUnavailableError:
            # Bookkeeping only: the key was just verified, so the call goes on.
            log.warning("api_key_last_used_not_recorded", key_id=lookup_id)
            self._touched.pop(lookup_id, None)

    async def close(self) -> None:
        """Nothing to release: the storage belongs to the container."""
