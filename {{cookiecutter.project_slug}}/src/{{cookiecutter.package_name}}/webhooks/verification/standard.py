"""Standard Webhooks 1.0: ``webhook-id``, ``webhook-timestamp`` and ``webhook-signature``.

The signature header holds space-separated ``<version>,<signature>`` pairs:
every ``v1`` signature is tried against every secret of the source (two while
the sender rotates its secret), in constant time; other versions (``v1a`` is
Ed25519) are skipped. Secrets are ``whsec_`` and the base64 of 24 to 64 bytes.
"""

import base64
import binascii
import hmac
from collections.abc import Mapping, Sequence
from datetime import datetime

from {{ cookiecutter.package_name }}.domain.webhooks import SECRET_PREFIX
from {{ cookiecutter.package_name }}.webhooks.signatures import (
    ID_HEADER,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    VERSION,
    digest,
)
from {{ cookiecutter.package_name }}.webhooks.verification.checks import (
    check_timestamp,
    header,
    json_object,
    message_id_of,
    unix_time,
)
from {{ cookiecutter.package_name }}.webhooks.verification.port import (
    InvalidSecretError,
    VerifiedMessage,
    WebhookRejectedError,
)

MIN_KEY_BYTES = 24
MAX_KEY_BYTES = 64
# The length of an HMAC-SHA256: a v1 signature of any other length is malformed.
SIGNATURE_BYTES = 32


def secret_key(secret: str) -> bytes:
    """The HMAC key a ``whsec_`` secret encodes (padding optional, as senders differ)."""
    encoded = secret.removeprefix(SECRET_PREFIX)
    if encoded == secret:
        raise InvalidSecretError(f"it does not start with {SECRET_PREFIX}")
    try:
        key = base64.b64decode(encoded + "=" * (-len(encoded) % 4), validate=True)
    except binascii.Error:
        raise InvalidSecretError(f"it is not {SECRET_PREFIX} and base64") from None
    if not MIN_KEY_BYTES <= len(key) <= MAX_KEY_BYTES:
        message = f"it encodes {len(key)} bytes, not {MIN_KEY_BYTES} to {MAX_KEY_BYTES}"
        raise InvalidSecretError(message)
    return key


def _signatures(value: str) -> list[bytes]:
    """The ``v1`` signatures of a ``webhook-signature`` header, decoded."""
    signatures = []
    for pair in value.split():
        version, separator, encoded = pair.partition(",")
        if not separator or not version:
            raise WebhookRejectedError(f"the {SIGNATURE_HEADER} header is malformed")
        if version != VERSION:
            continue  # a scheme this service does not verify (v1a), as the spec asks
        try:
            signature = base64.b64decode(encoded, validate=True)
        except binascii.Error:
            raise WebhookRejectedError(f"a {VERSION} signature is not base64") from None
        if len(signature) != SIGNATURE_BYTES:
            raise WebhookRejectedError(f"a {VERSION} signature is not {SIGNATURE_BYTES} bytes")
        signatures.append(signature)
    if not signatures:
        raise WebhookRejectedError(f"the {SIGNATURE_HEADER} header has no {VERSION} signature")
    return signatures


class StandardWebhooks:
    """Verifies Standard Webhooks messages against the source's ``whsec_`` secrets."""

    def __init__(self, secrets: Sequence[str], *, tolerance_seconds: int) -> None:
        keys = []
        for position, secret in enumerate(secrets, 1):
            try:
                keys.append(secret_key(secret))
            except InvalidSecretError as error:
                raise InvalidSecretError(f"secret {position} of {len(secrets)}: {error}") from None
        self._keys = tuple(keys)
        self._tolerance_seconds = tolerance_seconds

    def verify(self, headers: Mapping[str, str], body: bytes, now: datetime) -> VerifiedMessage:
        """The message, if one of its ``v1`` signatures is by a secret of the source."""
        if not self._keys:
            raise WebhookRejectedError("the source has no secrets configured")
        message_id = message_id_of(header(headers, ID_HEADER), ID_HEADER)
        try:
            timestamp = unix_time(header(headers, TIMESTAMP_HEADER), TIMESTAMP_HEADER)
            signatures = _signatures(header(headers, SIGNATURE_HEADER))
            check_timestamp(timestamp, now, self._tolerance_seconds)
        except WebhookRejectedError as rejected:
            raise WebhookRejectedError(rejected.reason, message_id) from None
        expected = [digest(key, message_id, timestamp, body) for key in self._keys]
        if not any(
            hmac.compare_digest(signature, candidate)
            for signature in signatures
            for candidate in expected
        ):
            raise WebhookRejectedError("no signature matches a secret of the source", message_id)
        return VerifiedMessage(message_id, json_object(body))
