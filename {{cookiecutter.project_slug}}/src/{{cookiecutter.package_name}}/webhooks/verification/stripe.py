"""Stripe's scheme: ``Stripe-Signature: t=<unix time>,v1=<hex>[,v1=<hex>...]``.

Each ``v1`` is the hex HMAC-SHA256 of ``<t>.<raw body>`` keyed by the secret as
written (``whsec_...``, not decoded); Stripe sends one per active secret while
it rolls one. Other schemes (``v0``) are ignored. The event's id, in the body,
is the replay guard's key: Stripe sends it again unchanged.
"""

import hashlib
import hmac
from collections.abc import Mapping, Sequence
from datetime import datetime

from {{ cookiecutter.package_name }}.domain.errors import FieldViolation, MalformedRequestError
from {{ cookiecutter.package_name }}.webhooks.verification.checks import (
    MAX_MESSAGE_ID_LENGTH,
    check_timestamp,
    header,
    json_object,
    unix_time,
)
from {{ cookiecutter.package_name }}.webhooks.verification.port import (
    VerifiedMessage,
    WebhookRejectedError,
)

SIGNATURE_HEADER = "stripe-signature"
SCHEME = "v1"


def signed_payload(timestamp: int, body: bytes) -> bytes:
    """What Stripe signs: the timestamp, a dot, and the raw body."""
    return f"{timestamp}.".encode() + body


def signature_of(secret: str, timestamp: int, body: bytes) -> str:
    """One ``v1`` signature, in hex, as Stripe computes it."""
    return hmac.new(secret.encode(), signed_payload(timestamp, body), hashlib.sha256).hexdigest()


def _parsed(value: str) -> tuple[int, list[bytes]]:
    """The timestamp and the ``v1`` signatures of a ``Stripe-Signature`` header."""
    timestamps: list[str] = []
    signatures: list[bytes] = []
    for item in value.split(","):
        key, separator, text = item.strip().partition("=")
        if not separator:
            raise WebhookRejectedError(f"the {SIGNATURE_HEADER} header is malformed")
        if key == "t":
            timestamps.append(text)
        elif key == SCHEME:
            try:
                signature = bytes.fromhex(text)
            except ValueError:
                raise WebhookRejectedError(f"a {SCHEME} signature is not hex") from None
            if len(signature) != hashlib.sha256().digest_size:
                raise WebhookRejectedError(f"a {SCHEME} signature is not 32 bytes")
            signatures.append(signature)
    if len(timestamps) != 1:
        raise WebhookRejectedError(f"the {SIGNATURE_HEADER} header needs one timestamp (t=)")
    if not signatures:
        raise WebhookRejectedError(f"the {SIGNATURE_HEADER} header has no {SCHEME} signature")
    return unix_time(timestamps[0], "timestamp (t=)"), signatures


class StripeSignature:
    """Verifies Stripe webhooks against the source's signing secrets."""

    def __init__(self, secrets: Sequence[str], *, tolerance_seconds: int) -> None:
        self._keys = tuple(secret.encode() for secret in secrets)
        self._tolerance_seconds = tolerance_seconds

    def verify(self, headers: Mapping[str, str], body: bytes, now: datetime) -> VerifiedMessage:
        """The event, if one of its ``v1`` signatures is by a secret of the source."""
        if not self._keys:
            raise WebhookRejectedError("the source has no secrets configured")
        timestamp, signatures = _parsed(header(headers, SIGNATURE_HEADER))
        check_timestamp(timestamp, now, self._tolerance_seconds)
        payload = signed_payload(timestamp, body)
        expected = [hmac.new(key, payload, hashlib.sha256).digest() for key in self._keys]
        if not any(
            hmac.compare_digest(signature, candidate)
            for signature in signatures
            for candidate in expected
        ):
            raise WebhookRejectedError("no signature matches a secret of the source")
        event = json_object(body)
        event_id = event.get("id")
        if not isinstance(event_id, str) or not 0 < len(event_id) <= MAX_MESSAGE_ID_LENGTH:
            raise MalformedRequestError(
                "The event has no usable id.",
                FieldViolation(
                    "id", f"Send the event's id: 1 to {MAX_MESSAGE_ID_LENGTH} characters."
                ),
            )
        return VerifiedMessage(event_id, event)
