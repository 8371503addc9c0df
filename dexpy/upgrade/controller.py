"""The level-triggered reconcile: read everything, take at most one step, record it in `status`.

Nothing is kept between passes: progress is derived from the workloads, the Nodes (their annotations) and
the ClusterVersion status, so a controller that is killed and restarted, or replaced by another replica,
carries on where the last one stopped.
"""

from __future__ import annotations

import copy
import logging
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from dexpy.clock import Clock, system_clock
from dexpy.upgrade import actions, channels, errors, gates, observe, paths, plan
from dexpy.upgrade.channels import Target
from dexpy.upgrade.kube import Conflict, Kube, NotFound
from dexpy.upgrade.plan import ComponentView
from dexpy.upgrade.resources import SINGLETON, ClusterVersionSpec, InvalidResource, Release
from dexpy.upgrade.status import (
    DONE,
    HALTED,
    ROLLING_BACK,
    condition_is,
    finish_attempt,
    parse_time,
    set_condition,
    start_attempt,
    stamp,
)
from dexpy.upgrade.versions import Version

BUSY = 5.0  # seconds between passes while something is moving
IDLE = 60.0
CONFLICT_RETRIES = 5

log = logging.getLogger(__name__)


@dataclass
class Pass:
    """The working copy of one reconcile: the object as read and the status being built."""

    obj: dict[str, Any]
    now: datetime
    status: dict[str, Any] = field(default_factory=dict)
    events: list[tuple[str, str, str]] = field(default_factory=list)

    @property
    def generation(self) -> int:
        return int(self.obj["metadata"].get("generation") or 0)

    @property
    def progress(self) -> dict[str, Any]:
        return self.status.setdefault("progress", {})

    def condition(self, kind: str, value: bool, reason: str, message: str = "") -> None:
        self.status["conditions"] = set_condition(self.status.get("conditions") or [], kind, value, reason, message, self.now)

    def event(self, kind: str, reason: str, message: str) -> None:
        self.events.append((kind, reason, message))

    def event_on_change(self, kind: str, reason: str, message: str) -> None:
        """An event only when the step's message changes: a state that lasts many passes is reported once."""
        if self.progress.get("message") != message:
            self.event(kind, reason, message)


class Controller:
    def __init__(self, kube: Kube, *, clock: Clock = system_clock, own_node: str | None = None) -> None:
        """A replica passes `kube.guarded(elector.time_left)`: every write of a pass that outlasts the Lease is
        refused with `NotLeader`, which ends the pass (see `Replica.turn`)."""
        self._kube = kube
        self._clock = clock
        self._own_node = own_node
        self._path = f"{paths.CLUSTER_VERSIONS}/{SINGLETON}"
        self._missing = False  # only so that a missing ClusterVersion is logged once, not every pass

    def reconcile(self) -> float:
        """One pass; returns the seconds until the next. A 409 on any write re-reads and starts over."""
        for _ in range(CONFLICT_RETRIES):
            try:
                return self._pass()
            except Conflict:
                continue
        return 1.0

    def _pass(self) -> float:
        try:
            obj = self._kube.get(self._path)
        except NotFound:
            if not self._missing:
                log.info("no ClusterVersion %r yet: waiting for one to be created", SINGLETON)
            self._missing = True
            return IDLE
        self._missing = False
        work = Pass(obj, self._clock(), copy.deepcopy(obj.get("status") or {}))
        work.status["observedGeneration"] = work.generation
        try:
            delay = self._converge(work)
        except errors.Refused as refusal:
            self._refuse(work, refusal)
            delay = IDLE
        if work.events or work.status != (work.obj.get("status") or {}):  # an idle pass writes nothing
            self._write_status(work)
        return delay

    def _refuse(self, work: Pass, refusal: errors.Refused) -> None:
        """Bad input: nothing is written but the status; an attempt under way stops where it is (see docs/upgrade.md)."""
        message = str(refusal)
        work.condition("Failing", True, refusal.reason, message)
        work.condition("Upgradeable", False, refusal.reason, message)
        under_way = work.progress.get("target") and work.progress.get("phase") not in (DONE, "Preflight")
        work.condition("Progressing", False, refusal.reason, "halted mid-update" if under_way else "nothing was changed")
        if isinstance(refusal, errors.NoChannel):
            work.condition("RetrievedUpdates", False, refusal.reason, message)
        work.event_on_change("Warning", refusal.reason, message)
        work.progress["message"] = message

    def _write_status(self, work: Pass) -> None:
        body = {"metadata": {"resourceVersion": work.obj["metadata"]["resourceVersion"]}, "status": work.status}
        work.obj = self._kube.patch(f"{self._path}/status", body)
        for kind, reason, message in work.events:
            actions.event(self._kube, work.obj, kind, reason, message, work.now)
        work.events.clear()

    def _acted(self, work: Pass, reason: str, message: str) -> None:
        """An action's Event is sent as soon as the action is done: a 409 on the status write after it must not lose it.

        Events about status (attempt started, completed, failed) wait for the status write, since a re-read pass
        that finds the status unwritten reports them again.
        """
        actions.event(self._kube, work.obj, "Normal", reason, message, work.now)

    def _converge(self, work: Pass) -> float:
        try:
            spec = ClusterVersionSpec.from_object(work.obj)
        except InvalidResource as exc:
            raise errors.InvalidSpec(str(exc)) from exc
        found = observe.releases(self._kube)
        releases, malformed = found
        views = observe.components(self._kube, spec.components)
        current = observe.current_version(work.status.get("currentVersion"), views)
        work.status["currentVersion"] = str(current)
        self._record_available(work, views)
        self._record_updates(work, spec, releases, malformed, current)
        progress = work.progress
        rolling_back = progress.get("phase") == ROLLING_BACK
        target = observe.target(
            spec, work.status, found, current, desired=spec.desired_version, automatic=spec.automatic_updates
        )
        work.condition("Paused", spec.paused, "Paused" if spec.paused else "NotPaused")
        if target is None:
            automatic = spec.automatic_updates and spec.desired_version is None
            return self._idle(work, f"no update available on channel {spec.channel}" if automatic else "no update requested")
        if progress.get("phase") == HALTED and progress.get("target") == str(target.version):
            if progress.get("haltedGeneration") == work.generation:
                work.condition("Progressing", False, "Halted", "halted; change the spec to retry")
                return IDLE
            progress.update(phase="", stepStartedTime=stamp(work.now))  # the retried step gets its full timeout
            work.condition("Failing", False, "Retrying")
        situation = observe.situation(self._kube, spec, work.status, views, target, current, work.now, self._own_node)
        descending = situation.descending
        step = plan.next_step(situation)
        self._record_components(work, views, target)
        attempt_running = rolling_back or (progress.get("target") == str(target.version) and progress.get("phase") != DONE)
        if isinstance(step, plan.Done) and not attempt_running:
            return self._idle(work, f"cluster is at {current}")
        changing = [v for v in views if v.component.name in target.images]
        started = any(gates.template_version(v.workload) == target.version for v in changing)
        untouched = not descending and not started
        if spec.preflight_only and (untouched or not attempt_running):
            if not attempt_running:  # a finished attempt's record must not make this target look under way
                work.status["progress"] = {}
            return self._preflight_only(work, situation, current)
        if isinstance(step, (plan.Patch, plan.Cordon)):
            hold = "Paused" if spec.paused else (
                "OutsideWindow" if spec.window is not None and not spec.window.contains(work.now) else None
            )
            if hold:  # checked before an attempt starts: its snapshot must be taken right before the first patch
                work.condition("Progressing", False, hold, f"{hold}: the next step waits")
                work.progress["message"] = f"{hold}: the next step waits"
                return IDLE
        if not attempt_running:
            self._start_attempt(work, target, current)
        if untouched:
            held = self._before_first_step(work, spec, situation, current)
            if held is not None:
                return held
        return self._take(work, spec, situation, step)

    def _record_available(self, work: Pass, views: list[ComponentView]) -> None:
        """False while a component has no available pod at all, whatever the update is doing or left behind.

        Fewer pods than wanted is not enough: a rolling update takes pods out one at a time by design.
        """
        down = [v.component.name for v in views if not gates.has_available_pod(v.workload)]
        if down:
            work.condition("Available", False, "ComponentUnavailable", f"no available pods: {', '.join(down)}")
        else:
            work.condition("Available", True, "AsExpected", "every component has an available pod")

    def _record_updates(
        self, work: Pass, spec: ClusterVersionSpec, releases: list[Release], malformed: dict[str, str], current: Version
    ) -> None:
        offered = channels.available_updates(releases, spec.channel, current)
        work.status["availableUpdates"] = [
            {"version": str(r.version), "channels": list(r.channels), "url": r.url} for r in offered
        ]
        if not any(spec.channel in r.channels for r in releases):
            work.condition("RetrievedUpdates", False, "NoChannel", f"no Release lists channel {spec.channel!r}")
        else:
            skipped = f"; ignored malformed: {'; '.join(malformed.values())}" if malformed else ""
            work.condition("RetrievedUpdates", True, "UpdatesRetrieved", f"{len(offered)} updates on {spec.channel}{skipped}")

    def _record_components(self, work: Pass, views: list[ComponentView], target: Target) -> None:
        saved = {c["name"]: c for c in work.status.get("components") or []}
        rows = []
        for view in views:
            name, container = view.component.name, view.component.container
            version = gates.template_version(view.workload)
            image = target.images.get(name)
            done = image is not None and gates.at_image(view.workload, container, image, target.version).ok
            state = "Updated" if done else ("Updating" if version == target.version else "Pending")
            row = {k: v for k, v in saved.get(name, {}).items() if k in ("previousImage", "previousVersion", "targetVersion")}
            image_now = gates.template_image(view.workload, container)
            rows.append({"name": name, "version": str(version or ""), "image": image_now, "state": state, **row})
        work.status["components"] = rows

    def _start_attempt(self, work: Pass, target: Target, current: Version) -> None:
        work.status["history"] = start_attempt(work.status.get("history") or [], str(target.version), str(current), work.now)
        work.status["progress"] = {"target": str(target.version), "from": str(current), "phase": "Starting"}
        work.condition("Failing", False, "AttemptStarted")
        work.event("Normal", "UpdateStarted", f"updating from {current} to {target.version}")

    def _idle(self, work: Pass, message: str) -> float:
        work.condition("Progressing", False, "AsExpected", message)
        if not condition_is(work.status.get("conditions") or [], "Failing") or work.progress.get("phase") != HALTED:
            work.condition("Failing", False, "AsExpected")
            work.condition("Upgradeable", True, "AsExpected")
        return IDLE

    def _preflight(self, work: Pass, situation: plan.Situation, current: Version) -> str:
        """The checks before anything is changed, in `Upgradeable`; returns the failed ones, "" if all passed."""
        summary = "; ".join(plan.preflight(situation, current))
        if summary:
            work.condition("Upgradeable", False, "PreflightFailed", summary)
        else:
            work.condition("Upgradeable", True, "PreflightPassed", f"{current} to {situation.target.version} may start")
        return summary

    def _preflight_only(self, work: Pass, situation: plan.Situation, current: Version) -> float:
        summary = self._preflight(work, situation, current)
        order = " -> ".join(v.component.name for v in plan.order(situation.components, situation.descending))
        message = f"plan: {order}; checks: {summary or 'all passed'}"
        work.progress.update(phase="Preflight", step="Preflight", message=message)
        work.condition("Progressing", False, "PreflightOnly", "preflight-only mode: nothing is changed")
        return IDLE

    def _before_first_step(
        self, work: Pass, spec: ClusterVersionSpec, situation: plan.Situation, current: Version
    ) -> float | None:
        """Preflight and the etcd backup: both before anything is patched."""
        summary = self._preflight(work, situation, current)
        if summary:
            work.condition("Failing", True, "PreflightFailed", summary)
            work.condition("Progressing", False, "PreflightFailed", summary)
            work.progress.update(step="Preflight", message=summary)
            return IDLE
        if spec.backup.policy == "Disabled":
            return None
        return self._backup(work, spec, current, situation.target)

    def _backup(self, work: Pass, spec: ClusterVersionSpec, current: Version, target: Target) -> float | None:
        backup = spec.backup
        history = work.status["history"]
        started = str(history[0].get("startedTime") or "")
        name = actions.backup_job_name(current, target.version, started, work.progress.get("haltedGeneration"))
        job = actions.get_backup_job(self._kube, backup, name)
        if job is None:
            self._write_status(work)  # the attempt the name comes from must be on record before its Job
            actions.create_backup_job(self._kube, backup, name, current)
            self._acted(work, "BackupStarted", f"etcd snapshot Job {backup.namespace}/{name}")
            return self._progress(work, "Backup", "Running", f"etcd snapshot Job {name} started")
        outcome = gates.job_outcome(job)
        if outcome == "Complete":
            if (work.status.get("lastBackup") or {}).get("name") != name:
                work.status["lastBackup"] = {"name": name, "version": str(current), "completionTime": stamp(work.now)}
                history[0]["backup"] = name
                work.event("Normal", "BackupCompleted", f"etcd snapshot {name} taken at {current}")
            return None
        if outcome == "Failed":
            message = f"etcd snapshot Job {name} failed"
            if backup.policy == "BestEffort":
                message += "; going on without a snapshot (policy BestEffort)"
                work.condition("Upgradeable", True, "BackupFailed", message)
                if history[0].get("backupError") != message:  # kept there: the condition is reset when the update ends
                    history[0]["backupError"] = message
                    work.event("Warning", "BackupFailed", message)
                return None
            return self._fail(work, spec, plan.Failed("Backup", "BackupFailed", message), anything_changed=False)
        since = parse_time(work.progress.get("stepStartedTime")) if work.progress.get("step") == "Backup" else None
        if since is not None and work.now - since > spec.strategy.step_timeout:
            timeout = plan.Failed("Backup", "BackupFailed", f"etcd snapshot Job {name} did not finish in time")
            return self._fail(work, spec, timeout, anything_changed=False)
        return self._progress(work, "Backup", "Running", f"waiting for etcd snapshot Job {name}")

    def _progress(self, work: Pass, step: str, phase: str, message: str, since: datetime | None = None) -> float:
        progress = work.progress
        if progress.get("step") != step:
            progress["stepStartedTime"] = stamp(since or work.now)
        progress.update(step=step, phase=phase if progress.get("phase") != ROLLING_BACK else ROLLING_BACK, message=message)
        work.condition("Progressing", True, step.split("/")[0].replace("-", ""), message)
        return BUSY

    def _fail(self, work: Pass, spec: ClusterVersionSpec, failure: plan.Failed, anything_changed: bool = True) -> float:
        progress = work.progress
        work.condition("Failing", True, failure.reason, failure.message)
        work.event("Warning", failure.reason, failure.message)
        progress.update(step=failure.step, message=failure.message)
        if spec.rollback_automatic and anything_changed and progress.get("phase") != ROLLING_BACK:
            progress["phase"] = ROLLING_BACK
            progress["stepStartedTime"] = stamp(work.now)
            work.event("Warning", "RollingBack", "putting back what this attempt changed, in reverse order")
            work.condition("Progressing", True, ROLLING_BACK, failure.message)
            return BUSY
        progress.update(phase=HALTED, haltedGeneration=work.generation)
        work.condition("Progressing", False, "Halted", failure.message)
        return IDLE

    def _take(self, work: Pass, spec: ClusterVersionSpec, situation: plan.Situation, step: plan.Step) -> float:
        kube, now = self._kube, work.now
        views = {view.component.name: view for view in situation.components}
        nodes = {view.name: view for view in situation.nodes}
        self._record_nodes(work, situation)
        if isinstance(step, plan.Done):
            return self._finish(work, step_target=situation.target)
        if isinstance(step, plan.Failed):
            return self._fail(work, spec, step)
        if isinstance(step, plan.Wait):
            return self._progress(work, step.step, "WaitingHealthy", step.message, step.since)
        if isinstance(step, plan.Soak):
            self._progress(work, "kubelet", "Soaking", f"canaries soak until {stamp(step.until)}")
            return max(1.0, min(BUSY, (step.until - now).total_seconds()))
        if isinstance(step, plan.Patch):
            self._save_previous(work, views[step.component.name], situation.target)
            self._write_status(work)  # the saved image must be on record before the patch
            actions.patch_workload(kube, views[step.component.name], step.image, step.version)
            self._acted(work, "ComponentUpdating", f"{step.component.name} to {step.image}")
            return self._progress(work, step.component.name, "Applying", f"{step.component.name} set to {step.image}")
        if isinstance(step, plan.Cordon):
            actions.cordon(kube, nodes[step.node], step.drain, now)
            self._acted(work, "NodeCordoned", f"node {step.node} cordoned")
            return self._progress(work, f"kubelet/{step.node}", "Draining", f"node {step.node} cordoned")
        if isinstance(step, plan.Evict):
            refused = actions.evict(kube, step.pods)
            message = f"draining {step.node}: " + ("; ".join(refused) if refused else f"evicted {len(step.pods)} pods")
            if refused:
                work.event_on_change("Warning", "DrainBlocked", message)
            return self._progress(work, f"kubelet/{step.node}", "Draining", message, step.since)
        if isinstance(step, plan.Restart):
            actions.restart(kube, step.component, nodes[step.node], now)
            self._acted(work, "NodeRestarting", f"{step.component.name} on {step.node} restarted")
            return self._progress(work, f"kubelet/{step.node}", "Verifying", f"{step.component.name} on {step.node} restarted")
        actions.uncordon(kube, nodes[step.node], step.version, now)
        self._acted(work, "NodeUpgraded", f"node {step.node} runs kubelet {step.version.kubelet}")
        return self._progress(work, f"kubelet/{step.node}", "Uncordoned", f"node {step.node} done")

    def _save_previous(self, work: Pass, view: ComponentView, target: Target) -> None:
        if work.progress.get("phase") == ROLLING_BACK or target.version < Version.parse(work.progress["from"]):
            return
        for row in work.status["components"]:
            if row["name"] == view.component.name and row.get("targetVersion") != str(target.version):
                row.update(
                    previousImage=gates.template_image(view.workload, view.component.container),
                    previousVersion=work.progress["from"],
                    targetVersion=str(target.version),
                )

    def _record_nodes(self, work: Pass, situation: plan.Situation) -> None:
        version = situation.target.version
        work.progress["nodes"] = {
            "done": sorted(n.name for n in situation.nodes if not n.phase and gates.node_at_version(n.node, version).ok),
            "inFlight": sorted(n.name for n in situation.nodes if n.phase),
        }

    def _finish(self, work: Pass, step_target: Target) -> float:
        progress = work.progress
        if progress.get("phase") == ROLLING_BACK:
            work.status["history"] = finish_attempt(work.status.get("history") or [], "RolledBack", work.now)
            progress.update(phase=HALTED, haltedGeneration=work.generation, step="RolledBack",
                            message=f"rolled back to {step_target.version}; change the spec to retry")
            work.event("Warning", "RolledBack", f"back at {step_target.version}")
            work.condition("Progressing", False, "RolledBack", progress["message"])
            return IDLE
        work.status["currentVersion"] = str(step_target.version)
        work.status["history"] = finish_attempt(work.status.get("history") or [], "Completed", work.now)
        progress.update(phase=DONE, step=DONE, message=f"cluster is at {step_target.version}")
        work.event("Normal", "UpgradeCompleted", f"cluster is at {step_target.version}")
        work.condition("Failing", False, "AsExpected")
        return self._idle(work, f"cluster is at {step_target.version}")

