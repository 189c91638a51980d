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

ROOT = Path(__file__).resolve().parents[2]
GATEWAY_CONFIG = ROOT / "deploy/gateway/haproxy.cfg"
# kustomize reads files only from below the kustomization, so the base keeps a copy.
GATEWAY_CONFIG_COPY = ROOT / "deploy/k8s/base/gateway/haproxy.cfg"
OVERLAYS = sorted(p.parent for p in (ROOT / "deploy/k8s/overlays").glob("*/kustomization.yaml"))


def check_gateway_copy() -> str:
    """The base's haproxy.cfg must equal deploy/gateway/haproxy.cfg; refresh it outside CI."""
    if filecmp.cmp(GATEWAY_CONFIG, GATEWAY_CONFIG_COPY, shallow=False):
        return "gateway config copy is current"
    if os.environ.get("CI"):
        raise k8s_check.ManifestError(
            f"{GATEWAY_CONFIG_COPY.relative_to(ROOT)} differs from "
            f"{GATEWAY_CONFIG.relative_to(ROOT)}: run `make validate` locally and commit the copy"
        )
    shutil.copyfile(GATEWAY_CONFIG, GATEWAY_CONFIG_COPY)
    return f"refreshed {GATEWAY_CONFIG_COPY.relative_to(ROOT)} from the gateway config: commit it"


def main() -> int:
    """Run every check, print one line per target, exit non-zero if any failed."""
    failures = 0

    def run(label: str, check: Callable[[], str]) -> None:
        nonlocal failures
        try:
            print(f"ok    {label}: {check()}")
        except (compose_check.ComposeError, k8s_check.ManifestError) as e:
            failures += 1
            print(f"FAIL  {label}: {e}")

    run("deploy/k8s/base/gateway/haproxy.cfg", check_gateway_copy)
    run(
        "docker-compose.yml",
        lambda: compose_check.check(ROOT / "docker-compose.yml", ROOT / ".env.example"),
    )
    for overlay in OVERLAYS:
        run(str(overlay.relative_to(ROOT)), functools.partial(k8s_check.check, overlay))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
