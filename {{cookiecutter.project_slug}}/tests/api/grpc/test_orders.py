"""Every RPC of OrdersService over TCP, the same whichever database stores the orders."""

import asyncio
from datetime import UTC
from uuid import uuid4

import grpc
import pytest
from grpc import aio

from {{ cookiecutter.package_name }}.api.grpc.client import OrdersClient
from {{ cookiecutter.package_name }}.api.grpc.server import ORDERS_SERVICE
from {{ cookiecutter.package_name }}.orders.v1 import orders_pb2
from tests.api.grpc.calls import details_of, handled, new_order
from tests.api.grpc.guarded import failure
from tests.support import cursors
from tests.support.waiting import eventually

DOMAIN = "{{ cookiecutter.project_slug }}"


async def test_create_returns_the_order_with_its_etag(
    client: OrdersClient, customer_id: str
) -> None:
    order = await client.create_order(new_order(customer_id))

    assert order.status == orders_pb2.ORDER_STATUS_PENDING
    assert order.total_minor == 2 * 1250 + 500
    assert [line.amount_minor for line in order.lines] == [2500, 500]
    assert (order.version, order.etag) == (1, '"v1"')
    created = order.create_time.ToDatetime(tzinfo=UTC)
    assert created == order.update_time.ToDatetime(tzinfo=UTC)
    assert created.utcoffset() is not None


async def test_get_returns_what_create_stored(client: OrdersClient, customer_id: str) -> None:
    created = await client.create_order(new_order(customer_id))

    assert await client.get_order(created.id) == created


async def test_get_unknown_order_is_not_found(client: OrdersClient) -> None:
    error = details_of(await failure(client.get_order(str(uuid4()))))

    assert error.code == grpc.StatusCode.NOT_FOUND
    assert (error.reason, error.domain) == ("NOT_FOUND", DOMAIN)


async def test_get_with_malformed_id_names_the_field(client: OrdersClient) -> None:
    error = details_of(await failure(client.get_order("not-a-uuid")))

    assert error.code == grpc.StatusCode.INVALID_ARGUMENT
    assert error.reason == "VALIDATION_FAILED"
    assert list(error.violations) == ["id"]


async def test_invalid_create_names_every_bad_field(client: OrdersClient) -> None:
    order = new_order(
        "",
        currency="eur",
        lines=[orders_pb2.OrderLine(sku="-bad", quantity=0, unit_price_minor=-1)],
    )

    error = details_of(await failure(client.create_order(order)))

    assert error.code == grpc.StatusCode.INVALID_ARGUMENT
    assert error.reason == "VALIDATION_FAILED"
    assert set(error.violations) == {
        "order.customer_id",
        "order.currency",
        "order.lines[0].sku",
        "order.lines[0].quantity",
        "order.lines[0].unit_price_minor",
    }


async def test_a_customer_id_with_a_control_character_is_invalid(client: OrdersClient) -> None:
    error = details_of(await failure(client.create_order(new_order("c\x00d"))))

    assert error.code == grpc.StatusCode.INVALID_ARGUMENT
    assert set(error.violations) == {"order.customer_id"}


async def test_create_without_lines_is_invalid(client: OrdersClient, customer_id: str) -> None:
    error = details_of(await failure(client.create_order(new_order(customer_id, lines=[]))))

    assert error.violations.keys() == {"order.lines"}


class TestUpdate:
    async def test_field_mask_and_etag_change_the_status(
        self, client: OrdersClient, customer_id: str
    ) -> None:
        created = await client.create_order(new_order(customer_id))
        change = orders_pb2.Order(
            id=created.id, status=orders_pb2.ORDER_STATUS_CONFIRMED, etag=created.etag
        )

        updated = await client.update_order(change, "status")

        assert updated.status == orders_pb2.ORDER_STATUS_CONFIRMED
        assert (updated.version, updated.etag) == (2, '"v2"')
        assert updated.lines == created.lines
        assert updated.update_time.ToDatetime() >= created.update_time.ToDatetime()

    async def test_the_mask_limits_what_changes(
        self, client: OrdersClient, customer_id: str
    ) -> None:
        created = await client.create_order(new_order(customer_id))
        lines = [orders_pb2.OrderLine(sku="NEW", quantity=3, unit_price_minor=100)]
        change = orders_pb2.Order(
            id=created.id, status=orders_pb2.ORDER_STATUS_CANCELLED, lines=lines
        )

        updated = await client.update_order(change, "lines")

        assert updated.status == orders_pb2.ORDER_STATUS_PENDING
        assert [line.sku for line in updated.lines] == ["NEW"]
        assert updated.total_minor == 300

    async def test_without_a_mask_the_set_fields_change(
        self, client: OrdersClient, customer_id: str
    ) -> None:
        created = await client.create_order(new_order(customer_id))

        updated = await client.update_order(
            orders_pb2.Order(id=created.id, status=orders_pb2.ORDER_STATUS_CANCELLED)
        )

        assert updated.status == orders_pb2.ORDER_STATUS_CANCELLED

    async def test_a_stale_etag_is_aborted_and_changes_nothing(
        self, client: OrdersClient, customer_id: str
    ) -> None:
        created = await client.create_order(new_order(customer_id))
        change = orders_pb2.Order(
            id=created.id, status=orders_pb2.ORDER_STATUS_CONFIRMED, etag='"v7"'
        )

        error = details_of(await failure(client.update_order(change, "status")))

        assert error.code == grpc.StatusCode.ABORTED
        assert error.reason == "VERSION_MISMATCH"
        assert await client.get_order(created.id) == created

    async def test_concurrent_updates_with_one_etag_let_exactly_one_win(
        self, client: OrdersClient, customer_id: str
    ) -> None:
        created = await client.create_order(new_order(customer_id))
        changes = [
            orders_pb2.Order(id=created.id, status=status, etag=created.etag)
            for status in (orders_pb2.ORDER_STATUS_CONFIRMED, orders_pb2.ORDER_STATUS_CANCELLED)
        ]

        outcomes = await asyncio.gather(
            *(client.update_order(change, "status") for change in changes),
            return_exceptions=True,
        )

        winners = [o for o in outcomes if isinstance(o, orders_pb2.Order)]
        losers = [o for o in outcomes if isinstance(o, aio.AioRpcError)]
        assert len(winners) == len(losers) == 1
        assert details_of(losers[0]).code == grpc.StatusCode.ABORTED

    async def test_a_forbidden_transition_is_failed_precondition(
        self, client: OrdersClient, customer_id: str
    ) -> None:
        created = await client.create_order(new_order(customer_id))
        change = orders_pb2.Order(id=created.id, status=orders_pb2.ORDER_STATUS_SHIPPED)

        error = details_of(await failure(client.update_order(change, "status")))

        assert error.code == grpc.StatusCode.FAILED_PRECONDITION
        assert error.reason == "INVALID_STATE_TRANSITION"

    async def test_lines_change_only_while_pending(
        self, client: OrdersClient, customer_id: str
    ) -> None:
        created = await client.create_order(new_order(customer_id))
        confirm = orders_pb2.Order(id=created.id, status=orders_pb2.ORDER_STATUS_CONFIRMED)
        await client.update_order(confirm, "status")
        lines = [orders_pb2.OrderLine(sku="X", quantity=1, unit_price_minor=1)]

        error = details_of(
            await failure(
                client.update_order(orders_pb2.Order(id=created.id, lines=lines), "lines")
            )
        )

        assert error.code == grpc.StatusCode.FAILED_PRECONDITION

    @pytest.mark.parametrize(
        ("paths", "field"),
        [(("customer_id",), "update_mask"), ((), "update_mask"), (("status",), "order.status")],
    )
    async def test_bad_masks_are_invalid(
        self, client: OrdersClient, customer_id: str, paths: tuple[str, ...], field: str
    ) -> None:
        created = await client.create_order(new_order(customer_id))

        error = details_of(
            await failure(client.update_order(orders_pb2.Order(id=created.id), *paths))
        )

        assert error.code == grpc.StatusCode.INVALID_ARGUMENT
        assert field in error.violations


async def test_delete_honours_the_etag(client: OrdersClient, customer_id: str) -> None:
    created = await client.create_order(new_order(customer_id))

    stale = details_of(await failure(client.delete_order(created.id, etag='"v9"')))
    await client.delete_order(created.id, etag=created.etag)
    gone = details_of(await failure(client.get_order(created.id)))
    again = details_of(await failure(client.delete_order(created.id)))

    assert stale.code == grpc.StatusCode.ABORTED
    assert gone.code == again.code == grpc.StatusCode.NOT_FOUND


class TestIdempotencyKey:
    async def test_a_retry_replays_the_first_result(
        self, client: OrdersClient, customer_id: str
    ) -> None:
        key = str(uuid4())
        first = await client.create_order(new_order(customer_id), idempotency_key=key)
        confirm = orders_pb2.Order(id=first.id, status=orders_pb2.ORDER_STATUS_CONFIRMED)
        await client.update_order(confirm, "status")

        call = client.stub.CreateOrder(
            orders_pb2.CreateOrderRequest(order=new_order(customer_id)),
            timeout=5,
            metadata=(*client.metadata, ("idempotency-key", key)),
        )
        retry = (await call).order

        assert retry == first
        assert ("idempotent-replayed", "true") in tuple(await call.trailing_metadata() or ())
        listing = await client.list_orders(orders_pb2.ListOrdersRequest(customer_id=customer_id))
        assert [order.id for order in listing.orders] == [first.id]

    async def test_the_same_key_with_another_order_is_invalid(
        self, client: OrdersClient, customer_id: str
    ) -> None:
        key = str(uuid4())
        await client.create_order(new_order(customer_id), idempotency_key=key)

        error = details_of(
            await failure(
                client.create_order(new_order(customer_id, currency="USD"), idempotency_key=key)
            )
        )

        assert error.code == grpc.StatusCode.INVALID_ARGUMENT
        assert error.reason == "IDEMPOTENCY_KEY_REUSED"

    async def test_concurrent_requests_place_one_order(
        self, client: OrdersClient, customer_id: str
    ) -> None:
        key = str(uuid4())

        outcomes = await asyncio.gather(
            *(client.create_order(new_order(customer_id), idempotency_key=key) for _ in range(8)),
            return_exceptions=True,
        )

        placed = {o.id for o in outcomes if isinstance(o, orders_pb2.Order)}
        assert len(placed) == 1
        for error in (details_of(o) for o in outcomes if isinstance(o, aio.AioRpcError)):
            assert error.code == grpc.StatusCode.ABORTED
            assert error.reason == "IDEMPOTENCY_KEY_IN_USE"
            assert error.retry_delay_seconds == 1
        listing = await client.list_orders(orders_pb2.ListOrdersRequest(customer_id=customer_id))
        assert [order.id for order in listing.orders] == list(placed)

    @pytest.mark.parametrize("key", ["x" * 256, "with space"])
    async def test_a_malformed_key_is_invalid(
        self, client: OrdersClient, customer_id: str, key: str
    ) -> None:
        error = details_of(
            await failure(client.create_order(new_order(customer_id), idempotency_key=key))
        )

        assert error.code == grpc.StatusCode.INVALID_ARGUMENT
        assert error.reason == "MALFORMED_REQUEST"
        assert list(error.violations) == ["idempotency-key"]


class TestListing:
    async def test_pages_walk_every_order_once_newest_first(
        self, client: OrdersClient, customer_id: str
    ) -> None:
        created = [(await client.create_order(new_order(customer_id))).id for _ in range(5)]
        seen: list[str] = []
        request = orders_pb2.ListOrdersRequest(customer_id=customer_id, page_size=2)

        while True:
            page = await client.list_orders(request)
            assert len(page.orders) <= 2
            seen += [order.id for order in page.orders]
            if not page.next_page_token:
                break
            request.page_token = page.next_page_token

        assert seen == list(reversed(created))

    async def test_filter_by_status(self, client: OrdersClient, customer_id: str) -> None:
        kept = await client.create_order(new_order(customer_id))
        other = await client.create_order(new_order(customer_id))
        cancel = orders_pb2.Order(id=other.id, status=orders_pb2.ORDER_STATUS_CANCELLED)
        await client.update_order(cancel, "status")

        page = await client.list_orders(
            orders_pb2.ListOrdersRequest(
                customer_id=customer_id, status=orders_pb2.ORDER_STATUS_PENDING
            )
        )

        assert [order.id for order in page.orders] == [kept.id]

    async def test_page_size_zero_and_oversized_are_coerced(
        self, client: OrdersClient, customer_id: str
    ) -> None:
        for _ in range(3):
            await client.create_order(new_order(customer_id))

        for size in (0, 1000):
            page = await client.list_orders(
                orders_pb2.ListOrdersRequest(customer_id=customer_id, page_size=size)
            )
            assert len(page.orders) == 3
            assert not page.next_page_token

    @pytest.mark.parametrize(
        ("request_fields", "field", "reason"),
        [
            ({"page_size": -1}, "page_size", "VALIDATION_FAILED"),
            ({"page_token": "not-a-token"}, "page_token", "MALFORMED_REQUEST"),
            ({"page_token": "W10"}, "page_token", "MALFORMED_REQUEST"),
            ({"status": 99}, "status", "VALIDATION_FAILED"),
            ({"customer_id": "c" * 65}, "customer_id", "VALIDATION_FAILED"),
            ({"customer_id": "c\x00d"}, "customer_id", "VALIDATION_FAILED"),
            ({"page_token": cursors.BEFORE_YEAR_ONE}, "page_token", "MALFORMED_REQUEST"),
            ({"page_token": cursors.AFTER_YEAR_9999}, "page_token", "MALFORMED_REQUEST"),
        ],
    )
    async def test_bad_paging_and_filters_are_invalid(
        self, client: OrdersClient, request_fields: dict[str, object], field: str, reason: str
    ) -> None:
        request = orders_pb2.ListOrdersRequest(**request_fields)  # type: ignore[arg-type]

        error = details_of(await failure(client.list_orders(request)))

        assert error.code == grpc.StatusCode.INVALID_ARGUMENT
        assert error.reason == reason
        assert list(error.violations) == [field]


async def test_request_id_is_echoed_or_generated(client: OrdersClient) -> None:
    ok = client.stub.ListOrders(
        orders_pb2.ListOrdersRequest(page_size=1),
        timeout=5,
        metadata=(*client.metadata, ("x-request-id", "abc-1")),
    )
    await ok
    failed = client.stub.GetOrder(
        orders_pb2.GetOrderRequest(id=str(uuid4())),
        timeout=5,
        metadata=(*client.metadata, ("x-request-id", "not a safe id")),
    )
    error = details_of(await failure(failed))

    assert ("x-request-id", "abc-1") in tuple(await ok.initial_metadata() or ())
    assert len(error.trailers["x-request-id"]) == 32


async def test_a_request_that_is_not_valid_protobuf_is_invalid_argument_and_counted(
    client: OrdersClient, channel: aio.Channel
) -> None:
    before = handled("CreateOrder", "INVALID_ARGUMENT")
    # CreateOrderRequest.order (field 1) holding Order.customer_id (field 2): not UTF-8.
    customer_id = b"\x12\x02\xff\xfe"
    undecodable = b"\x0a" + bytes([len(customer_id)]) + customer_id
    create: aio.UnaryUnaryMultiCallable[bytes, bytes] = channel.unary_unary(
        f"/{ORDERS_SERVICE}/CreateOrder"  # no serializers: bytes in, bytes out
    )

    error = details_of(await failure(create(undecodable, timeout=5, metadata=client.metadata)))

    assert error.code == grpc.StatusCode.INVALID_ARGUMENT
    assert error.reason == "MALFORMED_REQUEST"
    assert list(error.violations) == ["request"]
    assert error.trailers["x-request-id"]

    async def counted() -> bool:  # the server counts the call once its status has gone out
        return handled("CreateOrder", "INVALID_ARGUMENT") == before + 1

    await eventually(counted, seconds=5)
