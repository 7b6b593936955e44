"""Which generated paths belong to which answer.

The post-generation hook deletes the paths of every unselected choice; the
template's tests check the same table against every baked variant. A path is
relative to the project root; ``{package}`` stands for the package name. A
path listed under several choices of one question stays when any of them is
selected. A path that one answer keeps but that lies inside a folder another
answer drops goes with that folder (the Postgres outbox migration of a Mongo
service, say). A few choices share one module name, which every variant imports
(``INSTALLED_AS``): each choice lists its own file, and the hook moves the
selected one to the common name.
"""

from __future__ import annotations

from collections.abc import Mapping

# Every broker shares the outbox, the relay, the consumer and their tests.
_EVENT_PATHS = (
    "asyncapi.json",
    "deploy/kubernetes/consume.yaml",
    "deploy/kubernetes/purge-processed-events.yaml",
    "deploy/kubernetes/relay.yaml",
    "src/{package}/application/customer_activity.py",
    "src/{package}/commands/events.py",
    "src/{package}/fulfilment",
    "src/{package}/messaging",
    "src/{package}/storage/events.py",
    "src/{package}/storage/mongo/events.py",
    "src/{package}/storage/mongo/migrations/v0002_events.py",
    "src/{package}/storage/postgres/events.py",
    "src/{package}/storage/postgres/migrations/versions/v0002_events.py",
    "src/{package}/workers.py",
    "tests/fixtures/events.py",
    "tests/messaging",
    "tests/storage/test_events.py",
    "tests/support/broker.py",
)


# Every auth mode that authenticates callers: how each API refuses them.
_AUTHENTICATED_API_TESTS = (
    "tests/api/grpc/test_authentication.py",
    "tests/api/rest/test_authentication.py",
)


def _broker(name: str) -> tuple[str, ...]:
    return (
        *_EVENT_PATHS,
        f"src/{{package}}/messaging/{name}.py",
        f"tests/fixtures/{name}.py",
        f"tests/messaging/test_{name}.py",
    )


CHOICE_PATHS: Mapping[str, Mapping[str, tuple[str, ...]]] = {
    "api": {
        "rest": (
            "deploy/kubernetes/api-rest.yaml",
            "openapi.json",
            "src/{package}/commands/rest.py",
            "src/{package}/api/rest",
            "tests/api/rest",
            "tests/fixtures/rest.py",
        ),
        "grpc": (
            "buf.yaml",
            "deploy/kubernetes/api-grpc.yaml",
            "proto",
            "src/{package}/api/grpc",
            "src/{package}/commands/grpc.py",
            "src/{package}/orders",
            "src/{package}/webhooks/v1",
            "tests/api/grpc",
            "tests/fixtures/grpc.py",
        ),
    },
    "database": {
        "postgres": (
            "src/{package}/storage/postgres",
            "tests/fixtures/postgres.py",
            "tests/storage/postgres",
        ),
        "mongo": (
            "src/{package}/storage/mongo",
            "tests/fixtures/mongo.py",
            "tests/storage/mongo",
        ),
    },
    "queue": {
        "rabbitmq": _broker("rabbitmq"),
        "kafka": _broker("kafka"),
        "nats": _broker("nats"),
        "redis": _broker("redis"),
        "none": ("src/{package}/storage/no_outbox.py",),
    },
    "auth": {
        "jwt": (
            "src/{package}/api/rest/caller_bearer.py",
            "src/{package}/auth/jwt.py",
            "src/{package}/commands/tokens.py",
            "src/{package}/auth/tokens.py",
            *_AUTHENTICATED_API_TESTS,
            "tests/api/grpc/test_jwt.py",
            "tests/api/rest/test_jwt.py",
            "tests/auth/test_jwt.py",
            "tests/fixtures/jwt.py",
            "tests/support/jwt_tokens.py",
        ),
        "oauth2": (
            "src/{package}/api/rest/caller_bearer.py",
            "src/{package}/auth/client_credentials.py",
            "src/{package}/auth/jwks.py",
            "src/{package}/auth/oauth2.py",
            "src/{package}/auth/tokens.py",
            *_AUTHENTICATED_API_TESTS,
            "tests/api/grpc/test_oauth2.py",
            "tests/api/rest/test_oauth2.py",
            "tests/auth/test_client_credentials.py",
            "tests/auth/test_jwks.py",
            "tests/auth/test_oauth2.py",
            "tests/fixtures/oauth2.py",
            "tests/support/issuer.py",
            "tests/support/oauth2_tokens.py",
        ),
        "api_key": (
            "src/{package}/api/rest/caller_api_key.py",
            "src/{package}/auth/api_keys.py",
            "src/{package}/commands/api_keys.py",
            "src/{package}/storage/api_keys.py",
            "src/{package}/storage/mongo/api_keys.py",
            "src/{package}/storage/mongo/migrations/v0003_api_keys.py",
            "src/{package}/storage/postgres/api_keys.py",
            "src/{package}/storage/postgres/migrations/versions/v0003_api_keys.py",
            *_AUTHENTICATED_API_TESTS,
            "tests/api/grpc/test_api_keys.py",
            "tests/api/rest/test_api_keys.py",
            "tests/auth/test_api_keys.py",
            "tests/fixtures/api_key.py",
            "tests/storage/test_api_keys.py",
            "tests/support/api_keys.py",
        ),
        "none": (
            "src/{package}/api/rest/caller_none.py",
            "tests/api/rest/test_open_access.py",
            "tests/fixtures/no_auth.py",
        ),
    },
}

# A choice's file that every variant imports under one name: the post-generation hook
# moves the selected one there once the unselected ones are gone.
INSTALLED_AS: Mapping[str, str] = {
    "deploy/kubernetes/api-grpc.yaml": "deploy/kubernetes/api.yaml",
    "deploy/kubernetes/api-rest.yaml": "deploy/kubernetes/api.yaml",
    "src/{package}/api/rest/caller_api_key.py": "src/{package}/api/rest/caller.py",
    "src/{package}/api/rest/caller_bearer.py": "src/{package}/api/rest/caller.py",
    "src/{package}/api/rest/caller_none.py": "src/{package}/api/rest/caller.py",
}


def _expand(paths: tuple[str, ...], package: str) -> set[str]:
    return {path.format(package=package) for path in paths}


def _inside(path: str, folder: str) -> bool:
    return path.startswith(f"{folder}/")


def _partition(answers: Mapping[str, str]) -> tuple[set[str], set[str]]:
    """(kept, dropped) paths for ``answers``."""
    package = answers["package_name"]
    kept: set[str] = set()
    dropped: set[str] = set()
    for question, choices in CHOICE_PATHS.items():
        for choice, paths in choices.items():
            (kept if choice == answers[question] else dropped).update(_expand(paths, package))
    dropped -= kept
    kept = {path for path in kept if not any(_inside(path, folder) for folder in dropped)}
    return kept, dropped


def moves(answers: Mapping[str, str]) -> dict[str, str]:
    """``{kept path: the common name it takes}`` for the answers."""
    package = answers["package_name"]
    kept = _partition(answers)[0]
    renames = {
        source.format(package=package): target.format(package=package)
        for source, target in INSTALLED_AS.items()
    }
    return {source: target for source, target in renames.items() if source in kept}


def selected_paths(answers: Mapping[str, str]) -> set[str]:
    """Paths that the answers keep, under the names they end up with."""
    renames = moves(answers)
    return {renames.get(path, path) for path in _partition(answers)[0]}


def unselected_paths(answers: Mapping[str, str]) -> set[str]:
    """Paths that belong only to choices the answers did not pick."""
    return _partition(answers)[1]
