"""GitHub's scheme: ``X-Hub-Signature-256: sha256=<hex HMAC-SHA256 of the raw body>``.

Nothing is timestamped, so the replay guard alone stops a captured message
sent again: its id is the ``X-GitHub-Delivery`` header, which GitHub keeps when
it redelivers. A secret is any string; during a rotation both are tried.
"""

import hashlib
import hmac
from collections.abc import Mapping, Sequence
from datetime import datetime

from {{ cookiecutter.package_name }}.webhooks.verification.checks import header, json_object, message_id_of
from {{ cookiecutter.package_name }}.webhooks.verification.port import (
    VerifiedMessage,
    WebhookRejectedError,
)

SIGNATURE_HEADER = "x-hub-signature-256"
DELIVERY_HEADER = "x-github-delivery"
PREFIX = "sha256="


def signature_of(secret: str, body: bytes) -> str:
    """The ``X-Hub-Signature-256`` value GitHub sends for ``body``."""
    return PREFIX + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def _signature(value: str) -> bytes:
    hex_digest = value.removeprefix(PREFIX)
    if hex_digest == value or len(hex_digest) != 2 * hashlib.sha256().digest_size:
        raise WebhookRejectedError(f"the {SIGNATURE_HEADER} header is malformed")
    try:
        return bytes.fromhex(hex_digest)
    except ValueError:
        raise WebhookRejectedError(f"the {SIGNATURE_HEADER} header is malformed") from None


class GitHubSignature:
    """Verifies GitHub webhooks against the source's secrets."""

    def __init__(self, secrets: Sequence[str]) -> None:
        self._keys = tuple(secret.encode() for secret in secrets)

    def verify(self, headers: Mapping[str, str], body: bytes, now: datetime) -> VerifiedMessage:
        """The message, if its signature is by a secret of the source (``now`` is unused)."""
        if not self._keys:
            raise WebhookRejectedError("the source has no secrets configured")
        message_id = message_id_of(header(headers, DELIVERY_HEADER), DELIVERY_HEADER)
        try:
            signature = _signature(header(headers, SIGNATURE_HEADER))
        except WebhookRejectedError as rejected:
            raise WebhookRejectedError(rejected.reason, message_id) from None
        if not any(
            hmac.compare_digest(signature, hmac.new(key, body, hashlib.sha256).digest())
            for key in self._keys
        ):
            raise WebhookRejectedError("no signature matches a secret of the source", message_id)
        return VerifiedMessage(message_id, json_object(body))
