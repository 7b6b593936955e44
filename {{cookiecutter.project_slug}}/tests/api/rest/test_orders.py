"""Behaviour of /v1/orders, the same whichever database stores the orders."""

import asyncio
from datetime import datetime
from typing import Any
from uuid import uuid4

import httpx
import pytest

from {{ cookiecutter.package_name }}.settings import Settings
from tests.support import cursors
from tests.support.database import with_patient_transactions

ORDERS = "/v1/orders"


def new_order(customer_id: str, **overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "customer_id": customer_id,
        "currency": "EUR",
        "lines": [
            {"sku": "SKU-1", "quantity": 2, "unit_price_minor": 1250},
            {"sku": "SKU-2", "quantity": 1, "unit_price_minor": 500},
        ],
    }
    return body | overrides


async def create(client: httpx.AsyncClient, customer_id: str, **overrides: Any) -> dict[str, Any]:
    response = await client.post(ORDERS, json=new_order(customer_id) | overrides)
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def error_of(response: httpx.Response) -> dict[str, Any]:
    body = response.json()
    assert set(body) == {"error"}, body
    assert set(body["error"]) == {"code", "message", "details"}, body
    error: dict[str, Any] = body["error"]
    return error


async def test_create_returns_the_order_with_location_and_etag(
    client: httpx.AsyncClient, customer_id: str
) -> None:
    response = await client.post(ORDERS, json=new_order(customer_id))

    assert response.status_code == 201
    order = response.json()
    assert response.headers["location"] == f"{ORDERS}/{order['id']}"
    assert response.headers["etag"] == '"v1"'
    assert order["status"] == "pending"
    assert order["total_minor"] == 2 * 1250 + 500
    assert [line["amount_minor"] for line in order["lines"]] == [2500, 500]
    assert order["version"] == 1
    assert order["created_at"].endswith("Z")
    created_at = datetime.fromisoformat(order["created_at"])
    assert created_at.utcoffset() is not None
    assert created_at.utcoffset().total_seconds() == 0  # type: ignore[union-attr]


async def test_get_returns_what_create_stored(client: httpx.AsyncClient, customer_id: str) -> None:
    created = await create(client, customer_id)

    response = await client.get(f"{ORDERS}/{created['id']}")

    assert response.status_code == 200
    assert response.json() == created
    assert response.headers["etag"] == '"v1"'


async def test_get_unknown_order_is_404_envelope(client: httpx.AsyncClient) -> None:
    response = await client.get(f"{ORDERS}/{uuid4()}")

    assert response.status_code == 404
    assert error_of(response)["code"] == "not_found"


async def test_get_with_malformed_id_is_422_with_field(client: httpx.AsyncClient) -> None:
    response = await client.get(f"{ORDERS}/not-a-uuid")

    assert response.status_code == 422
    error = error_of(response)
    assert error["code"] == "validation_failed"
    assert [detail["field"] for detail in error["details"]] == ["order_id"]


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"currency": "euro"}, "currency"),
        ({"lines": []}, "lines"),
        ({"lines": [{"sku": "A", "quantity": 0, "unit_price_minor": 1}]}, "lines[0].quantity"),
        ({"lines": [{"sku": "", "quantity": 1, "unit_price_minor": 1}]}, "lines[0].sku"),
        ({"lines": [{"sku": "A", "quantity": True, "unit_price_minor": 1}]}, "lines[0].quantity"),
        ({"lines": [{"sku": "A", "quantity": 1.5, "unit_price_minor": 1}]}, "lines[0].quantity"),
        (
            {"lines": [{"sku": "A", "quantity": 1, "unit_price_minor": False}]},
            "lines[0].unit_price_minor",
        ),
        ({"customer_id": ""}, "customer_id"),
        ({"customer_id": "c\x00d"}, "customer_id"),
        ({"customer_id": "c\nd"}, "customer_id"),
        ({"unexpected": True}, "unexpected"),
    ],
)
async def test_invalid_create_is_422_naming_the_field(
    client: httpx.AsyncClient, customer_id: str, overrides: dict[str, Any], field: str
) -> None:
    response = await client.post(ORDERS, json=new_order(customer_id) | overrides)

    assert response.status_code == 422
    error = error_of(response)
    assert error["code"] == "validation_failed"
    assert field in [detail["field"] for detail in error["details"]]


async def test_malformed_json_is_400_envelope(client: httpx.AsyncClient) -> None:
    response = await client.post(
        ORDERS, content=b'{"customer_id": ', headers={"content-type": "application/json"}
    )

    assert response.status_code == 400
    assert error_of(response)["code"] == "malformed_request"


async def test_unknown_route_and_method_use_the_envelope(client: httpx.AsyncClient) -> None:
    missing = await client.get("/v1/nothing-here")
    wrong_method = await client.put(ORDERS)

    assert missing.status_code == 404
    assert error_of(missing)["code"] == "not_found"
    assert wrong_method.status_code == 405
    assert error_of(wrong_method)["code"] == "method_not_allowed"


@pytest.mark.parametrize(
    ("path", "allowed"),
    [
        (ORDERS, "GET, POST"),
        (f"{ORDERS}/00000000-0000-4000-8000-000000000000", "DELETE, GET, PATCH"),
    ],
)
async def test_a_method_not_allowed_lists_every_method_of_the_resource(
    client: httpx.AsyncClient, path: str, allowed: str
) -> None:
    response = await client.options(path)

    assert response.status_code == 405
    assert response.headers["allow"] == allowed


async def test_patch_changes_status_and_bumps_version(
    client: httpx.AsyncClient, customer_id: str
) -> None:
    created = await create(client, customer_id)

    response = await client.patch(
        f"{ORDERS}/{created['id']}",
        json={"status": "confirmed"},
        headers={"If-Match": '"v1"', "content-type": "application/merge-patch+json"},
    )

    assert response.status_code == 200, response.text
    assert response.json()["status"] == "confirmed"
    assert response.json()["version"] == 2
    assert response.headers["etag"] == '"v2"'
    assert response.json()["updated_at"] > created["updated_at"]


async def test_patch_with_stale_etag_is_412_and_changes_nothing(
    client: httpx.AsyncClient, customer_id: str
) -> None:
    created = await create(client, customer_id)
    url = f"{ORDERS}/{created['id']}"
    await client.patch(url, json={"status": "confirmed"}, headers={"If-Match": '"v1"'})

    response = await client.patch(url, json={"status": "cancelled"}, headers={"If-Match": '"v1"'})

    assert response.status_code == 412
    assert error_of(response)["code"] == "version_mismatch"
    assert (await client.get(url)).json()["status"] == "confirmed"


class TestConcurrentPatches:
    @pytest.fixture
    def settings(self, settings: Settings) -> Settings:
        """Each loser's unit of work runs until it sees the winner's version."""
        return with_patient_transactions(settings)

    async def test_patches_with_the_same_etag_let_exactly_one_win(
        self, client: httpx.AsyncClient, customer_id: str
    ) -> None:
        created = await create(client, customer_id)
        url = f"{ORDERS}/{created['id']}"

        responses = await asyncio.gather(
            *(
                client.patch(url, json={"status": status}, headers={"If-Match": '"v1"'})
                for status in ("confirmed", "cancelled", "confirmed", "cancelled")
            )
        )

        codes = sorted(response.status_code for response in responses)
        assert codes == [200, 412, 412, 412], [response.text for response in responses]
        assert (await client.get(url)).json()["version"] == 2


async def test_patch_rejects_a_forbidden_transition_with_409(
    client: httpx.AsyncClient, customer_id: str
) -> None:
    created = await create(client, customer_id)
    url = f"{ORDERS}/{created['id']}"
    await client.patch(url, json={"status": "cancelled"})

    response = await client.patch(url, json={"status": "shipped"})

    assert response.status_code == 409
    assert error_of(response)["code"] == "invalid_state_transition"


async def test_patch_lines_only_while_pending(client: httpx.AsyncClient, customer_id: str) -> None:
    created = await create(client, customer_id)
    url = f"{ORDERS}/{created['id']}"
    new_lines = [{"sku": "SKU-9", "quantity": 3, "unit_price_minor": 100}]

    changed = await client.patch(url, json={"lines": new_lines})
    await client.patch(url, json={"status": "confirmed"})
    refused = await client.patch(url, json={"lines": new_lines})

    assert changed.status_code == 200
    assert changed.json()["total_minor"] == 300
    assert refused.status_code == 409


async def test_empty_patch_is_422(client: httpx.AsyncClient, customer_id: str) -> None:
    created = await create(client, customer_id)

    response = await client.patch(f"{ORDERS}/{created['id']}", json={})

    assert response.status_code == 422


async def test_delete_with_if_match(client: httpx.AsyncClient, customer_id: str) -> None:
    created = await create(client, customer_id)
    url = f"{ORDERS}/{created['id']}"

    stale = await client.delete(url, headers={"If-Match": '"v7"'})
    deleted = await client.delete(url, headers={"If-Match": '"v1"'})
    again = await client.delete(url)

    assert stale.status_code == 412
    assert deleted.status_code == 204
    assert (await client.get(url)).status_code == 404
    assert again.status_code == 404


class TestIdempotencyKey:
    async def test_a_retry_replays_the_first_response(
        self, client: httpx.AsyncClient, customer_id: str
    ) -> None:
        headers = {"Idempotency-Key": f'"{uuid4()}"'}
        first = await client.post(ORDERS, json=new_order(customer_id), headers=headers)
        await client.patch(f"{ORDERS}/{first.json()['id']}", json={"status": "confirmed"})

        retry = await client.post(ORDERS, json=new_order(customer_id), headers=headers)

        assert first.status_code == retry.status_code == 201
        assert retry.json() == first.json()
        assert retry.headers["location"] == first.headers["location"]
        assert retry.headers["idempotent-replayed"] == "true"
        listing = await client.get(ORDERS, params={"customer_id": customer_id})
        assert len(listing.json()["data"]) == 1

    async def test_same_key_with_another_payload_is_422(
        self, client: httpx.AsyncClient, customer_id: str
    ) -> None:
        headers = {"Idempotency-Key": str(uuid4())}
        await client.post(ORDERS, json=new_order(customer_id), headers=headers)

        reused = await client.post(
            ORDERS, json=new_order(customer_id, currency="USD"), headers=headers
        )

        assert reused.status_code == 422
        assert error_of(reused)["code"] == "idempotency_key_reused"

    async def test_concurrent_requests_create_one_order(
        self, client: httpx.AsyncClient, customer_id: str
    ) -> None:
        headers = {"Idempotency-Key": str(uuid4())}

        responses = await asyncio.gather(
            *(client.post(ORDERS, json=new_order(customer_id), headers=headers) for _ in range(8))
        )

        assert {response.status_code for response in responses} <= {201, 409}
        created_ids = {r.json()["id"] for r in responses if r.status_code == 201}
        assert len(created_ids) == 1
        for conflict in (r for r in responses if r.status_code == 409):
            assert error_of(conflict)["code"] == "idempotency_key_in_use"
            assert conflict.headers["retry-after"] == "1"
        listing = await client.get(ORDERS, params={"customer_id": customer_id})
        assert [order["id"] for order in listing.json()["data"]] == list(created_ids)

    async def test_keys_are_independent(self, client: httpx.AsyncClient, customer_id: str) -> None:
        first = await client.post(
            ORDERS, json=new_order(customer_id), headers={"Idempotency-Key": str(uuid4())}
        )
        second = await client.post(
            ORDERS, json=new_order(customer_id), headers={"Idempotency-Key": str(uuid4())}
        )

        assert first.json()["id"] != second.json()["id"]

    @pytest.mark.parametrize("key", [b"", b'""', b"x" * 256, "caf\u00e9".encode()])
    async def test_malformed_key_is_400(
        self, client: httpx.AsyncClient, customer_id: str, key: bytes
    ) -> None:
        response = await client.post(
            ORDERS, json=new_order(customer_id), headers={b"Idempotency-Key": key}
        )

        assert response.status_code == 400
        assert error_of(response)["details"][0]["field"] == "Idempotency-Key"


class TestListing:
    async def test_cursor_pages_walk_every_order_once_newest_first(
        self, client: httpx.AsyncClient, customer_id: str
    ) -> None:
        created = [(await create(client, customer_id))["id"] for _ in range(5)]
        seen: list[str] = []
        url: str | None = f"{ORDERS}?customer_id={customer_id}&limit=2"

        while url is not None:
            page = (await client.get(url)).json()
            seen += [order["id"] for order in page["data"]]
            assert page["pagination"]["limit"] == 2
            url = page["pagination"]["next"]

        assert seen == list(reversed(created))

    async def test_offset_pages_report_total_and_next(
        self, client: httpx.AsyncClient, customer_id: str
    ) -> None:
        for _ in range(3):
            await create(client, customer_id)

        first = (
            await client.get(ORDERS, params={"customer_id": customer_id, "limit": 2, "offset": 0})
        ).json()
        last = (await client.get(first["pagination"]["next"])).json()

        assert first["pagination"] == {
            "limit": 2,
            "offset": 0,
            "total": 3,
            "next": f"{ORDERS}?customer_id={customer_id}&limit=2&offset=2",
        }
        assert len(last["data"]) == 1
        assert last["pagination"]["next"] is None

    async def test_filter_by_status(self, client: httpx.AsyncClient, customer_id: str) -> None:
        kept = await create(client, customer_id)
        other = await create(client, customer_id)
        await client.patch(f"{ORDERS}/{other['id']}", json={"status": "cancelled"})

        page = (
            await client.get(ORDERS, params={"customer_id": customer_id, "status": "pending"})
        ).json()

        assert [order["id"] for order in page["data"]] == [kept["id"]]

    @pytest.mark.parametrize(
        ("params", "status", "field"),
        [
            ({"limit": 0}, 422, "limit"),
            ({"limit": 101}, 422, "limit"),
            ({"offset": -1}, 422, "offset"),
            ({"status": "lost"}, 422, "status"),
            ({"customer_id": "c\x00d"}, 422, "customer_id"),
            ({"cursor": "not-a-cursor"}, 400, "cursor"),
            ({"cursor": cursors.BEFORE_YEAR_ONE}, 400, "cursor"),
            ({"cursor": cursors.AFTER_YEAR_9999}, 400, "cursor"),
            ({"cursor": cursors.WITHOUT_OFFSET}, 400, "cursor"),
            ({"cursor": "W10"}, 400, "cursor"),
            ({"offset": 0, "cursor": "abc"}, 400, "cursor"),
        ],
    )
    async def test_bad_paging_parameters(
        self, client: httpx.AsyncClient, params: dict[str, Any], status: int, field: str
    ) -> None:
        response = await client.get(ORDERS, params=params)

        assert response.status_code == status
        assert field in [detail["field"] for detail in error_of(response)["details"]]


async def test_request_id_is_echoed_or_generated(client: httpx.AsyncClient) -> None:
    echoed = await client.get("/healthz", headers={"X-Request-ID": "abc-123"})
    generated = await client.get("/healthz", headers={"X-Request-ID": "not a safe id"})

    assert echoed.headers["x-request-id"] == "abc-123"
    assert len(generated.headers["x-request-id"]) == 32
