"""The storage port's promises, checked against the real database of this service."""

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from uuid import uuid4

import pytest

from {{ cookiecutter.package_name }}.domain.errors import AlreadyExistsError, IdempotencyKeyInUseError
from {{ cookiecutter.package_name }}.domain.orders import NewOrder, Order, OrderLine
from {{ cookiecutter.package_name }}.storage.port import Storage

NOW = datetime.now(UTC)


def an_order() -> Order:
    return Order.place(NewOrder(f"c-{uuid4()}", "EUR", (OrderLine("A", 1, 10),)), NOW)


async def test_an_idempotency_key_is_held_until_its_unit_of_work_ends(storage: Storage) -> None:
    scope, key = "tests:contract", str(uuid4())

    async with storage.unit_of_work() as holder:
        assert await holder.idempotency.claim(scope, key, NOW) is None
        async with storage.unit_of_work() as contender:
            with pytest.raises(IdempotencyKeyInUseError):
                await contender.idempotency.claim(scope, key, NOW)
        await holder.idempotency.record(
            scope, key, fingerprint="f", result={"a": 1}, expires_at=NOW + timedelta(hours=1)
        )
        await holder.commit()

    async with storage.unit_of_work() as later:
        stored = await later.idempotency.claim(scope, key, NOW)
    assert stored is not None
    assert (stored.fingerprint, stored.result) == ("f", {"a": 1})


async def test_an_abandoned_claim_frees_the_key(storage: Storage) -> None:
    scope, key = "tests:contract", str(uuid4())

    async with storage.unit_of_work() as crashed:
        await crashed.idempotency.claim(scope, key, NOW)
        await crashed.idempotency.record(
            scope, key, fingerprint="f", result={}, expires_at=NOW + timedelta(hours=1)
        )
        # no commit: as if the process died mid-request

    async with storage.unit_of_work() as retry:
        assert await retry.idempotency.claim(scope, key, NOW) is None


async def test_expired_keys_are_ignored_replaced_and_purged(storage: Storage) -> None:
    scope, key = "tests:contract", str(uuid4())
    async with storage.unit_of_work() as first:
        await first.idempotency.claim(scope, key, NOW)
        await first.idempotency.record(
            scope, key, fingerprint="old", result={}, expires_at=NOW - timedelta(seconds=1)
        )
        await first.commit()

    async with storage.unit_of_work() as second:
        assert await second.idempotency.claim(scope, key, NOW) is None
        await second.idempotency.record(
            scope, key, fingerprint="new", result={}, expires_at=NOW - timedelta(seconds=1)
        )
        await second.commit()

    async with storage.unit_of_work() as purge:
        assert await purge.idempotency.purge_expired(NOW) >= 1
        await purge.commit()


async def test_uncommitted_writes_are_rolled_back(storage: Storage) -> None:
    order = an_order()

    async with storage.unit_of_work() as uow:
        await uow.orders.add(order)

    assert await storage.orders.get(order.id) is None


async def test_duplicate_ids_are_already_exists(storage: Storage) -> None:
    order = an_order()
    async with storage.unit_of_work() as uow:
        await uow.orders.add(order)
        await uow.commit()

    async with storage.unit_of_work() as uow:
        with pytest.raises(AlreadyExistsError):
            await uow.orders.add(order)


async def test_replace_and_delete_are_compare_and_set(storage: Storage) -> None:
    order = an_order()
    async with storage.unit_of_work() as uow:
        await uow.orders.add(order)
        await uow.commit()
    changed = replace(order, version=2, customer_id="changed")

    async with storage.unit_of_work() as uow:
        assert not await uow.orders.replace(changed, expected_version=5)
        assert await uow.orders.replace(changed, expected_version=1)
        assert not await uow.orders.delete(order.id, expected_version=1)
        await uow.commit()

    assert await storage.orders.get(order.id) == changed
    async with storage.unit_of_work() as uow:
        assert await uow.orders.delete(order.id, expected_version=2)
        await uow.commit()
    assert await storage.orders.get(order.id) is None
