"""deploy/k8s: the manifests kustomization.yaml lists, read as YAML (no cluster, no kubectl here).

Every container is probed and sized, pods get time to drain, Rasa runs as several replicas that share
PostgreSQL and Redis and survive voluntary disruptions, secrets come only from the generated Secret, the
ingress publishes only the webhooks and the desk, and each service gets what Compose gives it.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from .conftest import K8S, env_file, is_secret, objects, rasa_replicas

SECRET = "loom-secrets"
CONFIG = "loom-config"
WEBHOOK_PATHS = {"/webhooks/messenger/webhook", "/webhooks/instagram/webhook", "/webhooks/twitter/webhook"}
COMPONENTS = {
    "rasa": "loom-rasa",
    "actions": "loom-actions",
    "desk": "loom-desk",
    "monitoring": "loom-monitoring",
}


def pod_specs(manifests: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """`Kind/name` -> pod spec, for every Deployment and Job."""
    return {
        f"{m['kind']}/{m['metadata']['name']}": m["spec"]["template"]["spec"]
        for m in manifests
        if m["kind"] in ("Deployment", "Job")
    }


def env_names(container: dict[str, Any], config_map: dict[str, Any]) -> set[str]:
    """Every variable a container gets: its own `env` and the ConfigMaps it takes whole."""
    names = {e["name"] for e in container.get("env", [])}
    for source in container.get("envFrom", []):
        assert source["configMapRef"]["name"] == CONFIG
        names |= set(config_map["data"])
    return names


def container_of(manifests: list[dict[str, Any]], deployment: str) -> dict[str, Any]:
    (container,) = objects(manifests, "Deployment")[deployment]["spec"]["template"]["spec"]["containers"]
    return container


def test_the_kustomization_lists_every_manifest_and_generates_the_secret(kustomization):
    listed = set(kustomization["resources"])
    present = {p.name for p in K8S.glob("*.yaml")} - {"kustomization.yaml"}
    assert listed == present
    (generator,) = kustomization["secretGenerator"]
    assert generator == {"name": SECRET, "envs": ["secrets.env"]}
    assert "namespace" not in kustomization
    assert {i["name"] for i in kustomization["images"]} == {"loom-rasa", "loom-service"}


def test_no_manifest_names_a_namespace(manifests):
    assert not [m["metadata"]["name"] for m in manifests if "namespace" in m["metadata"]]


def test_every_long_running_container_has_readiness_and_liveness_probes_on_its_own_ports(manifests):
    for name, spec in pod_specs(manifests).items():
        if name.startswith("Job/"):
            continue  # runs to completion: nothing to probe
        for container in spec["containers"]:
            ports = {p["name"] for p in container.get("ports", [])}
            for probe in ("readinessProbe", "livenessProbe", "startupProbe"):
                check = container.get(probe)
                assert check and check["httpGet"]["port"] in ports, f"{name}: {probe}"


def test_probes_ask_each_service_the_right_question(manifests):
    paths = {
        c: {p: container_of(manifests, d)[p]["httpGet"]["path"] for p in ("livenessProbe", "readinessProbe")}
        for c, d in COMPONENTS.items()
    }
    assert paths["rasa"] == {"livenessProbe": "/", "readinessProbe": "/readyz"}
    assert paths["actions"] == {"livenessProbe": "/health", "readinessProbe": "/health"}
    assert paths["desk"] == {"livenessProbe": "/health", "readinessProbe": "/readyz"}
    assert paths["monitoring"] == {"livenessProbe": "/health", "readinessProbe": "/readyz"}


def test_every_container_is_sized(manifests):
    for name, spec in pod_specs(manifests).items():
        for container in spec["containers"]:
            resources = container.get("resources", {})
            for kind in ("requests", "limits"):
                assert set(resources.get(kind, {})) == {"cpu", "memory"}, f"{name}: {kind}"


def test_pods_have_time_to_drain(manifests):
    config_map = objects(manifests, "ConfigMap")[CONFIG]
    drain = float(config_map["data"]["INBOX_DRAIN_SECONDS"])
    for name, deployment in objects(manifests, "Deployment").items():
        assert deployment["spec"]["template"]["spec"]["terminationGracePeriodSeconds"] >= 25, name
    rasa = objects(manifests, "Deployment")["loom-rasa"]["spec"]["template"]["spec"]
    pre_stop = rasa["containers"][0]["lifecycle"]["preStop"]["exec"]["command"]
    assert pre_stop[0] == "sleep"
    assert rasa["terminationGracePeriodSeconds"] >= float(pre_stop[1]) + drain + 10


def test_rasa_runs_several_replicas_on_postgresql_and_redis_with_a_disruption_budget(manifests):
    deployment = objects(manifests, "Deployment")["loom-rasa"]
    assert deployment["spec"]["replicas"] >= 2
    assert deployment["spec"]["strategy"]["rollingUpdate"]["maxUnavailable"] == 0
    env = {e["name"]: e for e in container_of(manifests, "loom-rasa")["env"]}
    for name in ("DATABASE_URL", "REDIS_URL"):
        assert env[name]["valueFrom"]["secretKeyRef"] == {"name": SECRET, "key": name}
    budget = objects(manifests, "PodDisruptionBudget")["loom-rasa"]
    assert budget["spec"]["minAvailable"] == 1
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert budget["spec"]["selector"]["matchLabels"].items() <= labels.items()


def test_services_select_their_pods_and_name_their_ports(manifests):
    deployments = objects(manifests, "Deployment")
    for name, service in objects(manifests, "Service").items():
        deployment = deployments[name]
        labels = deployment["spec"]["template"]["metadata"]["labels"]
        assert service["spec"]["selector"].items() <= labels.items(), name
        assert deployment["spec"]["selector"]["matchLabels"].items() <= labels.items(), name
        ports = {p["name"]: p["containerPort"] for p in container_of(manifests, name)["ports"]}
        for port in service["spec"]["ports"]:
            assert ports[port["targetPort"]] == port["port"], name


def test_services_find_each_other_through_the_config_map(manifests):
    data = objects(manifests, "ConfigMap")[CONFIG]["data"]
    services = {n: s["spec"]["ports"][0]["port"] for n, s in objects(manifests, "Service").items()}
    actions = urlsplit(data["ACTION_ENDPOINT_URL"])
    assert (actions.hostname, actions.port, actions.path) == (
        "loom-actions",
        services["loom-actions"],
        "/webhook",
    )
    rasa = urlsplit(data["RASA_URL"])
    assert (rasa.hostname, rasa.port) == ("loom-rasa", services["loom-rasa"])
    assert data["DESK_PUBLIC_URL"].startswith("https://")


def test_secrets_come_only_from_the_generated_secret(manifests):
    data = objects(manifests, "ConfigMap")[CONFIG]["data"]
    assert not [k for k in data if is_secret(k) or k in ("DATABASE_URL", "REDIS_URL")]
    template = env_file(K8S / "secrets.env.example")
    for name, spec in pod_specs(manifests).items():
        for container in spec["containers"]:
            for entry in container.get("env", []):
                secret = is_secret(entry["name"]) or entry["name"] in ("DATABASE_URL", "REDIS_URL")
                if not secret:
                    continue
                assert "value" not in entry, f"{name}: {entry['name']} written inline"
                reference = entry["valueFrom"]["secretKeyRef"]
                assert reference["name"] == SECRET and reference["key"] == entry["name"], name
                assert reference["key"] in template, f"{reference['key']} missing from secrets.env.example"
    for key, (value, comments) in template.items():
        assert value == "" and comments, f"secrets.env.example: {key} needs a comment and no value"


def test_each_service_gets_what_compose_gives_it(manifests, compose):
    config_map = objects(manifests, "ConfigMap")[CONFIG]
    compose_names = {
        "rasa": next(iter(rasa_replicas(compose))),
        "actions": "actions",
        "desk": "desk",
        "monitoring": "monitoring",
    }
    for component, deployment in COMPONENTS.items():
        given = env_names(container_of(manifests, deployment), config_map)
        wanted = set(compose["services"][compose_names[component]]["environment"])
        assert wanted - given == set(), f"{deployment} lacks what Compose gives {component}"


def test_the_ingress_publishes_only_the_webhooks_and_the_desk(manifests):
    routes = {}
    for ingress in objects(manifests, "Ingress").values():
        for rule in ingress["spec"]["rules"]:
            for path in rule["http"]["paths"]:
                routes[(rule["host"], path["path"])] = (path["pathType"], path["backend"]["service"]["name"])
    to_rasa = {path: kind for (_, path), (kind, service) in routes.items() if service == "loom-rasa"}
    assert to_rasa == dict.fromkeys(WEBHOOK_PATHS, "Exact")
    assert {service for _, service in routes.values()} == {"loom-rasa", "loom-desk"}
    webhooks = objects(manifests, "Ingress")["loom-webhooks"]["metadata"]["annotations"]
    assert webhooks["nginx.ingress.kubernetes.io/proxy-body-size"] == "1m"
    retried = webhooks["nginx.ingress.kubernetes.io/proxy-next-upstream"].split()
    assert {"error", "timeout", "http_502", "http_503"} <= set(retried)


def test_containers_run_unprivileged(manifests):
    for name, spec in pod_specs(manifests).items():
        assert spec["securityContext"]["runAsNonRoot"] is True, name
        assert spec["automountServiceAccountToken"] is False, name
        for container in spec["containers"]:
            assert container["securityContext"]["allowPrivilegeEscalation"] is False, name
            assert container["image"] in ("loom-rasa", "loom-service"), name


def test_monitoring_runs_as_its_own_deployment_on_redis(manifests):
    deployment = objects(manifests, "Deployment")["loom-monitoring"]
    assert 1 <= deployment["spec"]["replicas"] <= 2  # the Redis lease keeps one worker active either way
    container = container_of(manifests, "loom-monitoring")
    assert container["command"] == ["python", "-m", "bot.monitoring"]
    env = {e["name"]: e for e in container["env"]}
    assert env["MONITORING_HOST"]["value"] == "0.0.0.0"
    assert {p["containerPort"] for p in container["ports"]} == {int(env["MONITORING_PORT"]["value"])}
    for name in ("DATABASE_URL", "REDIS_URL", "RASA_JWT_SECRET"):
        assert env[name]["valueFrom"]["secretKeyRef"] == {"name": SECRET, "key": name}
