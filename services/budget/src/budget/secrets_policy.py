"""Which settings count as development-only: refused at start-up outside development.

An allow-list of environments (development and the test suite's `test`) may run with the
development stand-ins; every other environment must bring real secrets. A value is a stand-in
when it is empty, carries a placeholder marker, or is one of the development defaults.
"""

from collections.abc import Iterable, Iterator
from urllib.parse import urlsplit

from contracts.identity import DEV_KEY_MARKER

DEV_ENVIRONMENTS = frozenset({"development", "test"})
# The markers of the committed placeholders (.env.example, deploy/k8s) and the dev values.
PLACEHOLDER_MARKERS = ("change-me", "changeme", "placeholder", "replace-me", "example")
DEV_VALUES = frozenset({"dev-hook-secret", "guest", "postgres", "password", "secret", "admin"})


def is_placeholder(value: str) -> bool:
    """True for an empty value, a committed placeholder or a development default."""
    lowered = value.strip().lower()
    return not lowered or lowered in DEV_VALUES or any(m in lowered for m in PLACEHOLDER_MARKERS)


def url_problems(name: str, url: str) -> Iterator[str]:
    """Problems of a connection URL's credentials (none given, or stand-ins)."""
    parts = urlsplit(url)
    if not parts.password:
        yield f"{name} has no password"
    elif is_placeholder(parts.password):
        yield f"{name} holds a placeholder or development password"
    if parts.username and parts.username.lower() == "guest":
        yield f"{name} uses RabbitMQ's development user guest"


def key_problems(pem: str | None, path: str | None, prefix: str = "") -> Iterator[str]:
    """Problems of the JWT public key: missing, unreadable, a placeholder, or the development pair.

    The development pair is known by its content (the marker line devkeys writes), so a copy
    mounted anywhere (compose's /run/secrets/...) is refused as well as the .dev/ path.
    """
    if not pem and not path:
        yield f"{prefix}JWT_PUBLIC_KEY or {prefix}JWT_PUBLIC_KEY_FILE is required"
    if path and "/.dev/" in f"/{path}":
        yield f"{prefix}JWT_PUBLIC_KEY_FILE is the development key made by `make run` (.dev/)"
    if path and not pem:
        try:
            with open(path) as f:
                pem = f.read()
        except OSError as exc:
            yield f"{prefix}JWT_PUBLIC_KEY_FILE cannot be read ({exc.strerror})"
    if pem and DEV_KEY_MARKER in pem:
        yield "the JWT public key is the development key made by `make run`"
    if pem and any(m in pem.lower() for m in PLACEHOLDER_MARKERS):
        yield "the JWT public key is a placeholder"


def secret_problems(name: str, values: Iterable[str]) -> Iterator[str]:
    """Problems of shared secrets (hook secrets)."""
    for value in values:
        if is_placeholder(value):
            yield f"{name} holds a placeholder or development secret"
        elif len(value) < 16:
            yield f"{name} holds a secret shorter than 16 characters"


def refuse(environment: str, problems: Iterable[str], prefix: str = "") -> None:
    """Raise ValueError listing every problem, unless `environment` may use stand-ins."""
    if environment in DEV_ENVIRONMENTS:
        return
    found = sorted(set(problems))
    if found:
        raise ValueError(
            f"refusing to start with {prefix}ENVIRONMENT={environment}: "
            + "; ".join(found)
            + f" (development values are accepted only with {prefix}ENVIRONMENT=development)"
        )
