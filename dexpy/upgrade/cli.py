"""`dexpy upgrade-controller` and `dexpy upgrade plan|status|start|pause|resume|rollback`."""

from __future__ import annotations

import argparse
import os
import socket
import sys
import time
from typing import Any

from dexpy.clock import system_clock
from dexpy.upgrade import paths
from dexpy.upgrade.controller import Controller
from dexpy.upgrade.kube import Kube
from dexpy.upgrade.lease import LeaderElector
from dexpy.upgrade.replica import RETRY_SECONDS, Replica
from dexpy.upgrade.resources import SINGLETON
from dexpy.upgrade.status import rollback_source

CV = f"{paths.CLUSTER_VERSIONS}/{SINGLETON}"


def register(subparsers: Any) -> None:
    run = subparsers.add_parser("upgrade-controller", help="run the control-plane upgrade controller")
    run.add_argument("--kubeconfig", default=None)
    run.add_argument("--namespace", default=os.environ.get("POD_NAMESPACE", "kube-system"), help="where its Lease lives")
    run.set_defaults(func=_run_controller)

    upgrade = subparsers.add_parser("upgrade", help="plan, start, pause, resume or roll back a cluster update")
    upgrade.add_argument("--kubeconfig", default=None)
    verbs = upgrade.add_subparsers(dest="verb", required=True)
    verbs.add_parser("plan", help="run the preflight checks for the desired or newest version").set_defaults(func=_plan)
    verbs.add_parser("status", help="show the ClusterVersion status").set_defaults(func=_status)
    start = verbs.add_parser("start", help="update to VERSION")
    start.add_argument("version")
    start.set_defaults(func=_start)
    verbs.add_parser("pause", help="finish the node in flight and start nothing new").set_defaults(func=_pause(True))
    verbs.add_parser("resume").set_defaults(func=_pause(False))
    verbs.add_parser("rollback", help="go back to the version the last update came from").set_defaults(func=_rollback)


def _run_controller(args: argparse.Namespace) -> int:
    kube = Kube.connect(args.kubeconfig)
    identity = f"{socket.gethostname()}-{os.getpid()}"
    elector = LeaderElector(kube, namespace=args.namespace, identity=identity, clock=system_clock)
    replica = Replica(elector, Controller(kube, own_node=os.environ.get("NODE_NAME")))
    try:
        while True:
            time.sleep(min(replica.turn(), RETRY_SECONDS * 2))
    except KeyboardInterrupt:
        elector.release()
        return 0


def _patch_and_show(args: argparse.Namespace, spec: dict[str, Any]) -> int:
    kube = Kube.connect(args.kubeconfig)
    obj = kube.patch(CV, {"spec": spec}) if spec else kube.get(CV)
    print(render(obj))
    return 0


def _plan(args: argparse.Namespace) -> int:
    return _patch_and_show(args, {"mode": "Preflight"})


def _status(args: argparse.Namespace) -> int:
    return _patch_and_show(args, {})


def _apply(version: str) -> dict[str, Any]:
    return {"desiredVersion": version.lstrip("v"), "mode": "Apply", "paused": False}


def _start(args: argparse.Namespace) -> int:
    return _patch_and_show(args, _apply(args.version))


def _pause(paused: bool) -> Any:
    return lambda args: _patch_and_show(args, {"paused": paused})


def _rollback(args: argparse.Namespace) -> int:
    kube = Kube.connect(args.kubeconfig)
    status = kube.get(CV).get("status") or {}
    current = str(status.get("currentVersion"))
    source = rollback_source(status.get("history") or [], current)
    if source is None:
        print(f"dexpy: nothing to roll back: no completed update brought the cluster to {current}", file=sys.stderr)
        return 1
    return _patch_and_show(args, _apply(source))


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
