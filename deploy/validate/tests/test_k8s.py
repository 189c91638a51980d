"""The Kubernetes checks pass on our overlays and fail on broken manifests."""

from pathlib import Path

import k8s_check
import pytest

ROOT = Path(__file__).resolve().parents[3]

DEPLOYMENT = """\
apiVersion: apps/v1
kind: Deployment
metadata: {name: demo}
spec:
  replicas: REPLICAS
  selector:
    matchLabels: {app: demo}
  template:
    metadata:
      labels: {app: demo}
    spec:
      containers:
        - name: demo
          image: demo:1
          PULL_POLICY_FIELD: IfNotPresent
          envFrom:
            - secretRef: {name: SECRET}
---
apiVersion: v1
kind: Secret
metadata: {name: demo}
stringData: {A: b}
---
apiVersion: v1
kind: Service
metadata: {name: demo}
spec:
  selector: {app: SELECTED}
  ports:
    - {port: 80}
"""


def _overlay(
    tmp_path: Path,
    *,
    replicas: str = "2",
    pull_policy_field: str = "imagePullPolicy",
    env_from: str = "demo",
    selected: str = "demo",
    resources: str = "[demo.yaml]",
) -> Path:
    manifest = (
        DEPLOYMENT.replace("REPLICAS", replicas)
        .replace("PULL_POLICY_FIELD", pull_policy_field)
        .replace("SECRET", env_from)
        .replace("SELECTED", selected)
    )
    (tmp_path / "demo.yaml").write_text(manifest)
    (tmp_path / "kustomization.yaml").write_text(f"resources: {resources}\n")
    return tmp_path


@pytest.mark.parametrize("overlay", ["dev", "prod"])
def test_our_overlays_render_and_validate(overlay):
    with k8s_check.staged(ROOT / "deploy/k8s") as k8s:
        summary = k8s_check.check(k8s / "overlays" / overlay)
    assert "resources valid" in summary


def test_generated_secrets_reach_the_workloads_under_their_hashed_names():
    with k8s_check.staged(ROOT / "deploy/k8s") as k8s:
        resources = k8s_check.render(k8s / "overlays/prod")
    secrets = {r["metadata"]["name"] for r in resources if r["kind"] == "Secret"}
    assert any(name.startswith("todos-secrets-") for name in secrets), secrets
    assert not list(k8s_check.reference_errors(resources))


def test_an_overlay_whose_secret_holds_a_placeholder_fails(tmp_path):
    with k8s_check.staged(ROOT / "deploy/k8s") as k8s:
        env = k8s / "base/secrets/todos.env"
        env.write_text(env.read_text().replace("@postgres", "CHANGE-ME@postgres", 1))
        with pytest.raises(
            k8s_check.ManifestError, match=r"todos-secrets-.*TODOS_DATABASE_URL holds a"
        ):
            k8s_check.check(k8s / "overlays/prod")


@pytest.mark.parametrize("value", ["CHANGE-ME-hook-secret", "amqp://guest:guest@rabbitmq:5672/"])
def test_a_secret_with_a_placeholder_fails(tmp_path, value):
    overlay = _overlay(tmp_path)
    manifest = overlay / "demo.yaml"
    manifest.write_text(
        manifest.read_text().replace("stringData: {A: b}", f"stringData: {{A: '{value}'}}")
    )
    with pytest.raises(k8s_check.ManifestError, match="Secret/demo: A holds a placeholder"):
        k8s_check.check(overlay)


def test_a_correct_manifest_passes(tmp_path):
    assert k8s_check.check(_overlay(tmp_path)).startswith("3 resources valid")


def test_a_wrong_field_type_fails(tmp_path):
    with pytest.raises(k8s_check.ManifestError, match=r"Deployment/demo: spec\.replicas"):
        k8s_check.check(_overlay(tmp_path, replicas='"three"'))


def test_an_unknown_field_fails(tmp_path):
    with pytest.raises(k8s_check.ManifestError, match="imagePullPolice"):
        k8s_check.check(_overlay(tmp_path, pull_policy_field="imagePullPolice"))


def test_a_reference_to_a_missing_secret_fails(tmp_path):
    with pytest.raises(k8s_check.ManifestError, match="refers to missing Secret/other"):
        k8s_check.check(_overlay(tmp_path, env_from="other"))


def test_a_service_selecting_no_pod_fails(tmp_path):
    with pytest.raises(k8s_check.ManifestError, match="Service/demo: selector matches no pod"):
        k8s_check.check(_overlay(tmp_path, selected="nobody"))


def test_an_overlay_that_does_not_render_fails(tmp_path):
    with pytest.raises(k8s_check.ManifestError, match="kustomize failed"):
        k8s_check.check(_overlay(tmp_path, resources="[demo.yaml, missing.yaml]"))


def test_prod_scales_workers_on_backlog_spreads_replicas_and_guards_the_gateway():
    with k8s_check.staged(ROOT / "deploy/k8s") as k8s:
        resources = k8s_check.render(k8s / "overlays/prod")
    by = {(r["kind"], r["metadata"]["name"]): r for r in resources}
    assert ("PodDisruptionBudget", "gateway") in by
    for worker, metric in (
        ("todos-relay", "todos_outbox_unsent_rows"),
        ("budget-consumer", "rabbitmq_detailed_queue_messages_ready"),
    ):
        hpa = by[("HorizontalPodAutoscaler", worker)]["spec"]
        assert [m["external"]["metric"]["name"] for m in hpa["metrics"]] == [metric]
        pod = by[("Deployment", worker)]["spec"]["template"]["spec"]
        probe = pod["containers"][0]["livenessProbe"]["exec"]["command"]
        assert probe[:3] == ["python", "-m", f"{worker.split('-')[0]}.heartbeat"]
    for name in ("gateway", "todos-api", "budget-api", "todos-relay", "budget-consumer"):
        spread = by[("Deployment", name)]["spec"]["template"]["spec"]["topologySpreadConstraints"]
        assert {c["topologyKey"] for c in spread} == {
            "topology.kubernetes.io/zone",
            "kubernetes.io/hostname",
        }
    relay = by[("Deployment", "todos-relay")]["spec"]["template"]["spec"]["containers"][0]
    assert "broker=ok" in relay["readinessProbe"]["exec"]["command"]


@pytest.mark.parametrize(
    ("where", "expected"),
    [("base", "production"), ("overlays/prod", "production"), ("overlays/dev", "development")],
)
def test_production_is_the_default_and_only_the_dev_overlay_says_development(where, expected):
    with k8s_check.staged(ROOT / "deploy/k8s") as k8s:
        resources = k8s_check.render(k8s / where)
    [settings] = [
        r for r in resources
        if r["kind"] == "ConfigMap" and r["metadata"]["name"].startswith("service-settings")
    ]  # fmt: skip
    assert settings["data"]["TODOS_ENVIRONMENT"] == expected
    assert settings["data"]["BUDGET_ENVIRONMENT"] == expected


def test_prod_terminates_tls_at_the_gateway_sends_hsts_and_keeps_client_addresses():
    with k8s_check.staged(ROOT / "deploy/k8s") as k8s:
        resources = k8s_check.render(k8s / "overlays/prod")
    by = {(r["kind"], r["metadata"]["name"].split("-")[0]): r for r in resources}
    service = next(
        r for r in resources if r["kind"] == "Service" and r["metadata"]["name"] == "gateway"
    )["spec"]
    assert service["type"] == "LoadBalancer"
    # The client's own address reaches HAProxy: the per-address rate limit counts clients.
    assert service["externalTrafficPolicy"] == "Local"
    ports = {p["port"]: p["targetPort"] for p in service["ports"]}
    assert ports == {443: "https", 80: "http"}
    assert len({p["name"] for p in service["ports"]}) == len(service["ports"])
    gateway = next(
        r for r in resources if r["kind"] == "Deployment" and r["metadata"]["name"] == "gateway"
    )["spec"]["template"]["spec"]
    [haproxy] = gateway["containers"]
    env = {e["name"]: e.get("value") for e in haproxy["env"]}
    assert env["GATEWAY_TLS_CERT"] == "/run/secrets/tls/gateway.pem"
    [tls] = [v for v in gateway["volumes"] if v["name"] == "tls"]
    secret = next(
        r
        for r in resources
        if r["kind"] == "Secret" and r["metadata"]["name"] == tls["secret"]["secretName"]
    )
    assert secret["type"] == "kubernetes.io/tls"
    config = by[("ConfigMap", "gateway")]["data"]["haproxy.cfg"]
    assert "ssl crt" in config
    assert "Strict-Transport-Security" in config
