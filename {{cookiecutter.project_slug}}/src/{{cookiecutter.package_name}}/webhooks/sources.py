"""The senders this service takes webhooks from: each a name, a scheme with its secrets, a handler.

A source is configuration (``WEBHOOKS_<NAME>__SCHEME``, ``__SECRETS``, ...) plus
the use case its messages drive; the container lists them. A secret the
scheme cannot use stops the service at start-up, naming the variable to fix.
"""

from dataclasses import dataclass
from typing import Self

from {{ cookiecutter.package_name }}.application.inbound_webhooks import WebhookHandler
from {{ cookiecutter.package_name }}.settings import ConfigurationError, WebhookSourceSettings
from {{ cookiecutter.package_name }}.webhooks.verification.github import GitHubSignature
from {{ cookiecutter.package_name }}.webhooks.verification.port import InvalidSecretError, VerificationScheme
from {{ cookiecutter.package_name }}.webhooks.verification.standard import StandardWebhooks
from {{ cookiecutter.package_name }}.webhooks.verification.stripe import StripeSignature


def scheme_for(settings: WebhookSourceSettings) -> VerificationScheme:
    """The scheme ``settings`` name, holding the source's secrets."""
    secrets = settings.secret_values()
    match settings.scheme:
        case "standard":
            return StandardWebhooks(secrets, tolerance_seconds=settings.tolerance_seconds)
        case "github":
            return GitHubSignature(secrets)
        case "stripe":
            return StripeSignature(secrets, tolerance_seconds=settings.tolerance_seconds)


@dataclass(frozen=True, slots=True)
class WebhookSource:
    """One sender: ``POST /v1/webhooks/<name>``, verified by ``scheme``, applied by ``handler``."""

    name: str
    scheme: VerificationScheme
    handler: WebhookHandler
    max_body_bytes: int

    @classmethod
    def configured(
        cls, name: str, settings: WebhookSourceSettings, handler: WebhookHandler
    ) -> Self:
        """The source as ``WEBHOOKS_<NAME>__*`` configures it."""
        try:
            scheme = scheme_for(settings)
        except InvalidSecretError as error:
            variable = f"WEBHOOKS_{name.upper()}__SECRETS"
            message = f"{variable}: {error} (scheme {settings.scheme})"
            raise ConfigurationError(message) from None
        return cls(name, scheme, handler, settings.max_body_bytes)
