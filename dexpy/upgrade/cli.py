"""`dexpy upgrade-controller` and `dexpy upgrade plan|status|start|pause|resume|retry|rollback`."""

from __future__ import annotations

import argparse
import os
import socket
import sys
import time
from collections.abc import Callable
from typing import Any

from dexpy.clock import system_clock
from dexpy.upgrade import errors, gates, observe, paths, plan
from dexpy.upgrade.controller import HALTED, Controller
from dexpy.upgrade.kube import ApiError, Kube, NoCredentials, NotFound, Unreachable
from dexpy.upgrade.lease import LEASE_NAME, LeaderElector
from dexpy.upgrade.replica import Replica
from dexpy.upgrade.resources import SINGLETON, ClusterVersionSpec, InvalidResource
from dexpy.upgrade.status import rollback_source
from dexpy.upgrade.versions import InvalidVersion, Version

CV = f"{paths.CLUSTER_VERSIONS}/{SINGLETON}"


def register(subparsers: Any) -> None:
    run = subparsers.add_parser("upgrade-controller", help="run the control-plane upgrade controller")
    run.add_argument("--kubeconfig", default=None)
    run.add_argument("--namespace", default=os.environ.get("POD_NAMESPACE", "kube-system"), help="where its Lease lives")
    run.set_defaults(func=_one_line(_run_controller))

    upgrade = subparsers.add_parser("upgrade", help="plan, start, pause, resume, retry or roll back a cluster update")
    upgrade.add_argument("--kubeconfig", default=None)
    verbs = upgrade.add_subparsers(dest="verb", required=True)
    show_plan = _verb(verbs, "plan", _plan, "show the steps and preflight results of an update; changes nothing")
    show_plan.add_argument("version", nargs="?", help="default: the desired version, else the newest available update")
    show_plan.add_argument("--namespace", default=os.environ.get("POD_NAMESPACE", "kube-system"),
                           help="where the controller's Lease lives: the node it runs on is updated last")
    _verb(verbs, "status", _status, "show the ClusterVersion status")
    _verb(verbs, "start", _start, "update to VERSION").add_argument("version")
    _verb(verbs, "pause", _pause(True), "finish the node in flight and start nothing new")
    _verb(verbs, "resume", _pause(False), "start new steps again")
    _verb(verbs, "retry", _retry, "try a halted update again (bumps spec.retry, so the generation changes)")
    _verb(verbs, "rollback", _rollback, "go back to the version the last completed update came from")


class CliError(Exception):
    """Something for the user to fix: one line on stderr, exit code 1."""


Verb = Callable[[argparse.Namespace], int]


def _verb(verbs: Any, name: str, func: Verb, help: str) -> argparse.ArgumentParser:
    parser: argparse.ArgumentParser = verbs.add_parser(name, help=help)
    parser.set_defaults(func=_one_line(func))
    return parser


def _one_line(func: Verb) -> Verb:
    """API errors and bad input as `dexpy: <what>` on stderr and exit code 1, not a traceback."""

    def run(args: argparse.Namespace) -> int:
        try:
            return func(args)
        except (CliError, NoCredentials, errors.Refused, InvalidResource, InvalidVersion) as exc:
            message = str(exc)
        except Unreachable as exc:
            message = f"Kubernetes API unreachable: {exc}"
        except ApiError as exc:
            message = f"forbidden: {exc.message}" if exc.status == 403 else f"Kubernetes API error: {exc}"
        print(f"dexpy: {' '.join(message.split())}", file=sys.stderr)
        return 1

    return run


def _run_controller(args: argparse.Namespace) -> int:
    kube = Kube.connect(args.kubeconfig)
    identity = f"{socket.gethostname()}-{os.getpid()}"
    elector = LeaderElector(kube, namespace=args.namespace, identity=identity, clock=system_clock)
    controller = Controller(kube.guarded(elector.time_left), clock=system_clock, own_node=os.environ.get("NODE_NAME"))
    replica = Replica(elector, controller, clock=system_clock)
    try:
        while True:
            time.sleep(replica.turn())  # a leader's wait is capped by turn(); an error backoff must not be
    except KeyboardInterrupt:
        elector.release()
        return 0


def _cluster_version(kube: Kube) -> dict[str, Any]:
    try:
        return kube.get(CV)
    except NotFound:
        raise CliError(f"no ClusterVersion {SINGLETON!r} (create one: see docs/upgrade.md)") from None


def _update(args: argparse.Namespace, change: Callable[[dict[str, Any]], dict[str, Any]]) -> int:
    """Read the ClusterVersion, merge-patch into its spec what `change` makes of it (if anything), and show it."""
    kube = Kube.connect(args.kubeconfig)
    obj = _cluster_version(kube)
    spec = change(obj)
    print(render(kube.patch(CV, {"spec": spec}) if spec else obj))
    return 0


def _plan(args: argparse.Namespace) -> int:
    kube = Kube.connect(args.kubeconfig)
    print(render_plan(kube, _cluster_version(kube), args.version, args.namespace))
    return 0


def _status(args: argparse.Namespace) -> int:
    return _update(args, lambda obj: {})


def _apply(version: str) -> dict[str, Any]:
    return {"desiredVersion": version.lstrip("v"), "mode": "Apply", "paused": False}


def _start(args: argparse.Namespace) -> int:
    return _update(args, lambda obj: _apply(args.version))


def _pause(paused: bool) -> Verb:
    return lambda args: _update(args, lambda obj: {"paused": paused})


def _retry(args: argparse.Namespace) -> int:
    return _update(args, _retry_spec)


def _retry_spec(obj: dict[str, Any]) -> dict[str, Any]:
    """A new `spec.retry`: the controller retries a halted update once the generation has moved past the halt."""
    if ((obj.get("status") or {}).get("progress") or {}).get("phase") != HALTED:
        raise CliError("nothing to retry: no update is halted")
    return {"retry": int((obj.get("spec") or {}).get("retry") or 0) + 1}


def _rollback(args: argparse.Namespace) -> int:
    return _update(args, _rollback_spec)


def _rollback_spec(obj: dict[str, Any]) -> dict[str, Any]:
    status = obj.get("status") or {}
    current = str(status.get("currentVersion", "?"))
    source = rollback_source(status.get("history") or [], current)
    if source is None:
        raise CliError(f"nothing to roll back: no completed update brought the cluster to {current}")
    return _apply(source)


def render_plan(kube: Kube, obj: dict[str, Any], version: str | None, namespace: str = "kube-system") -> str:
    """What the controller would do, worked out here by the same functions it calls; nothing is written.

    Towards `version` if given, else the desired version, else the newest available update.
    """
    spec = ClusterVersionSpec.from_object(obj)
    status = obj.get("status") or {}
    views = observe.components(kube, spec.components)
    current = observe.current_version(status.get("currentVersion"), views)
    desired = Version.parse(version) if version else spec.desired_version
    target = observe.target(spec, status, observe.releases(kube), current, desired=desired, automatic=True)
    if target is None:
        return f"CURRENT  {current}\nno update available on channel {spec.channel}"
    own_node = _controller_node(kube, namespace)
    situation = observe.situation(kube, spec, status, views, target, current, system_clock(), own_node)
    lines = [f"PLAN     {current} -> {target.version}   channel {spec.channel}   (nothing is changed)", "", "STEPS"]
    changing = [v for v in plan.order(views, situation.descending) if v.component.name in target.images]
    for number, view in enumerate(changing, 1):  # a rollback puts back only what its attempt changed
        image = target.images[view.component.name]
        done = gates.at_image(view.workload, view.component.container, image, target.version).ok
        lines.append(f"{number:>3}. {view.component.name:<25}{image}" + ("   (already there)" if done else ""))
        if view.component.per_node:
            lines += _batches(situation)
    failed = [f"  FAIL  {problem}" for problem in plan.preflight(situation, current)]
    lines += ["", "PREFLIGHT", *failed] if failed else ["", "PREFLIGHT passed"]
    return "\n".join(lines)


def _controller_node(kube: Kube, namespace: str) -> str | None:
    """The node of the controller replica holding the Lease, which it updates last (as `NODE_NAME`).

    Its identity is `<pod name>-<pid>`; None when there is no holder or its pod cannot be read.
    """
    try:
        holder = (kube.get(f"{paths.leases(namespace)}/{LEASE_NAME}").get("spec") or {}).get("holderIdentity")
        pod = kube.get(f"{paths.pods(namespace)}/{holder.rpartition('-')[0]}") if holder else {}
    except ApiError:
        return None
    return (pod.get("spec") or {}).get("nodeName")


def _batches(situation: plan.Situation) -> list[str]:
    first, rest = plan.node_batches(situation)
    soak = int(situation.strategy.canary_soak.total_seconds())
    lines = [f"       canaries: {', '.join(batch)}" + (f", then soak {soak}s" if soak else "") for batch in first]
    lines += [f"       nodes: {', '.join(batch)}" for batch in rest]
    return [f"       node by node, at most {situation.strategy.max_unavailable} at a time:", *lines]


def render(obj: dict[str, Any]) -> str:
    """A kubeadm-style summary: versions, conditions, then one row per component."""
    spec, status = obj.get("spec") or {}, obj.get("status") or {}
    progress = status.get("progress") or {}
    lines = [
        f"CURRENT  {status.get('currentVersion', '?')}",
        f"DESIRED  {spec.get('desiredVersion') or '-'}   channel {spec.get('channel', 'stable')}"
        + ("   PAUSED" if spec.get("paused") else ""),
        f"UPDATES  {', '.join(u['version'] for u in status.get('availableUpdates') or []) or 'none'}",
        f"STEP     {progress.get('step', '-')} {progress.get('phase', '')}: {progress.get('message', '')}",
        "",
    ]
    for condition in status.get("conditions") or []:
        lines.append(f"{condition['type']:<17}{condition['status']:<6}{condition.get('reason', '')}: {condition.get('message', '')}")
    lines += ["", f"{'COMPONENT':<25}{'VERSION':<10}{'STATE':<10}IMAGE"]
    for row in status.get("components") or []:
        lines.append(f"{row['name']:<25}{row.get('version', ''):<10}{row.get('state', ''):<10}{row.get('image', '')}")
    return "\n".join(lines)
