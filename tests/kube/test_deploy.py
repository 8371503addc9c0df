"""`kubectl apply -k deploy/` and its overlays: rendered by the real kustomize (kubectl's), every object
checked against the Kubernetes schema, and the properties an operator relies on asserted."""

from __future__ import annotations

import base64
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from dexpy.config import load_config
from tests.fixtures.kubeapi.fixture import kube_api  # noqa: F401 - used by the cluster fixture
from tests.upgrade.conftest import NEW, Cluster, cluster, completed  # noqa: F401

REPO = Path(__file__).resolve().parents[2]
DEPLOY = REPO / "deploy"
KUBERNETES_VERSION = "1.32"
TARGETS = ["deploy", "deploy/overlays/crd-ensure", "deploy/overlays/ldap"]

Objects = list[dict[str, Any]]


def render(target: str) -> Objects:
    kubectl = shutil.which("kubectl")
    assert kubectl, "kubectl (with its built-in kustomize) is needed to render deploy/"
    done = subprocess.run([kubectl, "kustomize", str(REPO / target)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return [o for o in yaml.safe_load_all(done.stdout) if o]


@pytest.fixture(scope="module")
def rendered() -> dict[str, Objects]:
    return {target: render(target) for target in TARGETS}


def one(objects: Objects, kind: str) -> dict[str, Any]:
    [found] = [o for o in objects if o["kind"] == kind]
    return found


def env_of(container: dict[str, Any]) -> dict[str, str]:
    return {e["name"]: e.get("value", "") for e in container.get("env", [])}


@pytest.mark.parametrize("target", TARGETS)
def test_every_object_matches_the_kubernetes_schema(rendered: dict[str, Objects], target: str) -> None:
    for obj in rendered[target]:
        kubernetes_validate.validate(obj, KUBERNETES_VERSION, strict=True)


@pytest.mark.parametrize("target", TARGETS)
def test_rendered_config_is_a_valid_dexpy_config(rendered: dict[str, Objects], target: str,
                                                  tmp_path: Path) -> None:
    objects = rendered[target]
    secret = one(objects, "Secret")
    pod = one(objects, "Deployment")["spec"]["template"]["spec"]
    assert {"name": "config", "secret": {"secretName": secret["metadata"]["name"]}} in pod["volumes"]
    path = tmp_path / "config.yaml"
    path.write_bytes(base64.b64decode(secret["data"]["config.yaml"]))
    env = {**env_of(pod["containers"][0]), "LDAP_BIND_PW": "from-the-secret"}
    config = load_config(str(path), env=env)
    assert config.storage.type == "kubernetes"
    assert config.storage.config["inCluster"] is True
    expected = "ensure" if target.endswith("crd-ensure") else "check"
    assert config.storage.config["crdHandling"] == expected
    assert config.web.https and config.web.tls_cert.startswith("/etc/dexpy/tls/")
    assert [c.id for c in config.static_clients if c.public] == ["kubectl"]


def test_deployment_is_highly_available_and_restricted(rendered: dict[str, Objects]) -> None:
    objects = rendered["deploy"]
    deployment = one(objects, "Deployment")
    assert deployment["metadata"]["namespace"] == "dexpy"
    assert deployment["spec"]["replicas"] == 2
    pod = deployment["spec"]["template"]["spec"]
    assert pod["serviceAccountName"] == "dexpy"
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    [container] = pod["containers"]
    assert container["args"] == ["serve", "/etc/dexpy/config.yaml"]
    security = container["securityContext"]
    assert security["readOnlyRootFilesystem"] is True
    assert security["allowPrivilegeEscalation"] is False
    assert security["capabilities"] == {"drop": ["ALL"]}
    telemetry = {p["name"]: p["containerPort"] for p in container["ports"]}["telemetry"]
    assert container["readinessProbe"]["httpGet"] == {"path": "/healthz/ready", "port": "telemetry"}
    assert container["livenessProbe"]["httpGet"] == {"path": "/healthz/live", "port": "telemetry"}
    assert telemetry == 5558
    assert container["resources"]["requests"] and container["resources"]["limits"]["memory"]
    pdb = one(objects, "PodDisruptionBudget")
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert pdb["spec"]["minAvailable"] == 1
    assert pdb["spec"]["selector"]["matchLabels"].items() <= labels.items()
    assert one(objects, "Service")["spec"]["selector"].items() <= labels.items()
    tls = [v for v in pod["volumes"] if v["name"] == "tls"]
    assert tls == [{"name": "tls", "secret": {"secretName": "dexpy-tls"}}]


def test_base_rbac_is_namespaced_and_cannot_create_crds(rendered: dict[str, Objects]) -> None:
    objects = rendered["deploy"]
    assert not [o for o in objects if o["kind"] in ("ClusterRole", "ClusterRoleBinding")]
    role = one(objects, "Role")
    assert role["metadata"]["namespace"] == "dexpy"
    assert {g for rule in role["rules"] for g in rule["apiGroups"]} == {"dex.coreos.com", "dexpy.io"}
    binding = one(objects, "RoleBinding")
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": "dexpy", "namespace": "dexpy"}]


def test_crd_ensure_overlay_adds_only_crd_create(rendered: dict[str, Objects]) -> None:
    objects = rendered["deploy/overlays/crd-ensure"]
    assert one(objects, "ClusterRole")["rules"] == [
        {"apiGroups": ["apiextensions.k8s.io"], "resources": ["customresourcedefinitions"], "verbs": ["create"]}]
    assert one(objects, "ClusterRoleBinding")["subjects"] == [
        {"kind": "ServiceAccount", "name": "dexpy", "namespace": "dexpy"}]


def test_ldap_overlay_takes_the_bind_password_from_a_secret(rendered: dict[str, Objects]) -> None:
    objects = rendered["deploy/overlays/ldap"]
    secret = one(objects, "Secret")
    config = yaml.safe_load(base64.b64decode(secret["data"]["config.yaml"]))
    assert config["connectors"][0]["type"] == "ldap"
    assert config["connectors"][0]["config"]["bindPW"] == "$LDAP_BIND_PW"
    [container] = one(objects, "Deployment")["spec"]["template"]["spec"]["containers"]
    [bind] = [e for e in container["env"] if e["name"] == "LDAP_BIND_PW"]
    assert bind["valueFrom"]["secretKeyRef"] == {"name": "dexpy-ldap", "key": "bindPW"}


def test_deploy_ships_exactly_the_dexpy_storage_crds(rendered: dict[str, Objects]) -> None:
    """deploy/crds is a copy (kustomize cannot read crds/); run deploy/sync-crds.sh when this fails."""
    sources = sorted([*(REPO / "crds").glob("dex.coreos.com_*.yaml"), *(REPO / "crds").glob("dexpy.io_*.yaml")])
    assert sources, "no CRDs in crds/"
    copies = sorted((DEPLOY / "crds").glob("*_*.yaml"))
    assert [p.name for p in copies] == [p.name for p in sources]
    for source, copy in zip(sources, copies):
        assert copy.read_bytes() == source.read_bytes(), f"{copy} is stale"
    names = {o["metadata"]["name"] for o in rendered["deploy"] if o["kind"] == "CustomResourceDefinition"}
    assert names == {yaml.safe_load(p.read_text())["metadata"]["name"] for p in sources}


def test_the_upgrade_controller_renders_with_valid_objects_and_current_crds() -> None:
    """`kubectl apply -k deploy/upgrade` (docs/upgrade.md): every object, its CRDs included, passes the strict
    schema check; the CRDs are byte copies of crds/ (deploy/sync-crds.sh makes them)."""
    objects = render("deploy/upgrade")
    for obj in objects:
        kubernetes_validate.validate(obj, KUBERNETES_VERSION, strict=True)
    sources = sorted((REPO / "crds").glob("upgrade.dexpy.io_*.yaml"))
    copies = sorted((DEPLOY / "upgrade" / "crds").glob("*.yaml"))
    assert [p.name for p in copies] == [p.name for p in sources]
    for source, copy in zip(sources, copies):
        assert copy.read_bytes() == source.read_bytes(), f"{copy} is stale"
    crds = {o["metadata"]["name"] for o in objects if o["kind"] == "CustomResourceDefinition"}
    assert crds == {"releases.upgrade.dexpy.io", "clusterversions.upgrade.dexpy.io"}
    assert {o["kind"] for o in objects} >= {"Deployment", "ServiceAccount", "ClusterRole", "ClusterRoleBinding"}


def _untyped(schema: dict[str, Any], where: str) -> list[str]:
    """The nodes of an OpenAPI schema without a `type`, where a structural schema needs one."""
    exempt = schema.get("x-kubernetes-int-or-string") or schema.get("x-kubernetes-preserve-unknown-fields")
    found = [] if "type" in schema or exempt else [where]
    for name, child in (schema.get("properties") or {}).items():
        found += _untyped(child, f"{where}.{name}")
    for key in ("items", "additionalProperties"):
        if isinstance(schema.get(key), dict):
            found += _untyped(schema[key], f"{where}[{key}]")
    return found


def _defaulted(obj: Any, schema: dict[str, Any]) -> Any:
    """The object with the schema's defaults filled in, as a real apiserver stores it (the fake one does not)."""
    if not isinstance(obj, dict):
        return obj
    out = dict(obj)
    for name, child in (schema.get("properties") or {}).items():
        if name not in out and "default" in child:
            out[name] = child["default"]
        if name in out:
            out[name] = _defaulted(out[name], child)
    return out


def _json_path(obj: Any, path: str) -> Any:
    """kubectl's printer-column JSONPath for what the CRDs use: `.a.b` and `.list[?(@.key=="value")].field`."""
    for step in re.findall(r'[^.\[\]]+|\[\?\(@\.\w+=="[^"]*"\)\]', path):
        if step.startswith("[?"):
            key, value = re.fullmatch(r'\[\?\(@\.(\w+)=="([^"]*)"\)\]', step).groups()  # type: ignore[union-attr]
            obj = next((item for item in obj or [] if item.get(key) == value), None)
        else:
            obj = obj.get(step) if isinstance(obj, dict) else None
    return obj


def test_the_upgrade_crds_are_structural_and_their_columns_show_a_finished_update(
    cluster: Cluster, tmp_path: Path  # noqa: F811 - the upgrade tests' simulated cluster
) -> None:
    cluster.set_spec(desiredVersion=NEW)
    cluster.drive(80, stop=completed)
    assert completed(cluster)
    shown = {
        "clusterversions.upgrade.dexpy.io": cluster.cluster_version(),
        "releases.upgrade.dexpy.io": cluster.kube.get(f"/apis/upgrade.dexpy.io/v1alpha1/releases/v{NEW}"),
    }
    for path in sorted((REPO / "crds").glob("upgrade.dexpy.io_*.yaml")):
        crd = yaml.safe_load(path.read_text())
        obj = shown[crd["metadata"]["name"]]
        for version in crd["spec"]["versions"]:
            schema = version["schema"]["openAPIV3Schema"]
            assert _untyped(schema, path.name) == []
            for column in version.get("additionalPrinterColumns") or []:
                value = _json_path(_defaulted(obj, schema), column["jsonPath"])
                assert value not in (None, "", []), f"{path.name}: column {column['name']} ({column['jsonPath']}) is empty"
