"""The order lifecycle rules, without any I/O."""

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from {{ cookiecutter.package_name }}.domain.errors import InvalidStateTransitionError
from {{ cookiecutter.package_name }}.domain.orders import (
    ALLOWED_TRANSITIONS,
    NewOrder,
    Order,
    OrderChanges,
    OrderLine,
    OrderStatus,
)

NOW = datetime(2026, 1, 1, tzinfo=UTC)
LATER = NOW + timedelta(minutes=5)
NEW = NewOrder("c-1", "EUR", (OrderLine("A", 2, 150), OrderLine("B", 1, 99)))


def test_a_placed_order_is_pending_at_version_one() -> None:
    order = Order.place(NEW, NOW)

    assert order.status is OrderStatus.PENDING
    assert order.version == 1
    assert order.total_minor == 399


def test_times_are_kept_to_the_millisecond_every_database_stores() -> None:
    precise = datetime(2026, 1, 1, 12, 0, 0, 123_456, tzinfo=UTC)

    order = Order.place(NEW, precise)
    changed = order.apply(OrderChanges(status=OrderStatus.CONFIRMED), precise)

    assert order.created_at == order.updated_at == precise.replace(microsecond=123_000)
    assert changed.updated_at == precise.replace(microsecond=123_000)


@pytest.mark.parametrize(
    ("start", "target"),
    [(s, t) for s in OrderStatus for t in OrderStatus if s is not t],
)
def test_status_changes_follow_the_transition_table(
    start: OrderStatus, target: OrderStatus
) -> None:
    order = replace(Order.place(NEW, NOW), status=start)

    if target in ALLOWED_TRANSITIONS[start]:
        changed = order.apply(OrderChanges(status=target), LATER)
        assert (changed.status, changed.version, changed.updated_at) == (target, 2, LATER)
    else:
        with pytest.raises(InvalidStateTransitionError):
            order.apply(OrderChanges(status=target), LATER)


def test_no_op_change_keeps_the_version() -> None:
    order = Order.place(NEW, NOW)

    assert order.apply(OrderChanges(status=OrderStatus.PENDING), LATER) is order
    assert order.apply(OrderChanges(), LATER) is order


def test_lines_change_only_while_pending() -> None:
    order = Order.place(NEW, NOW)
    lines = (OrderLine("C", 1, 1),)

    assert order.apply(OrderChanges(lines=lines), LATER).total_minor == 1
    confirmed = order.apply(OrderChanges(status=OrderStatus.CONFIRMED), LATER)
    with pytest.raises(InvalidStateTransitionError):
        confirmed.apply(OrderChanges(lines=lines), LATER)


def test_snapshot_round_trips() -> None:
    order = Order.place(NEW, NOW)

    assert Order.from_snapshot(order.snapshot()) == order


def test_fingerprint_is_stable_and_sensitive_to_content() -> None:
    same = NewOrder("c-1", "EUR", (OrderLine("A", 2, 150), OrderLine("B", 1, 99)))
    other = NewOrder("c-1", "EUR", (OrderLine("A", 3, 150), OrderLine("B", 1, 99)))

    assert NEW.fingerprint() == same.fingerprint()
    assert NEW.fingerprint() != other.fingerprint()
