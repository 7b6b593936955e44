"""The webhook endpoints use cases, written once for every transport and database.

A subscriber's secret is shown once, when it is made (at creation and at each
rotation); reads never return it. A URL is checked against the destination
policy whenever a caller sets it, on the addresses its host resolves to now, so
a refused destination is never stored (the ``deliver`` worker checks again at
every connection, since DNS can change). Deliveries that failed for good are
listed here and replayed on request, with the ``webhook-id`` they always had.
"""

import re
from dataclasses import dataclass
from datetime import timedelta
from uuid import UUID

from {{ cookiecutter.package_name }}.application.pagination import CursorPage
from {{ cookiecutter.package_name }}.domain.clock import Clock, utc_now
from {{ cookiecutter.package_name }}.domain.cursor import Cursor
from {{ cookiecutter.package_name }}.domain.errors import (
    ConcurrentModificationError,
    FieldViolation,
    InvalidStateTransitionError,
    NotFoundError,
    StaleVersionError,
    ValidationFailedError,
)
from {{ cookiecutter.package_name }}.domain.webhooks import (
    DESCRIPTION_PATTERN,
    EVENT_TYPES,
    MAX_DESCRIPTION_LENGTH,
    MAX_URL_LENGTH,
    DeliveryAttempt,
    DeliveryStatus,
    EndpointChanges,
    EndpointStatus,
    NewEndpoint,
    WebhookDelivery,
    WebhookEndpoint,
)
from {{ cookiecutter.package_name }}.storage.webhooks import DeliveryFilter, WebhookStore
from {{ cookiecutter.package_name }}.webhooks.destinations import DestinationPolicy, UnsafeDestinationError

ENDPOINT = "Webhook endpoint"
DELIVERY = "Webhook delivery"
MAX_DISABLED_REASON_LENGTH = 500
# How many failed deliveries one replay request makes pending again; call again for more.
MAX_REPLAY_BATCH = 1000
_UPDATE_ATTEMPTS = 5
_DESCRIPTION = re.compile(DESCRIPTION_PATTERN)


@dataclass(frozen=True, slots=True)
class WithSecret:
    """An endpoint and the secret just made for it: the only time the secret is shown."""

    endpoint: WebhookEndpoint
    secret: str


def secret_hint(value: str) -> str:
    """Enough of a secret to tell which one a receiver holds, and too little to sign with."""
    prefix, _, encoded = value.partition("_")
    return f"{prefix}_{encoded[:4]}..."


def _check_fields(
    *,
    url: str | None,
    event_types: frozenset[str] | None,
    description: str | None,
) -> list[FieldViolation]:
    """What is wrong with the fields a caller sets, before any address is looked up."""
    found = []
    if url is not None and not 1 <= len(url) <= MAX_URL_LENGTH:
        found.append(FieldViolation("url", f"Use 1 to {MAX_URL_LENGTH} characters."))
    if event_types is not None and (unknown := sorted(event_types - EVENT_TYPES)):
        found.append(
            FieldViolation(
                "event_types",
                f"Unknown event types {', '.join(unknown)}; "
                f"use some of {', '.join(sorted(EVENT_TYPES))} (none: all of them).",
            )
        )
    if description is not None and (
        problem := _free_text("description", description, longest=MAX_DESCRIPTION_LENGTH)
    ):
        found.append(problem)
    return found


def _free_text(field: str, value: str, *, longest: int, shortest: int = 0) -> FieldViolation | None:
    """Why ``value`` is not free text of an allowed length, if it is not.

    Free text is stored and shown to people: no control character but tabs and line breaks.
    """
    if shortest <= len(value) <= longest and _DESCRIPTION.fullmatch(value):
        return None
    span = f"{shortest} to {longest}" if shortest else f"at most {longest}"
    return FieldViolation(
        field, f"Use {span} characters, with no control character but tabs and line breaks."
    )


class WebhookEndpointService:
    """Subscribe, read, change, re-key and delete endpoints; list and replay their deliveries."""

    def __init__(
        self,
        store: WebhookStore,
        destinations: DestinationPolicy,
        *,
        max_rotation_overlap: timedelta,
        clock: Clock = utc_now,
    ) -> None:
        self._store = store
        self._destinations = destinations
        self._max_overlap = max_rotation_overlap
        self._clock = clock

    @property
    def max_rotation_overlap(self) -> timedelta:
        """How long an old secret keeps signing after a rotation, unless the caller asks less."""
        return self._max_overlap

    async def _check_destination(self, url: str) -> None:
        """Refuse ``url`` as a validation error unless webhooks may be sent there now."""
        try:
            await self._destinations.check(url)
        except UnsafeDestinationError as refused:
            raise ValidationFailedError(
                FieldViolation("url", f"This URL cannot receive webhooks: {refused.reason}.")
            ) from None

    async def create(self, new: NewEndpoint) -> WithSecret:
        """Subscribe an active endpoint with a fresh secret, returned this once."""
        violations = _check_fields(
            url=new.url, event_types=new.event_types, description=new.description
        )
        if violations:
            raise ValidationFailedError(*violations)
        await self._check_destination(new.url)
        endpoint = WebhookEndpoint.create(new, self._clock())
        await self._store.endpoints.add(endpoint)
        return WithSecret(endpoint, endpoint.secrets[-1].value)

    async def get(self, endpoint_id: UUID) -> WebhookEndpoint:
        """Return the endpoint or raise :class:`NotFoundError`."""
        endpoint = await self._store.endpoints.get(endpoint_id)
        if endpoint is None:
            raise NotFoundError(ENDPOINT, endpoint_id)
        return endpoint

    async def list_by_cursor(
        self, *, after: Cursor | None, limit: int
    ) -> CursorPage[WebhookEndpoint]:
        """A page of endpoints, newest first, by keyset."""
        items = await self._store.endpoints.list_after(after, limit=limit + 1)
        return _page(items, limit)

    async def _current(
        self, endpoint_id: UUID, if_versions: frozenset[int] | None
    ) -> WebhookEndpoint:
        """The endpoint as stored now, if it is at one of ``if_versions`` (any when ``None``)."""
        current = await self.get(endpoint_id)
        if if_versions is not None and current.version not in if_versions:
            raise StaleVersionError(current.version)
        return current

    async def update(
        self,
        endpoint_id: UUID,
        changes: EndpointChanges,
        *,
        if_versions: frozenset[int] | None = None,
    ) -> WebhookEndpoint:
        """Apply ``changes`` if the endpoint is at one of ``if_versions`` (any when ``None``).

        A new URL is checked as at creation. The write is a compare-and-set on
        the version: with a precondition a concurrent change fails it, without
        one the endpoint is read again and the changes applied to the fresh state.
        """
        violations = _check_fields(
            url=changes.url, event_types=changes.event_types, description=changes.description
        )
        if changes.disabled_reason is not None:
            if changes.status is not EndpointStatus.DISABLED:
                violations.append(
                    FieldViolation("disabled_reason", "Send it with the status disabled.")
                )
            if problem := _free_text(
                "disabled_reason",
                changes.disabled_reason,
                shortest=1,
                longest=MAX_DISABLED_REASON_LENGTH,
            ):
                violations.append(problem)
        if violations:
            raise ValidationFailedError(*violations)
        checked_url = None
        for _ in range(_UPDATE_ATTEMPTS):
            current = await self._current(endpoint_id, if_versions)
            if changes.url is not None and changes.url not in (current.url, checked_url):
                await self._check_destination(changes.url)
                checked_url = changes.url
            updated = current.apply(changes, self._clock())
            if updated is current:
                return current
            if await self._store.endpoints.replace(updated, expected_version=current.version):
                return updated
        raise ConcurrentModificationError

    async def rotate_secret(
        self,
        endpoint_id: UUID,
        *,
        overlap: timedelta | None = None,
        if_versions: frozenset[int] | None = None,
    ) -> WithSecret:
        """Add a fresh secret, returned this once; the current ones sign on for ``overlap``.

        ``overlap`` defaults to, and may not exceed, :attr:`max_rotation_overlap`;
        zero retires the old secrets at once (after a leak, say).
        """
        if overlap is None:
            overlap = self._max_overlap
        if not timedelta(0) <= overlap <= self._max_overlap:
            raise ValidationFailedError(
                FieldViolation(
                    "overlap_seconds",
                    f"Use 0 to {int(self._max_overlap.total_seconds())} seconds.",
                )
            )
        for _ in range(_UPDATE_ATTEMPTS):
            current = await self._current(endpoint_id, if_versions)
            rotated = current.rotate_secret(self._clock(), overlap)
            if await self._store.endpoints.replace(rotated, expected_version=current.version):
                return WithSecret(rotated, rotated.secrets[-1].value)
        raise ConcurrentModificationError

    async def delete(self, endpoint_id: UUID, *, if_versions: frozenset[int] | None = None) -> None:
        """Delete the endpoint and its deliveries.

        With ``if_versions``, only if the endpoint is at one of them when read
        just before the delete.
        """
        if if_versions is not None:
            await self._current(endpoint_id, if_versions)
        if not await self._store.endpoints.delete(endpoint_id):
            raise NotFoundError(ENDPOINT, endpoint_id)

    async def deliveries(
        self,
        endpoint_id: UUID,
        *,
        status: DeliveryStatus | None = None,
        after: Cursor | None,
        limit: int,
    ) -> CursorPage[WebhookDelivery]:
        """A page of the endpoint's deliveries (of ``status``, if given), newest first."""
        await self.get(endpoint_id)
        delivery_filter = DeliveryFilter(endpoint_id=endpoint_id, status=status)
        items = await self._store.deliveries.list_after(delivery_filter, after, limit=limit + 1)
        return _page(items, limit)

    async def delivery(self, endpoint_id: UUID, delivery_id: UUID) -> WebhookDelivery:
        """One delivery of the endpoint, or :class:`NotFoundError`."""
        delivery = await self._store.deliveries.get(delivery_id)
        if delivery is None or delivery.endpoint_id != endpoint_id:
            raise NotFoundError(DELIVERY, delivery_id)
        return delivery

    async def attempts(self, endpoint_id: UUID, delivery_id: UUID) -> list[DeliveryAttempt]:
        """Every attempt of one of the endpoint's deliveries, first first."""
        await self.delivery(endpoint_id, delivery_id)
        return await self._store.deliveries.attempts(delivery_id)

    async def _active(self, endpoint_id: UUID) -> None:
        """Refuse a replay to a disabled endpoint: its deliveries would only wait."""
        endpoint = await self.get(endpoint_id)
        if endpoint.status is EndpointStatus.DISABLED:
            raise InvalidStateTransitionError(
                "The endpoint is disabled: enable it before replaying its deliveries."
            )

    async def replay(self, endpoint_id: UUID, delivery_id: UUID) -> WebhookDelivery:
        """Send a delivery that failed for good again, from its first attempt, due now."""
        await self._active(endpoint_id)
        delivery = await self.delivery(endpoint_id, delivery_id)
        if delivery.status is not DeliveryStatus.FAILED:
            raise InvalidStateTransitionError(
                f"Only failed deliveries are replayed; this one is {delivery.status}."
            )
        replay_filter = DeliveryFilter(endpoint_id=endpoint_id, delivery_id=delivery_id)
        await self._store.deliveries.replay(replay_filter, self._clock(), limit=1)
        return await self.delivery(endpoint_id, delivery_id)

    async def replay_failed(self, endpoint_id: UUID, *, limit: int = MAX_REPLAY_BATCH) -> int:
        """Send up to ``limit`` of the endpoint's failed deliveries again; return how many."""
        await self._active(endpoint_id)
        replay_filter = DeliveryFilter(endpoint_id=endpoint_id)
        return await self._store.deliveries.replay(replay_filter, self._clock(), limit=limit)


def _page[ItemT: (WebhookEndpoint, WebhookDelivery)](
    items: list[ItemT], limit: int
) -> CursorPage[ItemT]:
    """The first ``limit`` of ``limit + 1`` items, and a cursor if there were more."""
    if len(items) <= limit:
        return CursorPage(items=items, limit=limit, next_cursor=None)
    last = items[limit - 1]
    return CursorPage(
        items=items[:limit], limit=limit, next_cursor=Cursor(last.created_at, last.id)
    )
