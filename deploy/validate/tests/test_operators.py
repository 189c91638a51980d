"""Prod runs RabbitMQ and PostgreSQL through their operators, checked against the schemas those
projects publish; dev keeps the single-replica StatefulSets."""

import copy
import importlib.util
from pathlib import Path
from typing import Any

import crd_check
import k8s_check
import pytest

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="module")
def prod() -> list[dict[str, Any]]:
    with k8s_check.staged(ROOT / "deploy/k8s") as k8s:
        return k8s_check.render(k8s / "overlays/prod")


def _one(resources: list[dict[str, Any]], kind: str, name: str) -> dict[str, Any]:
    found = [r for r in resources if r["kind"] == kind and r["metadata"]["name"] == name]
    assert len(found) == 1, f"{kind}/{name}: {len(found)}"
    return found[0]


def test_prod_has_a_three_node_broker_and_a_synchronously_replicated_database(prod):
    rabbit = _one(prod, "RabbitmqCluster", "rabbitmq")
    assert rabbit["spec"]["replicas"] == 3
    assert "pause_minority" in rabbit["spec"]["rabbitmq"]["additionalConfig"]
    postgres = _one(prod, "Cluster", "postgres")
    assert postgres["spec"]["instances"] == 3
    assert postgres["spec"]["postgresql"]["synchronous"] == {
        "method": "any",
        "number": 1,
        "dataDurability": "required",
    }
    assert {_one(prod, "Database", n)["spec"]["owner"] for n in ("todos", "budget")} == {
        "todos",
        "budget",
    }
    # The single-replica StatefulSets are dev's only.
    assert not [r for r in prod if r["kind"] == "StatefulSet"]


def test_prod_operator_resources_name_the_hashed_secrets(prod):
    names = {r["metadata"]["name"] for r in prod if r["kind"] in ("Secret", "ConfigMap")}
    postgres = _one(prod, "Cluster", "postgres")
    refs = [role["passwordSecret"]["name"] for role in postgres["spec"]["managed"]["roles"]]
    refs.append(postgres["spec"]["bootstrap"]["initdb"]["secret"]["name"])
    volumes = _one(prod, "RabbitmqCluster", "rabbitmq")["spec"]["override"]["statefulSet"]
    for volume in volumes["spec"]["template"]["spec"]["volumes"]:
        refs.append(volume.get("secret", {}).get("secretName") or volume["configMap"]["name"])
    assert refs
    assert set(refs) <= names


def test_the_postgres_service_follows_the_primary(prod):
    selector = _one(prod, "Service", "postgres")["spec"]["selector"]
    assert selector["cnpg.io/instanceRole"] == "primary"


def test_dev_keeps_the_single_replica_statefulsets():
    with k8s_check.staged(ROOT / "deploy/k8s") as k8s:
        dev = k8s_check.render(k8s / "overlays/dev")
    assert {r["metadata"]["name"] for r in dev if r["kind"] == "StatefulSet"} == {
        "postgres",
        "rabbitmq",
    }
    assert not [r for r in dev if r["kind"] in ("RabbitmqCluster", "Cluster")]


def test_an_unknown_field_in_an_operator_resource_fails(prod):
    rabbit = copy.deepcopy(_one(prod, "RabbitmqCluster", "rabbitmq"))
    rabbit["spec"]["replicaCount"] = 3
    assert any("replicaCount" in e for e in crd_check.errors(rabbit))
    assert any("replicaCount" in e for e in k8s_check.schema_errors([rabbit]))


def test_a_wrong_type_or_value_in_an_operator_resource_fails(prod):
    postgres = copy.deepcopy(_one(prod, "Cluster", "postgres"))
    postgres["spec"]["instances"] = "three"
    postgres["spec"]["postgresql"]["synchronous"]["method"] = "all"
    errors = list(crd_check.errors(postgres))
    assert any(e.startswith("spec.instances") for e in errors)
    assert any(e.startswith("spec.postgresql.synchronous.method") for e in errors)


def test_the_operator_resources_validate(prod):
    operated = [r for r in prod if crd_check.schema_file(r) is not None]
    assert {r["kind"] for r in operated} == {"RabbitmqCluster", "Cluster", "Database"}
    assert list(k8s_check.schema_errors(operated)) == []


def test_an_older_secrets_set_gets_the_role_files_from_its_own_urls(tmp_path):
    path = ROOT / "deploy/k8s/make_secrets.py"
    spec = importlib.util.spec_from_file_location("make_secrets", path)
    assert spec is not None
    assert spec.loader is not None
    make_secrets = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(make_secrets)
    pem = "-----BEGIN PUBLIC KEY-----\nx\n-----END PUBLIC KEY-----\n"
    make_secrets.write(tmp_path, pem)
    for name in ("todos-db.env", "budget-db.env"):
        (tmp_path / name).unlink()
    before = {p.name: p.read_text() for p in tmp_path.iterdir()}
    written = make_secrets.write(tmp_path, pem)
    assert sorted(p.name for p in written) == ["budget-db.env", "todos-db.env"]
    assert {p.name: p.read_text() for p in tmp_path.iterdir() if p.name in before} == before
    url = next(x for x in before["todos.env"].splitlines() if x.startswith("TODOS_DATABASE_URL="))
    password = url.split("//todos:", 1)[1].split("@", 1)[0]
    assert (tmp_path / "todos-db.env").read_text() == f"username=todos\npassword={password}\n"
