"""deploy/upgrade grants the controller every call a full update makes, and each rule is needed for one."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import yaml

from dexpy.upgrade.controller import Controller
from dexpy.upgrade.kube import Kube
from dexpy.upgrade.lease import LeaderElector
from dexpy.upgrade.replica import Replica
from tests.fixtures.kubeapi.auth import Rule
from tests.upgrade.conftest import NEW, NODES, Cluster, completed

DEPLOY = Path(__file__).resolve().parents[2] / "deploy" / "upgrade"
Call = tuple[str, str, str, str | None]  # verb, API group, resource[/subresource], namespace


def load(name: str) -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all((DEPLOY / name).read_text()) if doc]


def service_account() -> tuple[str, str]:
    """The Deployment's service account and the namespace kustomize puts everything in."""
    namespace = load("kustomization.yaml")[0]["namespace"]
    return load("deployment.yaml")[0]["spec"]["template"]["spec"]["serviceAccountName"], namespace


def granted_rules() -> list[Rule]:
    """The rules the RBAC manifests bind to that service account, as the fake API server enforces them."""
    account, namespace = service_account()
    docs = load("rbac.yaml")
    roles = {(doc["kind"], doc["metadata"]["name"]): doc for doc in docs if doc["kind"] in ("ClusterRole", "Role")}
    rules = []
    for binding in (doc for doc in docs if doc["kind"] in ("ClusterRoleBinding", "RoleBinding")):
        subject = {"kind": "ServiceAccount", "name": account, "namespace": namespace}
        if subject not in binding["subjects"]:
            continue
        role = roles[(binding["roleRef"]["kind"], binding["roleRef"]["name"])]
        scope = None if binding["kind"] == "ClusterRoleBinding" else frozenset([namespace])
        for rule in role["rules"]:
            verbs, resources, groups = (frozenset(rule[key]) for key in ("verbs", "resources", "apiGroups"))
            rules.append(Rule(verbs, resources, scope, groups))
    return rules


def calls_by(cluster: Cluster, user: str) -> set[Call]:
    found = set()
    for request in cluster.api.requests:
        if request.user == user:
            parts = request.path.split("/")
            group = "" if parts[1] == "api" else parts[2]
            resource = f"{request.resource}/{request.subresource}" if request.subresource else request.resource
            found.add((request.verb, group, resource, request.namespace))
    return found


def allowed(rules: list[Rule], call: Call) -> bool:
    return any(rule.allows(*call) for rule in rules)


def add_evictable_pod(cluster: Cluster, node: str) -> None:
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "web", "namespace": "default"},
           "spec": {"nodeName": node, "containers": [{"name": "web", "image": "nginx"}]}}
    cluster.kube.create("/api/v1/namespaces/default/pods", pod)


def test_the_role_grants_every_call_of_a_full_update_and_no_rule_is_idle(cluster: Cluster, tmp_path) -> None:
    account, namespace = service_account()
    user = f"system:serviceaccount:{namespace}:{account}"
    rules = granted_rules()
    token = cluster.api.add_user(user, rules)
    kube = Kube.connect(str(cluster.api.write_kubeconfig(tmp_path / "sa", token=token)))
    elector = LeaderElector(kube, namespace=namespace, identity="a", clock=cluster.clock)
    replica = Replica(elector, Controller(kube, clock=cluster.clock, own_node=NODES[0]), clock=cluster.clock)
    add_evictable_pod(cluster, "w1")
    cluster.set_spec(desiredVersion=NEW, backup={"policy": "Required"})
    for _ in range(100):
        replica.turn()
        cluster.sim.tick()
        cluster.clock.advance(timedelta(seconds=5))
        if completed(cluster):
            break
    refused = [f"{r.method} {r.path}" for r in cluster.api.requests if r.user == user and r.status == 403]
    assert refused == []
    assert cluster.status().get("currentVersion") == NEW
    calls = calls_by(cluster, user)
    assert {verb for verb, *_ in calls} >= {"get", "list", "create", "update", "patch", "delete"}
    assert [call for call in calls if not allowed(rules, call)] == []
    for index, rule in enumerate(rules):
        without = rules[:index] + rules[index + 1 :]
        assert any(not allowed(without, call) for call in calls), f"no call of the update needs {rule}"
