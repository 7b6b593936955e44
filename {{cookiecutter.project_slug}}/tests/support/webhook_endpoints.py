"""What the tests of the webhook endpoints API share, whichever transport serves it."""

from dataclasses import replace
from datetime import timedelta

from {{ cookiecutter.package_name }}.domain.clock import utc_now
from {{ cookiecutter.package_name }}.domain.orders import to_stored_precision
from {{ cookiecutter.package_name }}.domain.webhooks import DeliveryAttempt, DeliveryStatus, WebhookDelivery
from {{ cookiecutter.package_name }}.settings import Settings
from {{ cookiecutter.package_name }}.storage.webhooks import WebhookStore

# A public address, accepted by the strictest settings; nothing ever connects to it here.
PUBLIC_URL = "https://1.1.1.1/hooks"
# Loopback: where the tests' receivers listen (the test settings allow it).
LOOPBACK_URL = "http://127.0.0.1:9/hooks"

# Destinations the production settings refuse, each for its own reason.
REFUSED_URLS = (
    "http://1.1.1.1/hooks",  # plain http
    "https://127.0.0.1/hooks",  # loopback
    "https://localhost/hooks",  # a name that resolves to loopback
    "https://10.1.2.3/hooks",  # private
    "https://[::1]/hooks",  # IPv6 loopback
    "https://[::ffff:192.168.0.1]/hooks",  # private, written as IPv6
    "https://169.254.169.254/latest/meta-data",  # cloud metadata
    "https://user:secret@1.1.1.1/hooks",  # credentials in the URL
    "https://1.1.1.1/hooks#fragment",  # a fragment
    "ftp://1.1.1.1/hooks",  # not http at all
)


def production_destinations(settings: Settings) -> Settings:
    """``settings`` with the destination guard as in production: https to public addresses."""
    return settings.model_copy(
        update={"webhooks_allow_http": False, "webhooks_allow_private_addresses": False}
    )


async def give_up_due_deliveries(
    store: WebhookStore, status_code: int = 500
) -> list[WebhookDelivery]:
    """Claim every due delivery and record one attempt after which each has failed for good.

    What the ``deliver`` worker does when the last retry of a delivery fails;
    the database must hold no other test's deliveries.
    """
    now = to_stored_precision(utc_now())
    claimed = await store.deliveries.claim("test", limit=1000, lease=timedelta(seconds=60), now=now)
    failed = []
    for claim in claimed:
        attempt = DeliveryAttempt(
            delivery_id=claim.delivery.id,
            number=claim.delivery.attempts + 1,
            attempted_at=now,
            duration_seconds=0.25,
            status_code=status_code,
            response_excerpt="the receiver is down",
        )
        given_up = replace(
            claim.delivery,
            status=DeliveryStatus.FAILED,
            attempts=attempt.number,
            next_attempt_at=None,
            updated_at=now,
            last_status_code=status_code,
            last_error=f"HTTP {status_code}",
        )
        assert await store.deliveries.record_attempt("test", given_up, attempt)
        failed.append(given_up)
    return failed
