"""Offline checks of the broker topology (RabbitMQ definitions) and the Prometheus alert rules."""

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

# A metric name in a PromQL expression: our services' prefixes only.
_METRIC = re.compile(r"\b((?:todos|budget)_[a-z0-9_]+)\b")


class OpsError(Exception):
    """A topology or rule file that would load into something broken."""


def topology_errors(definitions: dict[str, Any]) -> Iterator[str]:
    """Every reference in a definitions document must name something it defines."""
    exchanges = {(e["vhost"], e["name"]) for e in definitions.get("exchanges", [])}
    queues = {(q["vhost"], q["name"]): q for q in definitions.get("queues", [])}
    vhosts = {v["name"] for v in definitions.get("vhosts", [])}
    for kind, items in (("exchange", definitions.get("exchanges", [])), ("queue", queues.values())):
        for item in items:
            if item["vhost"] not in vhosts:
                yield f"{kind} {item['name']}: vhost {item['vhost']!r} is not defined"
            if not item.get("durable"):
                yield f"{kind} {item['name']}: not durable"
    for vhost, name in exchanges:
        exchange = next(
            e for e in definitions["exchanges"] if (e["vhost"], e["name"]) == (vhost, name)
        )
        alternate = exchange.get("arguments", {}).get("alternate-exchange")
        if alternate and (vhost, alternate) not in exchanges:
            yield f"exchange {name}: alternate exchange {alternate} is not defined"
    for (vhost, name), queue in queues.items():
        args = queue.get("arguments", {})
        dlx = args.get("x-dead-letter-exchange")
        if dlx and (vhost, dlx) not in exchanges:
            yield f"queue {name}: dead-letter exchange {dlx} is not defined"
        if args.get("x-dead-letter-strategy") == "at-least-once" and (
            args.get("x-overflow") != "reject-publish" or args.get("x-queue-type") != "quorum"
        ):
            yield f"queue {name}: at-least-once dead-lettering needs quorum and reject-publish"
        if not any(b["destination"] == name for b in definitions.get("bindings", [])):
            yield f"queue {name}: nothing is bound to it"
    for binding in definitions.get("bindings", []):
        vhost = binding["vhost"]
        if (vhost, binding["source"]) not in exchanges:
            yield f"binding from unknown exchange {binding['source']}"
        target = (vhost, binding["destination"])
        known = queues if binding["destination_type"] == "queue" else exchanges
        if target not in known:
            yield f"binding to unknown {binding['destination_type']} {binding['destination']}"
        if "*" in binding["routing_key"] or "#" in binding["routing_key"]:
            yield (
                f"binding {binding['source']} -> {binding['destination']}: wildcard "
                f"{binding['routing_key']!r} would route event versions nobody reads"
            )


def check_topology(path: Path) -> str:
    """The definitions file parses and is consistent; raise OpsError otherwise."""
    try:
        definitions = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as e:
        raise OpsError(f"{path.name}: {e}") from e
    if errors := list(topology_errors(definitions)):
        raise OpsError(f"{path.name}: " + "; ".join(errors))
    return (
        f"{len(definitions['exchanges'])} exchanges, {len(definitions['queues'])} queues, "
        f"{len(definitions['bindings'])} bindings consistent"
    )


def check_alerts(path: Path, sources: list[Path]) -> str:
    """Every rule is complete and uses only metrics some service defines."""
    try:
        doc = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as e:
        raise OpsError(f"{path.name}: {e}") from e
    code = "\n".join(p.read_text() for p in sources)
    problems: list[str] = []
    rules = [rule for group in (doc or {}).get("groups", []) for rule in group.get("rules", [])]
    if not rules:
        problems.append("no rules")
    for rule in rules:
        name = rule.get("alert", "?")
        for key in ("alert", "expr", "labels", "annotations"):
            if key not in rule:
                problems.append(f"{name}: no {key}")
        if "severity" not in (rule.get("labels") or {}):
            problems.append(f"{name}: no severity label")
        if "summary" not in (rule.get("annotations") or {}):
            problems.append(f"{name}: no summary annotation")
        for metric in _METRIC.findall(str(rule.get("expr", ""))):
            base = re.sub(r"_(total|bucket|sum|count)$", "", metric)
            if f'"{metric}"' not in code and f'"{base}"' not in code:
                problems.append(f"{name}: metric {metric} is defined by no service")
    if problems:
        raise OpsError(f"{path.name}: " + "; ".join(problems))
    return f"{len(rules)} alert rules use known metrics"


def check_asyncapi(document: Path, schema: Path) -> str:
    """The AsyncAPI document is valid against the AsyncAPI 3.0 JSON Schema (vendored, offline)."""
    import jsonschema

    spec = json.loads(schema.read_text())
    try:
        doc = json.loads(document.read_text())
    except (OSError, ValueError) as e:
        raise OpsError(f"{document.name}: {e}") from e
    validator = jsonschema.validators.validator_for(spec)(spec)
    errors = sorted(validator.iter_errors(doc), key=lambda e: list(e.absolute_path))
    if errors:
        where = "/".join(map(str, errors[0].absolute_path)) or "(root)"
        raise OpsError(f"{document.name}: {len(errors)} error(s); first at {where}")
    return f"valid AsyncAPI {doc['asyncapi']}: {len(doc['channels'])} channels"


def check_dashboard(path: Path, sources: list[Path]) -> str:
    """Every panel queries only metrics some service defines."""
    try:
        doc = json.loads(path.read_text())
    except (OSError, ValueError) as e:
        raise OpsError(f"{path.name}: {e}") from e
    code = "\n".join(p.read_text() for p in sources)
    problems = []
    panels = doc.get("panels", [])
    for panel in panels:
        for target in panel.get("targets", []):
            for metric in _METRIC.findall(target.get("expr", "")):
                base = re.sub(r"_(total|bucket|sum|count)$", "", metric)
                if f'"{metric}"' not in code and f'"{base}"' not in code:
                    problems.append(
                        f"{panel.get('title')}: metric {metric} is defined by no service"
                    )
    if not panels:
        problems.append("no panels")
    if problems:
        raise OpsError(f"{path.name}: " + "; ".join(problems))
    return f"{len(panels)} panels use known metrics"
