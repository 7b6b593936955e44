"""The Kubernetes manifests agree with the service they deploy.

kubernetes-validate (a pre-commit hook) checks them against the API's schemas;
these tests check what a schema cannot: every manifest is deployed, every
container runs a command the service has with settings it reads, probes and
ports are the ones it serves, shutdown has the time the service drains in,
and every pod runs restricted.
"""

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import SecretStr

from {{ cookiecutter.package_name }}.cli import parser
from {{ cookiecutter.package_name }}.settings import Settings

PROJECT = Path(__file__).parents[2]
DEPLOY = PROJECT / "deploy" / "kubernetes"
PRE_STOP_SECONDS_AT_MOST = 10

type Manifest = dict[str, Any]


def kustomization() -> Manifest:
    document: Manifest = yaml.safe_load((DEPLOY / "kustomization.yaml").read_text())
    return document


def manifests() -> list[Manifest]:
    """Every resource the kustomization deploys."""
    return [
        document
        for name in kustomization()["resources"]
        for document in yaml.safe_load_all((DEPLOY / name).read_text())
    ]


def of_kind(kind: str) -> list[Manifest]:
    return [manifest for manifest in manifests() if manifest["kind"] == kind]


def pod_spec(manifest: Manifest) -> Manifest:
    template = manifest["spec"]["jobTemplate"]["spec"] if manifest["kind"] == "CronJob" else None
    spec: Manifest = (template or manifest["spec"])["template"]["spec"]
    return spec


def pods() -> Iterator[tuple[str, Manifest]]:
    for manifest in manifests():
        if manifest["kind"] in {"Deployment", "Job", "CronJob"}:
            yield manifest["metadata"]["name"], pod_spec(manifest)


def containers(pod: Manifest) -> list[Manifest]:
    every: list[Manifest] = [*pod.get("initContainers", []), *pod["containers"]]
    return every


def env_file(path: Path) -> dict[str, str]:
    """``NAME=value`` lines, as kustomize's generators read them."""
    lines = path.read_text().splitlines()
    entries = [line.partition("=") for line in lines if line.strip() and not line.startswith("#")]
    return {name: value for name, _, value in entries}


def holds_a_secret(annotation: object) -> bool:
    return SecretStr in (annotation, *getattr(annotation, "__args__", ()))


def setting_names() -> dict[str, bool]:
    """Every variable the service reads: ``{NAME: whether it holds a secret}``."""
    names: dict[str, bool] = {}
    for field, info in Settings.model_fields.items():
        nested = getattr(info.annotation, "model_fields", {})
        names[field.upper()] = holds_a_secret(info.annotation)
        for sub, sub_info in nested.items():
            names[f"{field}__{sub}".upper()] = holds_a_secret(sub_info.annotation)
    return names


SETTINGS_ENV = env_file(DEPLOY / "settings.env")
SECRETS_ENV = env_file(DEPLOY / "secrets.env.example")


def test_the_kustomization_deploys_every_manifest() -> None:
    on_disk = {path.name for path in DEPLOY.glob("*.yaml")} - {"kustomization.yaml"}

    assert sorted(kustomization()["resources"]) == sorted(on_disk)


def test_settings_and_secrets_are_settings_the_service_reads() -> None:
    names = setting_names()

    assert set(SETTINGS_ENV) <= set(names), set(SETTINGS_ENV) - set(names)
    assert set(SECRETS_ENV) <= set(names), set(SECRETS_ENV) - set(names)
    assert not set(SETTINGS_ENV) & set(SECRETS_ENV)
    assert not [name for name in SETTINGS_ENV if names[name]], "a secret in the ConfigMap"
    assert {name for name, secret in names.items() if secret} <= set(SECRETS_ENV) | {
        name
        for name in names
        if name.endswith("_PRIVATE_KEY")  # signs tokens; never on servers
    }


def test_the_settings_with_the_example_secrets_are_valid(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in (SETTINGS_ENV | SECRETS_ENV).items():
        monkeypatch.setenv(name, value)

    settings = Settings(_env_file=None)

    assert settings.environment == "production"
    assert settings.log_format == "json"


@pytest.mark.parametrize(("name", "pod"), list(pods()))
def test_every_container_runs_a_command_of_the_service_with_its_settings(
    name: str, pod: Manifest
) -> None:
    for container in containers(pod):
        parser().parse_args(container["args"])  # exits on an unknown command or argument
        assert container["image"] == kustomization()["images"][0]["name"]
        sources = [next(iter(source.values()))["name"] for source in container["envFrom"]]
        assert sources == ["settings", "secrets"], name


@pytest.mark.parametrize(("name", "pod"), list(pods()))
def test_every_pod_runs_restricted_within_its_resources(name: str, pod: Manifest) -> None:
    dockerfile_user = next(
        line.split()[1]
        for line in (PROJECT / "Dockerfile").read_text().splitlines()
        if line.startswith("USER ")
    )

    assert pod["automountServiceAccountToken"] is False
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert str(pod["securityContext"]["runAsUser"]) == dockerfile_user
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    for container in containers(pod):
        security = container["securityContext"]
        assert security["allowPrivilegeEscalation"] is False, name
        assert security["readOnlyRootFilesystem"] is True, name
        assert security["capabilities"] == {"drop": ["ALL"]}, name
        for bound in ("requests", "limits"):
            assert set(container["resources"][bound]) == {"cpu", "memory"}, name


@pytest.mark.parametrize("deployment", of_kind("Deployment"), ids=lambda d: d["metadata"]["name"])
def test_every_deployment_starts_after_the_migrations_and_probes_what_it_serves(
    deployment: Manifest,
) -> None:
    pod = pod_spec(deployment)
    (waits,) = pod["initContainers"]
    (container,) = pod["containers"]

    assert waits["args"][:2] == ["migrate", "wait"]
    for port in container["ports"]:
        assert port["containerPort"] == int(SETTINGS_ENV[f"{port['name'].upper()}_PORT"])
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    readiness = container["readinessProbe"]
    if "grpc" in readiness:
        assert readiness["grpc"]["port"] == int(SETTINGS_ENV["GRPC_PORT"])
    else:
        assert readiness["httpGet"]["path"] == "/readyz"


def test_the_api_drains_within_its_termination_grace() -> None:
    (deployment,) = [d for d in of_kind("Deployment") if d["metadata"]["name"] == "api"]
    pod = pod_spec(deployment)
    (container,) = pod["containers"]
    served = container["ports"][0]["name"]  # grpc, or http for the REST API
    drain = Settings.model_fields[f"{served}_graceful_shutdown_seconds"].default
    pre_stop = container["lifecycle"]["preStop"]["sleep"]["seconds"]

    assert pre_stop <= PRE_STOP_SECONDS_AT_MOST
    assert pod["terminationGracePeriodSeconds"] > pre_stop + drain


def test_the_webhook_deliverer_ends_its_attempts_within_its_termination_grace() -> None:
    (deployment,) = [d for d in of_kind("Deployment") if d["metadata"]["name"] == "deliver"]

    deadline = Settings(_env_file=None).webhooks_delivery.deadline_seconds
    assert pod_spec(deployment)["terminationGracePeriodSeconds"] > deadline


def test_the_api_keeps_serving_while_it_scales_and_while_nodes_drain() -> None:
    (autoscaler,) = of_kind("HorizontalPodAutoscaler")
    (budget,) = of_kind("PodDisruptionBudget")
    (api,) = [d for d in of_kind("Deployment") if d["metadata"]["name"] == "api"]
    selector = api["spec"]["selector"]["matchLabels"]

    assert "replicas" not in api["spec"], "the autoscaler owns the replica count"
    assert autoscaler["spec"]["scaleTargetRef"]["name"] == "api"
    assert autoscaler["spec"]["minReplicas"] > budget["spec"]["maxUnavailable"]
    assert budget["spec"]["selector"]["matchLabels"] == selector
    assert api["spec"]["strategy"]["rollingUpdate"]["maxUnavailable"] == 0
