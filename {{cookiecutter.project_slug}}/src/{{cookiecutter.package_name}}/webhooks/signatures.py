"""Standard Webhooks 1.0 signatures: ``v1,<base64 HMAC-SHA256 of "id.timestamp.body">``.

Both directions use these: the ``deliver`` worker signs with every secret of
an endpoint that is still signing (two during a rotation, space-separated in
one header), and the inbound ``standard`` scheme checks a message against each
secret of its source.
"""

import base64
import hashlib
import hmac
from collections.abc import Iterable

VERSION = "v1"
ID_HEADER = "webhook-id"
TIMESTAMP_HEADER = "webhook-timestamp"
SIGNATURE_HEADER = "webhook-signature"


def digest(key: bytes, message_id: str, timestamp: int, body: bytes) -> bytes:
    """The HMAC-SHA256 of the signed content under ``key``."""
    content = f"{message_id}.{timestamp}.".encode() + body
    return hmac.new(key, content, hashlib.sha256).digest()


def signature_header(message_id: str, timestamp: int, body: bytes, keys: Iterable[bytes]) -> str:
    """The ``webhook-signature`` value: one ``v1,`` signature per key."""
    return " ".join(
        f"{VERSION},{base64.b64encode(digest(key, message_id, timestamp, body)).decode()}"
        for key in keys
    )


def signed_headers(
    message_id: str, timestamp: int, body: bytes, keys: Iterable[bytes]
) -> dict[str, str]:
    """The three headers of a signed message."""
    return {
        ID_HEADER: message_id,
        TIMESTAMP_HEADER: str(timestamp),
        SIGNATURE_HEADER: signature_header(message_id, timestamp, body, keys),
    }
