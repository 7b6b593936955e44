"""Types for pytest-cookies, which ships none: the part of it the tests use."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Protocol


class BakeResult(Protocol):
    """pytest-cookies' Result."""

    exception: BaseException | None
    exit_code: int | str | None
    context: dict[str, Any] | None

    @property
    def project_path(self) -> Path | None: ...


class Cookies(Protocol):
    """pytest-cookies' ``cookies`` fixture."""

    def bake(
        self, extra_context: dict[str, Any] | None = None, template: str | None = None
    ) -> BakeResult: ...
