"""Every knob of the service, read from the environment (and `.env`).

Each field is documented in `.env.example`; a test keeps the two in step.
"""

from functools import lru_cache
from typing import Literal, Self
{%- if cookiecutter.auth == "oauth2" %}
from urllib.parse import urlsplit
{%- endif %}

from limits import parse
from pydantic import (
    BaseModel,
    Field,
{%- if cookiecutter.queue != "none" %}
    HttpUrl,
{%- endif %}
    {% if cookiecutter.database == "mongo" %}MongoDsn{% else %}PostgresDsn{% endif %},
    RedisDsn,
    SecretStr,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, SettingsConfigDict
{%- if cookiecutter.auth in ("jwt", "oauth2") %}

# Algorithms a deployment may pin; "none" and anything unsigned are not among them.
type JwtAlgorithm = Literal[
    "HS256", "HS384", "HS512", "RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "EdDSA"
]
{%- endif %}


class DownstreamSettings(BaseModel):
    """How calls to one downstream are bounded: set as ``<DOWNSTREAM>__<FIELD>``."""

    model_config = {"frozen": True}

    connect_timeout_seconds: float = Field(default=2.0, gt=0)
    read_timeout_seconds: float = Field(default=5.0, gt=0)
    write_timeout_seconds: float = Field(default=5.0, gt=0)
    # Also how long a request waits for one of the max_connections (the bulkhead).
    pool_timeout_seconds: float = Field(default=1.0, gt=0)
    deadline_seconds: float = Field(default=15.0, gt=0)
    max_connections: int = Field(default=20, ge=1)
    retry_attempts: int = Field(default=4, ge=1, le=20)
    retry_wait_initial_seconds: float = Field(default=0.2, gt=0)
    retry_wait_max_seconds: float = Field(default=5.0, gt=0)
    retry_after_max_seconds: float = Field(default=10.0, ge=0)
    breaker_failure_threshold: int = Field(default=5, ge=1)
    # At most an hour each: a circuit's record in Redis expires after two unused hours.
    breaker_failure_window_seconds: float = Field(default=30.0, gt=0, le=3600)
    breaker_cooldown_seconds: float = Field(default=15.0, gt=0, le=3600)
    breaker_half_open_calls: int = Field(default=1, ge=1)


class WebhookSourceSettings(BaseModel):
    """One sender of webhooks to this service: set as ``WEBHOOKS_<SOURCE>__<FIELD>``.

    ``secrets`` holds the sender's secrets, separated by spaces (two during a
    rotation); with none, every message from the source is refused.
    """

    model_config = {"frozen": True}

    scheme: Literal["standard", "github", "stripe"] = "standard"
    secrets: SecretStr = SecretStr("")
    tolerance_seconds: int = Field(default=300, ge=1, le=3600)
    max_body_bytes: int = Field(default=262_144, ge=1024, le=10_485_760)

    def secret_values(self) -> tuple[str, ...]:
        """Each secret, in the order given."""
        return tuple(self.secrets.get_secret_value().split())


class Settings(BaseSettings):
    """Service configuration; invalid values stop the process at start-up."""

    model_config = SettingsConfigDict(
        env_file=".env",
        env_ignore_empty=True,
        env_nested_delimiter="__",
        extra="ignore",
        frozen=True,
    )

    service_name: str = "{{ cookiecutter.project_slug }}"
    environment: Literal["local", "test", "staging", "production"] = "local"

{%- if cookiecutter.api == "rest" %}

    http_host: str = "127.0.0.1"
    http_port: int = Field(default=8000, ge=1, le=65535)
    http_workers: int = Field(default=1, ge=1)
    http_graceful_shutdown_seconds: int = Field(default=20, ge=0)
    http_forwarded_allow_ips: str = "127.0.0.1"
{%- endif %}
{%- if cookiecutter.api == "grpc" %}

    grpc_host: str = "127.0.0.1"
    grpc_port: int = Field(default=50051, ge=1, le=65535)
    grpc_graceful_shutdown_seconds: float = Field(default=20.0, ge=0)
    grpc_reflection: bool = False
    grpc_health_check_interval_seconds: float = Field(default=5.0, gt=0)

    http_host: str = "127.0.0.1"
    http_port: int = Field(default=8000, ge=1, le=65535)
{%- endif %}

    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    log_format: Literal["json", "console"] = "json"
    log_requests: bool = True
{%- if cookiecutter.database == "postgres" %}

    database_url: PostgresDsn = PostgresDsn(
        "postgresql://postgres:postgres@127.0.0.1:5432/{{ cookiecutter.package_name }}"
    )
    database_pool_size: int = Field(default=10, ge=1)
    database_max_overflow: int = Field(default=10, ge=0)
    database_pool_timeout_seconds: float = Field(default=5.0, gt=0)
    database_pool_recycle_seconds: int = Field(default=1800, ge=-1)
    database_pool_pre_ping: bool = False
    database_connect_timeout_seconds: float = Field(default=5.0, gt=0)
    database_statement_timeout_ms: int = Field(default=10_000, ge=0)
{%- elif cookiecutter.database == "mongo" %}

    mongodb_url: MongoDsn = MongoDsn(
        "mongodb://127.0.0.1:27017/{{ cookiecutter.package_name }}?directConnection=true"
    )
    mongodb_max_pool_size: int = Field(default=20, ge=1)
    mongodb_min_pool_size: int = Field(default=0, ge=0)
    mongodb_wait_queue_timeout_seconds: float = Field(default=5.0, gt=0)
    mongodb_connect_timeout_seconds: float = Field(default=5.0, gt=0)
    mongodb_server_selection_timeout_seconds: float = Field(default=2.0, gt=0)
    mongodb_socket_timeout_ms: int = Field(default=10_000, ge=0)
{%- endif %}

    transaction_retry_attempts: int = Field(default=3, ge=1, le=20)
    transaction_retry_wait_initial_seconds: float = Field(default=0.05, gt=0)
    transaction_retry_wait_max_seconds: float = Field(default=1.0, gt=0)
    transaction_retry_timeout_seconds: float = Field(default=5.0, gt=0)

    idempotency_key_ttl_seconds: int = Field(default=86_400, ge=60)
{%- if cookiecutter.auth == "jwt" %}

    jwt_algorithm: JwtAlgorithm = "HS256"
    jwt_secret: SecretStr | None = None
    jwt_public_key: str | None = None
    jwt_private_key: SecretStr | None = None
    jwt_issuer: str = Field(default="{{ cookiecutter.project_slug }}", min_length=1)
    jwt_audience: str = Field(default="{{ cookiecutter.project_slug }}", min_length=1)
    jwt_leeway_seconds: int = Field(default=30, ge=0, le=300)
    jwt_token_ttl_seconds: int = Field(default=900, ge=60, le=86_400)
{%- elif cookiecutter.auth == "oauth2" %}

    # A string, not a URL type: the iss claim must equal it exactly, trailing slash or not.
    oauth2_issuer: str | None = None
    oauth2_audience: str = Field(default="{{ cookiecutter.project_slug }}", min_length=1)
    oauth2_algorithms: tuple[JwtAlgorithm, ...] = Field(default=("RS256", "ES256"), min_length=1)
    oauth2_leeway_seconds: int = Field(default=30, ge=0, le=300)
    oauth2_jwks_cache_seconds: float = Field(default=300.0, gt=0)
    oauth2_jwks_refresh_interval_seconds: float = Field(default=30.0, ge=0)
    oauth2_http: DownstreamSettings = DownstreamSettings(deadline_seconds=10.0, retry_attempts=3)
    oauth2_client_id: str | None = None
    oauth2_client_secret: SecretStr | None = None
    oauth2_client_scope: str = ""
{%- elif cookiecutter.auth == "api_key" %}

    api_key_prefix: str = Field(default="{{ cookiecutter.package_name.replace('_', '')[:12] }}", pattern=r"^[a-z][a-z0-9]{1,15}$")
    api_key_hash_secret: SecretStr | None = None
    api_key_last_used_interval_seconds: float = Field(default=60.0, ge=0)
{%- endif %}

    rate_limit_per_caller: str = "600/minute"
    rate_limit_per_ip: str = "{{ '600/minute' if cookiecutter.auth == 'none' else '60/minute' }}"
    rate_limit_redis_url: RedisDsn | None = None
    rate_limit_redis_timeout_seconds: float = Field(default=0.5, gt=0)
    rate_limit_key_prefix: str = Field(default="{{ cookiecutter.project_slug }}:ratelimit", min_length=1)

    # The payment provider that notifies this service (POST /v1/webhooks/payments).
    webhooks_payments: WebhookSourceSettings = WebhookSourceSettings()
    webhooks_inbox_retention_hours: int = Field(default=720, ge=1)

    # Webhooks this service sends (the `deliver` worker).
    webhooks_delivery: DownstreamSettings = DownstreamSettings(
        read_timeout_seconds=10.0, deadline_seconds=15.0, retry_attempts=1
    )
    # The wait before each attempt (the first: at once); each wait gets up to 10% of jitter.
    webhooks_retry_schedule_seconds: tuple[float, ...] = Field(
        default=(0, 5, 300, 1800, 7200, 18000, 36000, 36000), min_length=1, max_length=50
    )
    # An endpoint that failed this many attempts in a row, for at least this long, is disabled.
    webhooks_disable_after_failures: int = Field(default=10, ge=1)
    webhooks_disable_after_seconds: float = Field(default=432_000.0, ge=0)
    webhooks_secret_rotation_overlap_seconds: int = Field(default=86_400, ge=0, le=2_592_000)
    webhooks_allow_http: bool = False
    webhooks_allow_private_addresses: bool = False
    webhooks_max_response_bytes: int = Field(default=65_536, ge=1024)
    webhooks_response_excerpt_bytes: int = Field(default=1024, ge=0, le=65_536)
    webhooks_deliver_batch_size: int = Field(default=50, ge=1, le=1000)
    # Within the database pool: each attempt in flight records itself on a connection of its
    # own, and connections past the pool are opened and closed again, one per attempt.
    webhooks_deliver_concurrency: int = Field(default=8, ge=1, le=256)
    webhooks_deliver_lease_seconds: float = Field(default=60.0, gt=0)
    webhooks_deliver_idle_seconds: float = Field(default=0.5, gt=0)

    circuit_breaker_redis_url: RedisDsn | None = None
    circuit_breaker_redis_timeout_seconds: float = Field(default=0.5, gt=0)
    circuit_breaker_key_prefix: str = Field(default="{{ cookiecutter.project_slug }}:circuit", min_length=1)
{%- if cookiecutter.queue != "none" %}

{%- if cookiecutter.queue == "rabbitmq" %}
    broker_url: str = "amqp://guest:guest@127.0.0.1:5672/"
{%- elif cookiecutter.queue == "kafka" %}
    broker_url: str = "kafka://127.0.0.1:9092"
{%- elif cookiecutter.queue == "nats" %}
    broker_url: str = "nats://127.0.0.1:4222"
{%- elif cookiecutter.queue == "redis" %}
    broker_url: str = "redis://127.0.0.1:6379/0"
{%- endif %}
    broker_connect_timeout_seconds: float = Field(default=5.0, gt=0)
    events_namespace: str = Field(
        default="{{ cookiecutter.package_name.replace('_', '-') }}", pattern=r"^[a-z][a-z0-9-]{0,63}$"
    )
    events_source: str = Field(default="/{{ cookiecutter.project_slug }}", min_length=1)
    outbox_relay_batch_size: int = Field(default=100, ge=1, le=1000)
    outbox_relay_idle_seconds: float = Field(default=0.5, gt=0)
    outbox_relay_lease_seconds: float = Field(default=30.0, gt=0)
    inbox_retention_hours: int = Field(default=168, ge=1)
    consumer_ack_timeout_seconds: float = Field(default=60.0, ge=1)
    consumer_max_attempts: int = Field(default=5, ge=1, le=100)
    consumer_retry_base_seconds: float = Field(default=0.5, gt=0)
    consumer_retry_max_seconds: float = Field(default=60.0, gt=0)

    # Where the consumer asks for each order to be fulfilled; empty turns fulfilment off.
    fulfilment_url: HttpUrl | None = None
    fulfilment: DownstreamSettings = DownstreamSettings()
{%- endif %}

    @field_validator("rate_limit_per_caller", "rate_limit_per_ip")
    @classmethod
    def _is_a_rate(cls, value: str) -> str:
        try:
            parse(value)
        except ValueError:
            message = "write a rate as <count>/<period>, as in 100/minute or 10/second"
            raise ValueError(message) from None
        return value

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper_log_level(cls, value: object) -> object:
        return value.upper() if isinstance(value, str) else value

{%- if cookiecutter.auth == "oauth2" %}

    @field_validator("oauth2_issuer")
    @classmethod
    def _is_an_issuer_url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        parts = urlsplit(value)
        if (
            parts.scheme not in {"https", "http"}
            or not parts.hostname
            or parts.query
            or parts.fragment
        ):
            message = "write the issuer as an https URL without query or fragment"
            raise ValueError(message)
        return value

    @field_validator("oauth2_algorithms")
    @classmethod
    def _asymmetric_only(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if any(algorithm.startswith("HS") for algorithm in value):
            message = (
                "an issuer's published keys verify only asymmetric algorithms (RS, PS, ES, EdDSA)"
            )
            raise ValueError(message)
        return value
{%- endif %}


    @model_validator(mode="after")
    def _deliveries_fit_their_lease_and_connections(self) -> Self:
        if self.webhooks_deliver_lease_seconds <= self.webhooks_delivery.deadline_seconds:
            message = (
                "WEBHOOKS_DELIVER_LEASE_SECONDS must exceed WEBHOOKS_DELIVERY__DEADLINE_SECONDS: "
                "a delivery's lease outlasts its attempt, or another worker sends it meanwhile"
            )
            raise ValueError(message)
        if self.webhooks_deliver_concurrency > self.webhooks_delivery.max_connections:
            message = (
                "WEBHOOKS_DELIVER_CONCURRENCY must not exceed WEBHOOKS_DELIVERY__MAX_CONNECTIONS: "
                "a delivery in flight needs a connection of its own"
            )
            raise ValueError(message)
        return self
{%- if cookiecutter.database == "mongo" %}

    @field_validator("mongodb_url")
    @classmethod
    def _names_a_database(cls, value: MongoDsn) -> MongoDsn:
        if not (value.path or "").strip("/"):
            message = "name the database in the path, as in mongodb://host:27017/orders"
            raise ValueError(message)
        return value
{%- endif %}


class ConfigurationError(ValueError):
    """Settings that parse but cannot work together (a key that does not fit its algorithm).

    Raised while the service assembles itself, before it serves; the message
    names the environment variable to fix.
    """


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """Read the environment once per process."""
    return Settings()
