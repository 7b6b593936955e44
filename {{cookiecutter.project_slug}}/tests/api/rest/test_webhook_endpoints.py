"""Behaviour of /v1/webhook-endpoints, the same whichever database stores the endpoints."""

import base64
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

import httpx
import pytest
from fastapi import FastAPI

from {{ cookiecutter.package_name }}.api.rest.app import create_app
from {{ cookiecutter.package_name }}.auth.credentials import Credentials
from {{ cookiecutter.package_name }}.container import Container
from {{ cookiecutter.package_name }}.domain.clock import utc_now
from {{ cookiecutter.package_name }}.domain.webhooks import SECRET_BYTES
from {{ cookiecutter.package_name }}.settings import Settings
from tests.support import access
from tests.support.webhook_endpoints import (
    LOOPBACK_URL,
    PUBLIC_URL,
    REFUSED_URLS,
    give_up_due_deliveries,
    production_destinations,
)

ENDPOINTS = "/v1/webhook-endpoints"
ORDER = {
    "customer_id": "webhooks",
    "currency": "EUR",
    "lines": [{"sku": "SKU-1", "quantity": 1, "unit_price_minor": 100}],
}


def error_of(response: httpx.Response) -> dict[str, Any]:
    body = response.json()
    assert set(body) == {"error"}, body
    error: dict[str, Any] = body["error"]
    return error


def fields_of(response: httpx.Response) -> list[str]:
    return [detail["field"] for detail in error_of(response)["details"]]


async def create(client: httpx.AsyncClient, **body: Any) -> dict[str, Any]:
    response = await client.post(ENDPOINTS, json={"url": LOOPBACK_URL} | body)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


def container_of(app: FastAPI) -> Container:
    container: Container = app.state.container
    return container


class OwnService:
    """The app on a database of this test alone, and a client that may do everything."""

    def __init__(self, app: FastAPI, client: httpx.AsyncClient) -> None:
        self.app = app
        self.client = client

    @property
    def container(self) -> Container:
        return container_of(self.app)


@pytest.fixture
async def own(
    fresh_database_settings: Settings, credentials: Credentials | None
) -> AsyncIterator[OwnService]:
    """The service on a database of its own: listings and claims see this test's rows only."""
    settings = fresh_database_settings.model_copy(
        update={
            "log_requests": False,
            "webhooks_allow_http": True,
            "webhooks_allow_private_addresses": True,
        }
    )
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(
            transport=transport, base_url="http://testserver", headers=access.headers(credentials)
        ) as client:
            yield OwnService(app, client)


async def test_create_returns_the_endpoint_and_its_secret_once(client: httpx.AsyncClient) -> None:
    response = await client.post(
        ENDPOINTS,
        json={"url": LOOPBACK_URL, "event_types": ["order.created.v1"], "description": "crm"},
    )

    assert response.status_code == 201, response.text
    created = response.json()
    assert response.headers["location"] == f"{ENDPOINTS}/{created['id']}"
    assert response.headers["etag"] == '"v1"'
    assert response.headers["cache-control"] == "no-store"
    assert created["status"] == "active"
    assert created["disabled_reason"] is None
    assert created["event_types"] == ["order.created.v1"]
    assert created["version"] == 1
    secret = created["secret"]
    assert secret.startswith("whsec_")
    assert len(base64.b64decode(secret.removeprefix("whsec_"), validate=True)) >= 24
    assert len(base64.b64decode(secret.removeprefix("whsec_"))) == SECRET_BYTES
    assert [hint["hint"] for hint in created["secrets"]] == [f"{secret[:10]}..."]


async def test_reads_never_show_the_secret(client: httpx.AsyncClient) -> None:
    created = await create(client)
    url = f"{ENDPOINTS}/{created['id']}"

    read = await client.get(url)
    listed = await client.get(ENDPOINTS, params={"limit": 100})
    changed = await client.patch(url, json={"description": "changed"})

    assert read.status_code == 200
    assert "secret" not in read.json()
    assert read.json() | {"secret": created["secret"]} == created
    for response in (read, listed, changed):
        assert created["secret"] not in response.text
        assert created["secret"].removeprefix("whsec_") not in response.text


async def test_event_types_default_to_all_of_them(client: httpx.AsyncClient) -> None:
    created = await create(client)

    assert created["event_types"] == []


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"event_types": ["order.shipped.v9"]}, "event_types[0]"),
        ({"url": ""}, "url"),
        ({"url": "https://1.1.1.1/" + "a" * 2048}, "url"),
        ({"description": "d" * 501}, "description"),
        ({"description": "a\x00b"}, "description"),
        ({"secret": "whsec_bXlvd24="}, "secret"),
    ],
)
async def test_invalid_create_is_422_naming_the_field(
    client: httpx.AsyncClient, body: dict[str, Any], field: str
) -> None:
    response = await client.post(ENDPOINTS, json={"url": LOOPBACK_URL} | body)

    assert response.status_code == 422
    assert error_of(response)["code"] == "validation_failed"
    assert field in fields_of(response)


async def test_refused_destinations_are_422_and_nothing_is_stored(
    fresh_database_settings: Settings, credentials: Credentials | None
) -> None:
    strict = production_destinations(fresh_database_settings)
    app = create_app(strict)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(
            transport=transport, base_url="http://testserver", headers=access.headers(credentials)
        ) as client:
            refusals = {
                url: await client.post(ENDPOINTS, json={"url": url}) for url in REFUSED_URLS
            }
            listed = await client.get(ENDPOINTS)
            accepted = await client.post(ENDPOINTS, json={"url": PUBLIC_URL})

    for url, response in refusals.items():
        assert response.status_code == 422, url
        assert error_of(response)["code"] == "validation_failed", url
        assert fields_of(response) == ["url"], url
        assert "cannot receive webhooks" in error_of(response)["details"][0]["message"], url
    assert listed.json()["data"] == []
    assert accepted.status_code == 201, accepted.text


async def test_cloud_metadata_and_credentials_are_refused_even_where_loopback_is_allowed(
    client: httpx.AsyncClient,
) -> None:
    for url in ("http://169.254.169.254/latest", "http://user:secret@127.0.0.1:9/hooks"):
        response = await client.post(ENDPOINTS, json={"url": url})
        assert response.status_code == 422, url
        assert fields_of(response) == ["url"]


async def test_list_pages_newest_first_by_cursor(own: OwnService) -> None:
    created = [await create(own.client, description=f"endpoint {n}") for n in range(3)]

    first = await own.client.get(ENDPOINTS, params={"limit": 2})
    second = await own.client.get(first.json()["pagination"]["next"])

    assert first.status_code == second.status_code == 200
    pages = [first.json(), second.json()]
    assert [e["id"] for page in pages for e in page["data"]] == [e["id"] for e in reversed(created)]
    assert pages[0]["pagination"]["limit"] == 2
    assert pages[0]["pagination"]["next_cursor"] is not None
    assert pages[1]["pagination"] == {"limit": 2, "next_cursor": None, "next": None}
    assert all("secret" not in endpoint for page in pages for endpoint in page["data"])


async def test_a_foreign_cursor_is_400(client: httpx.AsyncClient) -> None:
    response = await client.get(ENDPOINTS, params={"cursor": "not-a-cursor"})

    assert response.status_code == 400
    assert fields_of(response) == ["cursor"]


async def test_get_unknown_endpoint_is_404(client: httpx.AsyncClient) -> None:
    response = await client.get(f"{ENDPOINTS}/{uuid4()}")

    assert response.status_code == 404
    assert error_of(response)["code"] == "not_found"


async def test_patch_with_if_match_changes_the_endpoint(client: httpx.AsyncClient) -> None:
    created = await create(client)
    url = f"{ENDPOINTS}/{created['id']}"

    response = await client.patch(
        url,
        json={"description": "billing", "event_types": ["order.updated.v1", "order.deleted.v1"]},
        headers={"If-Match": '"v1"', "content-type": "application/merge-patch+json"},
    )

    assert response.status_code == 200, response.text
    changed = response.json()
    assert response.headers["etag"] == '"v2"'
    assert changed["description"] == "billing"
    assert changed["event_types"] == ["order.deleted.v1", "order.updated.v1"]
    assert changed["version"] == 2
    assert (await client.get(url)).json() == changed


async def test_patch_with_a_stale_etag_is_412_and_changes_nothing(
    client: httpx.AsyncClient,
) -> None:
    created = await create(client)
    url = f"{ENDPOINTS}/{created['id']}"
    await client.patch(url, json={"description": "first"}, headers={"If-Match": '"v1"'})

    response = await client.patch(url, json={"description": "second"}, headers={"If-Match": '"v1"'})

    assert response.status_code == 412
    assert error_of(response)["code"] == "version_mismatch"
    assert (await client.get(url)).json()["description"] == "first"


async def test_a_new_url_is_checked_again(client: httpx.AsyncClient) -> None:
    created = await create(client)
    url = f"{ENDPOINTS}/{created['id']}"

    refused = await client.patch(url, json={"url": "https://169.254.169.254/latest"})
    accepted = await client.patch(url, json={"url": PUBLIC_URL})

    assert refused.status_code == 422
    assert fields_of(refused) == ["url"]
    assert accepted.status_code == 200
    assert accepted.json()["url"] == PUBLIC_URL
    assert accepted.json()["version"] == 2


async def test_an_empty_patch_is_422(client: httpx.AsyncClient) -> None:
    created = await create(client)

    response = await client.patch(f"{ENDPOINTS}/{created['id']}", json={})

    assert response.status_code == 422


async def test_disable_with_a_reason_then_enable(client: httpx.AsyncClient) -> None:
    created = await create(client)
    url = f"{ENDPOINTS}/{created['id']}"

    disabled = await client.patch(
        url, json={"status": "disabled", "disabled_reason": "receiver in maintenance"}
    )
    enabled = await client.patch(url, json={"status": "active"})
    by_default = await client.patch(url, json={"status": "disabled"})

    assert disabled.status_code == 200, disabled.text
    assert disabled.json()["status"] == "disabled"
    assert disabled.json()["disabled_reason"] == "receiver in maintenance"
    assert enabled.json()["status"] == "active"
    assert enabled.json()["disabled_reason"] is None
    assert by_default.json()["disabled_reason"] == "disabled through the API"
    assert by_default.json()["version"] == 4


async def test_a_reason_without_disabling_is_422(client: httpx.AsyncClient) -> None:
    created = await create(client)

    response = await client.patch(
        f"{ENDPOINTS}/{created['id']}", json={"disabled_reason": "no status"}
    )

    assert response.status_code == 422
    assert fields_of(response) == ["disabled_reason"]


async def test_rotation_returns_a_new_secret_and_both_sign_until_the_overlap_ends(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    created = await create(client)
    url = f"{ENDPOINTS}/{created['id']}"

    response = await client.post(
        f"{url}/secret/rotate", json={"overlap_seconds": 3600}, headers={"If-Match": '"v1"'}
    )

    assert response.status_code == 200, response.text
    rotated = response.json()
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["etag"] == '"v2"'
    new = rotated["secret"]
    assert new.startswith("whsec_")
    assert new != created["secret"]
    old_hint, new_hint = rotated["secrets"]
    assert new_hint == {
        "hint": f"{new[:10]}...",
        "created_at": new_hint["created_at"],
        "expires_at": None,
    }
    ends = datetime.fromisoformat(old_hint["expires_at"])
    assert timedelta(minutes=59) < ends - utc_now() <= timedelta(hours=1)
    read = (await client.get(url)).json()
    assert new not in str(read)
    assert read["secrets"] == rotated["secrets"]

    stored = await container_of(app).webhooks.endpoints.get(UUID(created["id"]))
    assert stored is not None
    signing = [secret.value for secret in stored.signing_secrets(utc_now())]
    assert signing == [created["secret"], new]
    assert [secret.value for secret in stored.signing_secrets(ends)] == [new]


async def test_rotation_overlaps_by_the_setting_unless_asked_for_less(
    app: FastAPI, client: httpx.AsyncClient, settings: Settings
) -> None:
    created = await create(client)
    url = f"{ENDPOINTS}/{created['id']}"
    longest = settings.webhooks_secret_rotation_overlap_seconds

    by_default = await client.post(f"{url}/secret/rotate")
    too_long = await client.post(f"{url}/secret/rotate", json={"overlap_seconds": longest + 1})
    at_once = await client.post(f"{url}/secret/rotate", json={"overlap_seconds": 0})

    assert by_default.status_code == 200, by_default.text
    ends = datetime.fromisoformat(by_default.json()["secrets"][0]["expires_at"])
    assert ends - utc_now() > timedelta(seconds=longest - 60)
    assert too_long.status_code == 422
    assert fields_of(too_long) == ["overlap_seconds"]
    assert at_once.status_code == 200
    assert [hint["hint"] for hint in at_once.json()["secrets"]] == [
        f"{at_once.json()['secret'][:10]}..."
    ]
    stored = await container_of(app).webhooks.endpoints.get(UUID(created["id"]))
    assert stored is not None
    assert [s.value for s in stored.signing_secrets(utc_now())] == [at_once.json()["secret"]]


async def test_rotation_with_a_stale_etag_is_412(client: httpx.AsyncClient) -> None:
    created = await create(client)
    url = f"{ENDPOINTS}/{created['id']}"
    await client.patch(url, json={"description": "changed"})

    response = await client.post(f"{url}/secret/rotate", headers={"If-Match": '"v1"'})

    assert response.status_code == 412


async def test_delete_removes_the_endpoint(client: httpx.AsyncClient) -> None:
    created = await create(client)
    url = f"{ENDPOINTS}/{created['id']}"

    stale = await client.delete(url, headers={"If-Match": '"v9"'})
    deleted = await client.delete(url, headers={"If-Match": '"v1"'})
    again = await client.delete(url)

    assert stale.status_code == 412
    assert deleted.status_code == 204
    assert (await client.get(url)).status_code == 404
    assert again.status_code == 404


async def place_and_confirm(client: httpx.AsyncClient) -> str:
    """An order placed and confirmed through the API: two events, order.created and .updated."""
    placed = await client.post("/v1/orders", json=ORDER)
    assert placed.status_code == 201, placed.text
    order_id: str = placed.json()["id"]
    confirmed = await client.patch(f"/v1/orders/{order_id}", json={"status": "confirmed"})
    assert confirmed.status_code == 200, confirmed.text
    return order_id


async def test_an_order_change_is_listed_as_a_delivery_to_each_subscribed_endpoint(
    own: OwnService,
) -> None:
    every = await create(own.client)
    updates = await create(own.client, event_types=["order.updated.v1"])
    await create(own.client, event_types=["order.deleted.v1"])

    order_id = await place_and_confirm(own.client)

    to_every = await own.client.get(f"{ENDPOINTS}/{every['id']}/deliveries")
    to_updates = await own.client.get(f"{ENDPOINTS}/{updates['id']}/deliveries")
    assert to_every.status_code == 200, to_every.text
    deliveries = to_every.json()["data"]
    assert [d["event_type"] for d in deliveries] == ["order.updated.v1", "order.created.v1"]
    assert all(d["status"] == "pending" and d["attempts"] == 0 for d in deliveries)
    assert all(d["message_id"].startswith("msg_") for d in deliveries)
    assert all(order_id in d["body"] for d in deliveries)
    assert [d["event_type"] for d in to_updates.json()["data"]] == ["order.updated.v1"]
    assert to_updates.json()["data"][0]["message_id"] == deliveries[0]["message_id"]


async def test_deliveries_page_and_filter_by_status(own: OwnService) -> None:
    endpoint = await create(own.client)
    await place_and_confirm(own.client)
    await give_up_due_deliveries(own.container.webhooks)
    await place_and_confirm(own.client)
    deliveries = f"{ENDPOINTS}/{endpoint['id']}/deliveries"

    first = await own.client.get(deliveries, params={"limit": 3})
    second = await own.client.get(first.json()["pagination"]["next"])
    failed = await own.client.get(deliveries, params={"status": "failed"})
    pending = await own.client.get(deliveries, params={"status": "pending"})

    assert len(first.json()["data"]) == 3
    assert len(second.json()["data"]) == 1
    assert second.json()["pagination"]["next"] is None
    assert [d["status"] for d in failed.json()["data"]] == ["failed", "failed"]
    assert [d["status"] for d in pending.json()["data"]] == ["pending", "pending"]
    assert {d["id"] for d in failed.json()["data"] + pending.json()["data"]} == {
        d["id"] for d in first.json()["data"] + second.json()["data"]
    }


async def test_a_failed_delivery_shows_its_attempts_and_is_replayed(own: OwnService) -> None:
    endpoint = await create(own.client)
    await place_and_confirm(own.client)
    (failed, _) = await give_up_due_deliveries(own.container.webhooks)
    url = f"{ENDPOINTS}/{endpoint['id']}/deliveries/{failed.id}"

    read = await own.client.get(url)
    attempts = await own.client.get(f"{url}/attempts")
    replayed = await own.client.post(f"{url}/replay")
    again = await own.client.post(f"{url}/replay")
    kept = await own.client.get(f"{url}/attempts")

    assert read.json()["status"] == "failed"
    assert read.json()["last_status_code"] == 500
    assert attempts.status_code == 200, attempts.text
    assert attempts.json()["data"] == [
        {
            "number": 1,
            "attempted_at": attempts.json()["data"][0]["attempted_at"],
            "duration_seconds": 0.25,
            "status_code": 500,
            "response_excerpt": "the receiver is down",
            "error": None,
            "succeeded": False,
        }
    ]
    assert replayed.status_code == 202, replayed.text
    assert replayed.json()["status"] == "pending"
    assert replayed.json()["attempts"] == 0
    assert replayed.json()["next_attempt_at"] is not None
    assert replayed.json()["message_id"] == read.json()["message_id"]
    assert again.status_code == 409
    assert error_of(again)["code"] == "invalid_state_transition"
    assert kept.json() == attempts.json()


async def test_every_failed_delivery_of_an_endpoint_is_replayed_at_once(own: OwnService) -> None:
    endpoint = await create(own.client)
    other = await create(own.client)
    await place_and_confirm(own.client)
    await give_up_due_deliveries(own.container.webhooks)

    replayed = await own.client.post(f"{ENDPOINTS}/{endpoint['id']}/deliveries/replay")
    again = await own.client.post(f"{ENDPOINTS}/{endpoint['id']}/deliveries/replay")

    assert replayed.status_code == 202, replayed.text
    assert replayed.json() == {"replayed": 2}
    assert again.json() == {"replayed": 0}
    listed = await own.client.get(f"{ENDPOINTS}/{endpoint['id']}/deliveries")
    assert [d["status"] for d in listed.json()["data"]] == ["pending", "pending"]
    others = await own.client.get(f"{ENDPOINTS}/{other['id']}/deliveries")
    assert [d["status"] for d in others.json()["data"]] == ["failed", "failed"]


async def test_a_disabled_endpoint_replays_nothing(own: OwnService) -> None:
    endpoint = await create(own.client)
    await place_and_confirm(own.client)
    (failed, _) = await give_up_due_deliveries(own.container.webhooks)
    url = f"{ENDPOINTS}/{endpoint['id']}"
    await own.client.patch(url, json={"status": "disabled"})

    one = await own.client.post(f"{url}/deliveries/{failed.id}/replay")
    every = await own.client.post(f"{url}/deliveries/replay")

    assert one.status_code == every.status_code == 409
    assert "enable it" in error_of(every)["message"]


async def test_a_delivery_is_found_under_its_own_endpoint_only(own: OwnService) -> None:
    endpoint = await create(own.client)
    other = await create(own.client, event_types=["order.deleted.v1"])
    await place_and_confirm(own.client)
    listed = await own.client.get(f"{ENDPOINTS}/{endpoint['id']}/deliveries")
    delivery_id = listed.json()["data"][0]["id"]

    elsewhere = f"{ENDPOINTS}/{other['id']}/deliveries/{delivery_id}"
    responses = [
        await own.client.get(elsewhere),
        await own.client.get(f"{elsewhere}/attempts"),
        await own.client.post(f"{elsewhere}/replay"),
        await own.client.get(f"{ENDPOINTS}/{uuid4()}/deliveries"),
    ]

    assert [response.status_code for response in responses] == [404] * 4


async def test_deleting_an_endpoint_deletes_its_deliveries(own: OwnService) -> None:
    endpoint = await create(own.client)
    await place_and_confirm(own.client)
    listed = await own.client.get(f"{ENDPOINTS}/{endpoint['id']}/deliveries")
    (delivery, _) = listed.json()["data"]

    await own.client.delete(f"{ENDPOINTS}/{endpoint['id']}")

    assert await own.container.webhooks.deliveries.get(UUID(delivery["id"])) is None


async def test_a_concrete_path_allows_its_own_methods_not_those_of_a_template_it_matches(
    client: httpx.AsyncClient,
) -> None:
    deliveries = f"{ENDPOINTS}/{uuid4()}/deliveries"

    replay = await client.options(f"{deliveries}/replay")  # also matches .../{delivery_id}
    delivery = await client.options(f"{deliveries}/{uuid4()}")

    assert (replay.status_code, replay.headers["allow"]) == (405, "POST")
    assert (delivery.status_code, delivery.headers["allow"]) == (405, "GET")
