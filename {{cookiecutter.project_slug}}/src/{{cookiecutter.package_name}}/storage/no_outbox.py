"""The outbox of a service without a broker: no process would ever publish it.

Keeping the rows anyway would grow a table nobody reads and cost every write an
insert, so events are dropped here; choosing a broker later brings the real
outbox (a table, a relay and a consumer) with it.
"""

from {{ cookiecutter.package_name }}.domain.events import OrderEvent


class NoOutbox:
    """Accepts every event and keeps none."""

    def __init__(self, *_transaction: object) -> None:
        """Take the unit of work's transaction, as every outbox does, and ignore it."""

    async def add(self, event: OrderEvent) -> None:
        """Drop ``event``: with no broker, nothing subscribes to it."""
        del event
