"""The verification schemes, against the reference library and the providers' own examples.

No server: a scheme is a pure function of the headers, the raw body, the
secrets and the time. The reference Standard Webhooks library signs what we
verify and verifies what we sign (our signer is the ``deliver`` worker's).
"""

import base64
import hashlib
import hmac
import json
import secrets
from datetime import UTC, datetime, timedelta

import pytest
from pydantic import SecretStr
from standardwebhooks import Webhook

from {{ cookiecutter.package_name }}.domain.errors import MalformedRequestError
from {{ cookiecutter.package_name }}.settings import ConfigurationError, WebhookSourceSettings
from {{ cookiecutter.package_name }}.webhooks.signatures import signature_header, signed_headers
from {{ cookiecutter.package_name }}.webhooks.sources import WebhookSource, scheme_for
from {{ cookiecutter.package_name }}.webhooks.verification.github import GitHubSignature
from {{ cookiecutter.package_name }}.webhooks.verification.port import (
    InvalidSecretError,
    WebhookRejectedError,
)
from {{ cookiecutter.package_name }}.webhooks.verification.standard import StandardWebhooks, secret_key
from {{ cookiecutter.package_name }}.webhooks.verification.stripe import StripeSignature
from tests.support.inbound_webhooks import new_secret, signed

BODY = b'{"type":"payment.succeeded","data":{"order_id":"7d3c9f1e-0000-4000-8000-000000000001"}}'
TOLERANCE = 300


def now() -> datetime:
    return datetime.now(UTC)


def standard(*secrets_: str) -> StandardWebhooks:
    return StandardWebhooks(secrets_, tolerance_seconds=TOLERANCE)


def rejection(scheme: object, headers: dict[str, str], body: bytes = BODY) -> WebhookRejectedError:
    with pytest.raises(WebhookRejectedError) as caught:
        scheme.verify(headers, body, now())  # type: ignore[attr-defined]
    return caught.value


# Standard Webhooks


def test_what_the_reference_library_signs_is_verified() -> None:
    secret = new_secret()

    message = standard(secret).verify(signed(secret, BODY, message_id="msg_1"), BODY, now())

    assert message.message_id == "msg_1"
    assert message.payload == json.loads(BODY)


def test_what_we_sign_with_several_keys_the_reference_library_verifies_with_each() -> None:
    old, new = new_secret(), new_secret(24)
    timestamp = int(now().timestamp())
    headers = signed_headers("msg_2", timestamp, BODY, [secret_key(old), secret_key(new)])

    assert len(headers["webhook-signature"].split()) == 2
    for secret in (old, new):
        assert Webhook(secret).verify(BODY, headers) == json.loads(BODY)
    with pytest.raises(Exception, match="No matching signature"):
        Webhook(new_secret()).verify(BODY, headers)


def test_during_a_rotation_either_secret_is_accepted() -> None:
    old, new = new_secret(), new_secret()
    scheme = standard(old, new)

    for secret in (old, new):
        assert scheme.verify(signed(secret, BODY), BODY, now()).payload == json.loads(BODY)


def test_every_signature_of_the_header_is_tried() -> None:
    secret, other = new_secret(), new_secret()
    headers = signed(secret, BODY)
    timestamp = int(headers["webhook-timestamp"])
    foreign = signature_header(headers["webhook-id"], timestamp, BODY, [secret_key(other)])
    headers["webhook-signature"] = f"v1a,c2lnbmVk {foreign} {headers['webhook-signature']}"

    assert standard(secret).verify(headers, BODY, now()).message_id == headers["webhook-id"]


def test_a_wrong_secret_is_refused() -> None:
    refused = rejection(standard(new_secret()), signed(new_secret(), BODY, message_id="msg_3"))

    assert refused.reason == "no signature matches a secret of the source"
    assert refused.message_id == "msg_3"


def test_a_tampered_body_is_refused() -> None:
    secret = new_secret()
    headers = signed(secret, BODY)

    refused = rejection(standard(secret), headers, BODY.replace(b"succeeded", b"failed"))

    assert refused.reason == "no signature matches a secret of the source"


@pytest.mark.parametrize(
    ("offset", "reason"),
    [
        (-TOLERANCE - 5, "the message timestamp is too old"),
        (TOLERANCE + 5, "the message timestamp is too far in the future"),
    ],
)
def test_a_timestamp_past_the_tolerance_is_refused_either_way(offset: int, reason: str) -> None:
    secret = new_secret()
    headers = signed(secret, BODY, timestamp=now() + timedelta(seconds=offset))

    assert rejection(standard(secret), headers).reason == reason


@pytest.mark.parametrize("offset", [-TOLERANCE + 5, TOLERANCE - 5])
def test_a_timestamp_within_the_tolerance_is_accepted_either_way(offset: int) -> None:
    secret = new_secret()
    headers = signed(secret, BODY, timestamp=now() + timedelta(seconds=offset))

    assert standard(secret).verify(headers, BODY, now()).payload


@pytest.mark.parametrize("missing", ["webhook-id", "webhook-timestamp", "webhook-signature"])
def test_a_missing_header_is_refused(missing: str) -> None:
    secret = new_secret()
    headers = signed(secret, BODY)
    del headers[missing]

    assert rejection(standard(secret), headers).reason == f"the {missing} header is missing"


@pytest.mark.parametrize(
    ("signature", "reason"),
    [
        ("v1", "the webhook-signature header is malformed"),
        (",abc", "the webhook-signature header is malformed"),
        ("v1,not base64!", "a v1 signature is not base64"),
        ("v1,AAAA", "a v1 signature is not 32 bytes"),
        ("v1a,c2lnbmVk v2,c2lnbmVk", "the webhook-signature header has no v1 signature"),
    ],
)
def test_a_malformed_signature_header_is_a_reason_not_an_exception(
    signature: str, reason: str
) -> None:
    secret = new_secret()
    headers = signed(secret, BODY) | {"webhook-signature": signature}

    assert rejection(standard(secret), headers).reason == reason


@pytest.mark.parametrize("timestamp", ["", "12.5", "-5", "1e9", "\uff11\uff12\uff13", "9" * 13])
def test_a_timestamp_that_is_not_whole_unix_seconds_is_refused(timestamp: str) -> None:
    secret = new_secret()
    headers = signed(secret, BODY) | {"webhook-timestamp": timestamp}

    assert "webhook-timestamp" in rejection(standard(secret), headers).reason


@pytest.mark.parametrize("message_id", ["m" * 201, "msg\x00one", "msg_é"])
def test_an_unusable_message_id_is_refused(message_id: str) -> None:
    secret = new_secret()
    headers = signed(secret, BODY) | {"webhook-id": message_id}

    assert "webhook-id must be" in rejection(standard(secret), headers).reason


def test_a_source_without_secrets_refuses_everything() -> None:
    headers = signed(new_secret(), BODY)

    assert rejection(standard(), headers).reason == "the source has no secrets configured"


@pytest.mark.parametrize("body", [b"{not json", b"[1, 2]", b"\xff\xfe"])
def test_a_verified_body_that_is_not_a_json_object_is_malformed(body: bytes) -> None:
    secret = new_secret()
    message_id, timestamp = "msg_4", int(now().timestamp())
    headers = signed_headers(message_id, timestamp, body, [secret_key(secret)])

    with pytest.raises(MalformedRequestError):
        standard(secret).verify(headers, body, now())


def test_reasons_never_carry_the_secret_or_the_signature() -> None:
    secret = new_secret()
    headers = signed(new_secret(), BODY)
    refused = rejection(standard(secret), headers)

    assert secret not in str(refused)
    assert headers["webhook-signature"].split(",")[1] not in str(refused)


@pytest.mark.parametrize(
    ("secret", "problem"),
    [
        ("c2VjcmV0LXdpdGhvdXQtcHJlZml4LTAxMjM0NTY3", "does not start with whsec_"),
        ("whsec_not*base64", "is not whsec_ and base64"),
        ("whsec_" + base64.b64encode(bytes(16)).decode(), "encodes 16 bytes, not 24 to 64"),
        ("whsec_" + base64.b64encode(bytes(65)).decode(), "encodes 65 bytes, not 24 to 64"),
    ],
)
def test_a_secret_the_scheme_cannot_use_is_refused(secret: str, problem: str) -> None:
    with pytest.raises(InvalidSecretError, match=problem):
        standard(new_secret(), secret)


def test_a_secret_without_base64_padding_is_accepted() -> None:
    secret = "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode().rstrip("=")

    assert standard(secret).verify(signed(secret, BODY), BODY, now()).payload


def test_an_unusable_secret_stops_start_up_naming_the_variable_not_the_secret() -> None:
    bad = "whsec_" + base64.b64encode(b"too short").decode()
    settings = WebhookSourceSettings(secrets=SecretStr(f"{new_secret()} {bad}"))

    with pytest.raises(
        ConfigurationError, match="WEBHOOKS_PAYMENTS__SECRETS: secret 2 of 2"
    ) as caught:
        WebhookSource.configured("payments", settings, handler=None)  # type: ignore[arg-type]

    assert bad not in str(caught.value)


@pytest.mark.parametrize(
    ("scheme", "kind"),
    [("standard", StandardWebhooks), ("github", GitHubSignature), ("stripe", StripeSignature)],
)
def test_the_setting_chooses_the_scheme(scheme: str, kind: type) -> None:
    settings = WebhookSourceSettings.model_validate({"scheme": scheme, "secrets": new_secret()})

    assert isinstance(scheme_for(settings), kind)


# GitHub

# GitHub's documented example ("Validating webhook deliveries").
GITHUB_SECRET = "It's a Secret to Everybody"  # noqa: S105 - GitHub's published example
GITHUB_BODY = b"Hello, World!"
GITHUB_SIGNATURE = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"


def github_headers(secret: str, body: bytes, delivery: str = "72d3162e-cc78") -> dict[str, str]:
    digest = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return {"x-hub-signature-256": f"sha256={digest}", "x-github-delivery": delivery}


def test_github_s_own_example_signature_matches() -> None:
    headers = {"x-hub-signature-256": GITHUB_SIGNATURE, "x-github-delivery": "d-1"}

    with pytest.raises(MalformedRequestError):  # verified; the body is simply not JSON
        GitHubSignature([GITHUB_SECRET]).verify(headers, GITHUB_BODY, now())
    assert github_headers(GITHUB_SECRET, GITHUB_BODY)["x-hub-signature-256"] == GITHUB_SIGNATURE


def test_a_github_delivery_is_verified_by_either_secret_of_a_rotation() -> None:
    scheme = GitHubSignature(["old secret", "new secret"])

    for secret in ("old secret", "new secret"):
        message = scheme.verify(github_headers(secret, BODY, "d-2"), BODY, now())
        assert (message.message_id, message.payload) == ("d-2", json.loads(BODY))


@pytest.mark.parametrize(
    ("headers", "reason"),
    [
        (github_headers("forged", BODY), "no signature matches a secret of the source"),
        ({"x-github-delivery": "d-3"}, "the x-hub-signature-256 header is missing"),
        (
            {"x-hub-signature-256": github_headers("s", BODY)["x-hub-signature-256"]},
            "the x-github-delivery header is missing",
        ),
        (
            {"x-hub-signature-256": "sha1=abc", "x-github-delivery": "d-4"},
            "the x-hub-signature-256 header is malformed",
        ),
        (
            {"x-hub-signature-256": "sha256=" + "zz" * 32, "x-github-delivery": "d-5"},
            "the x-hub-signature-256 header is malformed",
        ),
    ],
)
def test_a_forged_or_malformed_github_delivery_is_refused(
    headers: dict[str, str], reason: str
) -> None:
    assert rejection(GitHubSignature(["s"]), headers).reason == reason


def test_a_tampered_github_body_is_refused() -> None:
    headers = github_headers("s", BODY)

    assert rejection(GitHubSignature(["s"]), headers, BODY + b" ").reason.startswith("no signature")


# Stripe

STRIPE_SECRET = "whsec_test_secret_" + "a" * 24
EVENT = json.dumps({"id": "evt_1", "type": "payment.succeeded", "data": {"order_id": "x"}}).encode()


def stripe_header(*secrets_: str, timestamp: int | None = None, body: bytes = EVENT) -> str:
    """Stripe's documented scheme: t=, then one hex v1 HMAC of "<t>.<body>" per secret."""
    timestamp = int(now().timestamp()) if timestamp is None else timestamp
    signed_payload = f"{timestamp}.".encode() + body
    signatures = [
        "v1=" + hmac.new(s.encode(), signed_payload, hashlib.sha256).hexdigest() for s in secrets_
    ]
    return ",".join([f"t={timestamp}", *signatures, "v0=6ffbb59b2300aae63f27240606"])


def stripe(*secrets_: str) -> StripeSignature:
    return StripeSignature(secrets_, tolerance_seconds=TOLERANCE)


def test_a_stripe_event_is_verified_and_keyed_by_its_id() -> None:
    message = stripe(STRIPE_SECRET).verify(
        {"stripe-signature": stripe_header(STRIPE_SECRET)}, EVENT, now()
    )

    assert (message.message_id, message.payload["type"]) == ("evt_1", "payment.succeeded")


def test_a_stripe_event_signed_during_a_roll_matches_either_secret() -> None:
    old, new = STRIPE_SECRET, "whsec_rolled_" + "b" * 24
    header = stripe_header("whsec_unrelated", new)

    assert stripe(old, new).verify({"stripe-signature": header}, EVENT, now()).message_id == "evt_1"


@pytest.mark.parametrize(
    ("header", "reason"),
    [
        ("v1=" + "ab" * 32, "the stripe-signature header needs one timestamp (t=)"),
        ("t=1,t=2,v1=" + "ab" * 32, "the stripe-signature header needs one timestamp (t=)"),
        ("t=1700000000", "the stripe-signature header has no v1 signature"),
        ("t=1700000000,v1", "the stripe-signature header is malformed"),
        ("t=1700000000,v1=xyz", "a v1 signature is not hex"),
        ("t=1700000000,v1=abcd", "a v1 signature is not 32 bytes"),
        ("t=soon,v1=" + "ab" * 32, "the timestamp (t=) is not a unix time in whole seconds"),
    ],
)
def test_a_malformed_stripe_signature_header_is_refused(header: str, reason: str) -> None:
    assert rejection(stripe(STRIPE_SECRET), {"stripe-signature": header}, EVENT).reason == reason


@pytest.mark.parametrize(
    ("offset", "reason"),
    [
        (-TOLERANCE - 5, "the message timestamp is too old"),
        (TOLERANCE + 5, "the message timestamp is too far in the future"),
    ],
)
def test_a_stripe_timestamp_past_the_tolerance_is_refused(offset: int, reason: str) -> None:
    header = stripe_header(STRIPE_SECRET, timestamp=int(now().timestamp()) + offset)

    assert rejection(stripe(STRIPE_SECRET), {"stripe-signature": header}, EVENT).reason == reason


def test_a_forged_stripe_event_is_refused() -> None:
    header = stripe_header("whsec_forged")

    refused = rejection(stripe(STRIPE_SECRET), {"stripe-signature": header}, EVENT)

    assert refused.reason == "no signature matches a secret of the source"


def test_a_tampered_stripe_body_is_refused() -> None:
    header = stripe_header(STRIPE_SECRET)
    tampered = EVENT.replace(b"evt_1", b"evt_2")

    assert rejection(
        stripe(STRIPE_SECRET), {"stripe-signature": header}, tampered
    ).reason.startswith("no signature")


def test_a_verified_stripe_event_without_an_id_is_malformed() -> None:
    body = b'{"type": "payment.succeeded"}'
    header = stripe_header(STRIPE_SECRET, body=body)

    with pytest.raises(MalformedRequestError, match="no usable id"):
        stripe(STRIPE_SECRET).verify({"stripe-signature": header}, body, now())
