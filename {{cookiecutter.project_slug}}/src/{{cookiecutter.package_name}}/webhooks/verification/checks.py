"""What every scheme checks alike: headers present, ids bounded, timestamps fresh, JSON last."""

import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from {{ cookiecutter.package_name }}.domain.errors import MalformedRequestError
from {{ cookiecutter.package_name }}.webhooks.verification.port import WebhookRejectedError

# Longer ids are refused: a sender's id is a key of the inbox, not a document.
MAX_MESSAGE_ID_LENGTH = 200
# Seconds since the epoch stay within 12 digits for the next thirty thousand years.
MAX_TIMESTAMP_DIGITS = 12


def header(headers: Mapping[str, str], name: str) -> str:
    """The value of the ``name`` header; a missing or empty one is a rejection."""
    value = headers.get(name, "").strip()
    if not value:
        raise WebhookRejectedError(f"the {name} header is missing")
    return value


def message_id_of(value: str, name: str) -> str:
    """``value`` as a message id: printable ASCII of a bounded length."""
    if len(value) > MAX_MESSAGE_ID_LENGTH or not value.isascii() or not value.isprintable():
        raise WebhookRejectedError(
            f"the {name} must be at most {MAX_MESSAGE_ID_LENGTH} printable ASCII characters"
        )
    return value


def unix_time(value: str, name: str) -> int:
    """``value`` as whole seconds since the epoch; anything else is a rejection."""
    if not value.isascii() or not value.isdigit() or len(value) > MAX_TIMESTAMP_DIGITS:
        raise WebhookRejectedError(f"the {name} is not a unix time in whole seconds")
    return int(value)


def check_timestamp(timestamp: int, now: datetime, tolerance_seconds: int) -> None:
    """Refuse a message signed further than ``tolerance_seconds`` from ``now``, either way.

    An old one may be a captured message sent again after the replay guard
    forgot it; a future one would stay valid for too long.
    """
    drift = timestamp - now.timestamp()
    if drift < -tolerance_seconds:
        raise WebhookRejectedError("the message timestamp is too old")
    if drift > tolerance_seconds:
        raise WebhookRejectedError("the message timestamp is too far in the future")


def json_object(body: bytes) -> dict[str, Any]:
    """The verified body as a JSON object."""
    try:
        payload = json.loads(body)
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise MalformedRequestError("The webhook body is not valid JSON.") from None
    if not isinstance(payload, dict):
        raise MalformedRequestError("The webhook body is not a JSON object.")
    return payload
