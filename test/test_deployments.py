"""Deployments, schedules and the scheduler through the official client, runner and CLI.

One long-lived `flow.serve()` runner (a subprocess) per server serves the deployment that the
run tests trigger. Schedules are checked by the runs they create, against the dates that
Prefect's own schedule code computes for the same schedule.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap
import time
from datetime import datetime, timedelta, timezone
from uuid import UUID

import pytest

from prefect.client.schemas.filters import DeploymentFilter, DeploymentFilterId, FlowRunFilter
from prefect.client.schemas.objects import StateType
from prefect.client.schemas.schedules import CronSchedule, IntervalSchedule
from prefect.deployments import run_deployment
from prefect.server.schemas import schedules as server_schedules

FLOW_SOURCE = textwrap.dedent(
    """
    import sys
    import time
    from prefect import flow

    @flow(name="served-flow")
    def greet(name: str = "world", times: int = 1, sleep: float = 0) -> str:
        time.sleep(sleep)
        return f"hello {name} " * times

    if __name__ == "__main__":
        greet.serve(name=sys.argv[1], tags=["served"], parameters={"name": "served"}, limit=4)
    """
)


def wait_for(predicate, timeout: float = 60, interval: float = 0.3, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


@pytest.fixture(scope="session")
def served(server, tmp_path_factory):
    """A flow.serve() runner in a subprocess, for the whole session: yields the deployment name."""
    from prefect.client.orchestration import get_client

    src = tmp_path_factory.mktemp("served")
    (src / "served_flow.py").write_text(FLOW_SOURCE)
    name = "served-deployment"
    log = open(src / "runner.log", "wb")
    proc = subprocess.Popen(
        [sys.executable, "served_flow.py", name],
        cwd=src,
        env=dict(os.environ),
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )

    def deployed():
        if proc.poll() is not None:
            raise AssertionError(f"runner exited: {(src / 'runner.log').read_text()[-3000:]}")
        with get_client(sync_client=True) as client:
            try:
                return client.read_deployment_by_name(f"served-flow/{name}")
            except Exception:
                return None

    deployment = wait_for(deployed, timeout=90, what="the served deployment")
    yield deployment
    proc.terminate()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
    log.close()


def test_run_deployment_executes_on_the_runner(served):
    run = run_deployment(
        f"served-flow/{served.name}", parameters={"name": "alice", "times": 2}, timeout=90, poll_interval=0.5
    )
    assert run.state.type == StateType.COMPLETED, run.state
    assert run.parameters == {"name": "alice", "times": 2}
    assert run.deployment_id == served.id
    assert "served" in run.tags


def test_cancelling_a_running_deployment_run_kills_it(served, sync_prefect_client):
    from prefect.states import Cancelling

    run = sync_prefect_client.create_flow_run_from_deployment(served.id, parameters={"sleep": 120})
    wait_for(lambda: sync_prefect_client.read_flow_run(run.id).state.type == StateType.RUNNING, timeout=60,
             what="the run to start on the runner")
    sync_prefect_client.set_flow_run_state(run.id, Cancelling(), force=True)
    final = wait_for(
        lambda: (r := sync_prefect_client.read_flow_run(run.id)).state.type == StateType.CANCELLED and r,
        timeout=60, what="the runner to kill the run (it learns of it from the flow-run event naming its deployment)",
    )
    assert final.state.type == StateType.CANCELLED


def test_cli_deployment_run_executes(served, cli, sync_prefect_client):
    res = cli("deployment", "run", f"served-flow/{served.name}", "--param", "name=cli")
    assert res.code == 0, res.stdout + res.stderr
    run_id = UUID(re.search(r"UUID: ([0-9a-f-]{36})", res.stdout).group(1))

    def finished():
        run = sync_prefect_client.read_flow_run(run_id)
        return run if run.state and run.state.is_final() else None

    run = wait_for(finished, timeout=90, what="the CLI-triggered run to finish")
    assert run.state.type == StateType.COMPLETED, run.state
    assert run.parameters == {"name": "cli"}


def test_cli_ls_and_schedule_pause_resume(served, cli, sync_prefect_client):
    full = f"served-flow/{served.name}"
    res = cli("deployment", "ls")
    assert res.code == 0 and served.name in res.stdout, res.stdout + res.stderr

    res = cli("deployment", "schedule", "create", full, "--cron", "0 4 * * *", "--timezone", "Europe/London")
    assert res.code == 0, res.stdout + res.stderr
    (schedule,) = sync_prefect_client.read_deployment_schedules(served.id)
    assert schedule.schedule.cron == "0 4 * * *" and schedule.schedule.timezone == "Europe/London" and schedule.active
    res = cli("deployment", "schedule", "ls", full)
    assert res.code == 0 and str(schedule.id)[:8] in res.stdout, res.stdout + res.stderr

    res = cli("deployment", "schedule", "pause", full, str(schedule.id))
    assert res.code == 0, res.stdout + res.stderr
    assert sync_prefect_client.read_deployment_schedules(served.id)[0].active is False
    res = cli("deployment", "schedule", "resume", full, str(schedule.id))
    assert res.code == 0, res.stdout + res.stderr
    assert sync_prefect_client.read_deployment_schedules(served.id)[0].active is True

    sync_prefect_client.delete_deployment_schedule(served.id, schedule.id)
    assert sync_prefect_client.read_deployment_schedules(served.id) == []
    # Deployment-level pause and resume (the `paused` field).
    sync_prefect_client.pause_deployment(served.id)
    assert sync_prefect_client.read_deployment(served.id).paused is True
    sync_prefect_client.resume_deployment(served.id)
    assert sync_prefect_client.read_deployment(served.id).paused is False


def test_cli_inspect(served, cli):
    # `inspect` also lists the deployment's automations (the automations module).
    res = cli("deployment", "inspect", f"served-flow/{served.name}", "--output", "json")
    assert res.code == 0 and str(served.id) in res.stdout, res.stdout + res.stderr


def test_parameters_are_validated_against_the_schema(served, sync_prefect_client):
    from prefect.exceptions import PrefectHTTPStatusError

    with pytest.raises(PrefectHTTPStatusError) as err:
        sync_prefect_client.create_flow_run_from_deployment(served.id, parameters={"times": "many"})
    assert err.value.response.status_code == 409
    assert err.value.response.json()["detail"].startswith("Error creating flow run: Validation failed")
    run = sync_prefect_client.create_flow_run_from_deployment(
        served.id, parameters={"times": 3}, tags=["extra"], idempotency_key="once"
    )
    assert run.parameters == {"name": "served", "times": 3}
    assert set(run.tags) == {"served", "extra"} and run.state.type == StateType.SCHEDULED
    again = sync_prefect_client.create_flow_run_from_deployment(served.id, idempotency_key="once")
    assert again.id == run.id
    sync_prefect_client.delete_flow_run(run.id)


def make_deployment(client, name: str, schedules, **kwargs) -> UUID:
    from prefect.client.schemas.actions import DeploymentScheduleCreate

    flow_id = client.create_flow_from_name("scheduled-flow")
    return client.create_deployment(
        flow_id=flow_id,
        name=name,
        schedules=[DeploymentScheduleCreate(schedule=s, active=True) for s in schedules],
        **kwargs,
    )


def scheduled_runs(client, deployment_id: UUID):
    return client.read_flow_runs(
        deployment_filter=DeploymentFilter(id=DeploymentFilterId(any_=[deployment_id])),
        flow_run_filter=FlowRunFilter(),
        limit=200,
    )


def test_interval_and_cron_schedules_create_runs(sync_prefect_client):
    anchor = datetime(2026, 1, 1, 0, 0, 30, tzinfo=timezone.utc)
    interval = IntervalSchedule(interval=timedelta(minutes=20), anchor_date=anchor)
    cron = CronSchedule(cron="15 9 * * *", timezone="America/New_York")
    dep_id = make_deployment(sync_prefect_client, "every-20-min-and-daily", [interval, cron])

    runs = wait_for(lambda: [r for r in scheduled_runs(sync_prefect_client, dep_id)] or None, what="scheduled runs")
    runs = wait_for(
        lambda: (rs := scheduled_runs(sync_prefect_client, dep_id)) and len({r.created_by.id for r in rs}) == 2 and rs,
        what="runs of both schedules",
    )
    deployment = sync_prefect_client.read_deployment(dep_id)
    by_schedule = {s.id: s for s in deployment.schedules}
    for run in runs:
        assert run.auto_scheduled and "auto-scheduled" in run.tags
        assert run.state.type == StateType.SCHEDULED and run.state.name == "Scheduled"
        assert run.idempotency_key.startswith(f"scheduled {dep_id} {run.created_by.id} ")
        assert run.created_by.type == "SCHEDULE"
        assert run.expected_start_time == run.next_scheduled_start_time == run.state.state_details.scheduled_time

    for schedule_id, schedule in by_schedule.items():
        mine = sorted(r.expected_start_time for r in runs if r.created_by.id == schedule_id)
        assert len(mine) >= 3  # PREFECT_SERVER_SERVICES_SCHEDULER_MIN_RUNS
        server_schedule = server_schedule_of(schedule.schedule)
        expected = list(server_schedule._get_dates_generator(n=len(mine), start=mine[0], end=mine[-1]))
        assert mine == [e.astimezone(timezone.utc) for e in expected]

    # A manual run is kept when schedules change; auto-scheduled runs are not.
    manual = sync_prefect_client.create_flow_run_from_deployment(dep_id)
    # Updating a schedule removes the future auto-scheduled runs.
    interval_id = next(s.id for s in deployment.schedules if isinstance(s.schedule, IntervalSchedule))
    sync_prefect_client.update_deployment_schedule(dep_id, interval_id, active=False)
    assert [r.id for r in scheduled_runs(sync_prefect_client, dep_id)] == [manual.id]
    assert not sync_prefect_client.read_deployment_schedules(dep_id)[0].active or \
        not sync_prefect_client.read_deployment_schedules(dep_id)[1].active
    # Deleting a schedule or pausing also removes them (as Prefect: all auto-scheduled runs).
    cron_id = next(s.id for s in deployment.schedules if isinstance(s.schedule, CronSchedule))
    sync_prefect_client.delete_deployment_schedule(dep_id, cron_id)
    sync_prefect_client.pause_deployment(dep_id)
    assert [r.id for r in scheduled_runs(sync_prefect_client, dep_id)] == [manual.id]


def server_schedule_of(client_schedule):
    return server_schedule_of_dict(client_schedule.model_dump(mode="json"))


def server_schedule_of_dict(data: dict):
    for cls in (server_schedules.IntervalSchedule, server_schedules.CronSchedule, server_schedules.RRuleSchedule):
        try:
            return cls.model_validate(data)
        except Exception:
            continue
    raise AssertionError(f"no server schedule for {data}")


DST_CASES = [
    # hourly cron over the New York fall-back (2026-11-01): 1am fires once, then 2am, two hours later
    ({"cron": "0 * * * *", "timezone": "America/New_York"}, "2026-10-31T22:00:00-04:00", 8),
    # daily 2:30 over the spring-forward gap (2026-03-08): that day's run moves to 3:30
    ({"cron": "30 2 * * *", "timezone": "America/New_York"}, "2026-03-06T00:00:00-05:00", 4),
    # day-of-month AND day-of-week (day_or false): Friday the 13th
    ({"cron": "0 12 13 * 5", "timezone": "Europe/Berlin", "day_or": False}, "2026-01-01T00:00:00+01:00", 3),
    # a daily interval keeps its local wall time across the transition
    ({"interval": 86400, "anchor_date": "2026-03-01T09:00:00-05:00", "timezone": "America/New_York"},
     "2026-03-06T00:00:00-05:00", 5),
    # an hourly interval is elapsed time across the fall-back
    ({"interval": 3600, "anchor_date": "2026-10-01T00:00:00Z", "timezone": "America/New_York"},
     "2026-11-01T00:00:00-04:00", 5),
    # an rrule in a timezone, over the European spring-forward (2026-03-29)
    ({"rrule": "FREQ=DAILY;BYHOUR=9;BYMINUTE=0", "timezone": "Europe/Paris"}, "2026-03-27T00:00:00+01:00", 4),
]


def post_retrying(api, path: str, body: dict):
    """POST, again on a 503: the reference server answers 503 when its SQLite is locked under load."""
    deadline = time.monotonic() + 30
    while True:
        resp = api.post(path, json=body)
        if resp.status_code != 503 or time.monotonic() > deadline:
            return resp
        time.sleep(0.5)


@pytest.mark.parametrize("schedule,start,count", DST_CASES)
def test_schedule_dates_match_prefect_across_dst(api, sync_prefect_client, schedule, start, count):
    flow_id = sync_prefect_client.create_flow_from_name("dst-flow")
    name = f"dst-{abs(hash((str(schedule), start)))}"
    resp = post_retrying(
        api, "/deployments/",
        {"flow_id": str(flow_id), "name": name, "paused": True, "schedules": [{"schedule": schedule, "active": True}]},
    )
    assert resp.status_code in (200, 201), resp.text
    dep_id = resp.json()["id"]
    end = datetime.fromisoformat(start) + timedelta(days=400)
    resp = post_retrying(
        api, f"/deployments/{dep_id}/schedule",
        {"start_time": start, "end_time": end.isoformat(), "min_runs": count, "max_runs": count, "min_time": 0},
    )
    assert resp.status_code == 200, resp.text
    resp = post_retrying(api, "/flow_runs/filter", {"deployments": {"id": {"any_": [dep_id]}}, "sort": "EXPECTED_START_TIME_ASC"})
    got = [datetime.fromisoformat(r["expected_start_time"].replace("Z", "+00:00")) for r in resp.json()]

    expected_schedule = server_schedule_of_dict(schedule)
    expected = list(
        expected_schedule._get_dates_generator(n=count, start=datetime.fromisoformat(start), end=end)
    )
    assert got == [e.astimezone(timezone.utc) for e in expected]
    # the idempotency key is Prefect's, with the local date as Python prints it
    keys = sorted(r["idempotency_key"].rsplit(" ", 2)[-2] + " " + r["idempotency_key"].rsplit(" ", 2)[-1] for r in resp.json())
    assert keys == sorted(str(e) for e in expected)


@pytest.fixture(scope="session")
def process_worker(server, tmp_path_factory):
    """A process work pool made with the CLI and `prefect worker start` on it, for the session."""
    pool = "e2e-process-pool"
    env = dict(os.environ, COLUMNS="250", NO_COLOR="1")
    prefect = os.path.join(os.path.dirname(sys.executable), "prefect")
    res = subprocess.run([prefect, "work-pool", "create", pool, "--type", "process"], env=env, capture_output=True, text=True)
    assert res.returncode == 0, res.stdout + res.stderr
    logdir = tmp_path_factory.mktemp("worker")
    log = open(logdir / "worker.log", "wb")
    proc = subprocess.Popen(
        [prefect, "worker", "start", "--pool", pool, "--name", "e2e-worker"],
        env=env, cwd=logdir, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )
    yield pool, proc, logdir / "worker.log"
    proc.terminate()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
    log.close()


def test_worker_runs_a_deployment_from_source(process_worker, tmp_path, sync_prefect_client, api):
    from prefect import flow

    # The worker labels each run it submits (PATCH /flow_runs/{id}/labels), a route of the runs module.
    probe = api.patch("/flow_runs/00000000-0000-4000-8000-000000000000/labels", json={})
    if probe.status_code == 404 and probe.json().get("detail") == "Not Found":
        pytest.skip("no PATCH /flow_runs/{id}/labels route in this build: the worker labels runs it submits")

    pool, proc, worker_log = process_worker
    (tmp_path / "served_flow.py").write_text(FLOW_SOURCE)
    deployment_id = flow.from_source(source=str(tmp_path), entrypoint="served_flow.py:greet").deploy(
        name="from-source", work_pool_name=pool, parameters={"name": "worker"}, print_next_steps=False
    )
    deployment = sync_prefect_client.read_deployment(deployment_id)
    assert deployment.work_pool_name == pool and deployment.work_queue_name == "default"
    assert deployment.pull_steps and deployment.entrypoint == "served_flow.py:greet"

    run = run_deployment(f"served-flow/from-source", timeout=120, poll_interval=0.5)
    assert proc.poll() is None, worker_log.read_text()[-3000:]
    assert run.state.type == StateType.COMPLETED, (run.state, worker_log.read_text()[-3000:])
    assert run.work_pool_name == pool and run.parameters == {"name": "worker"}
    assert sync_prefect_client.read_deployment(deployment_id).status.value == "READY"

    # `prefect deploy` from a prefect.yaml, run by the same worker
    (tmp_path / "prefect.yaml").write_text(textwrap.dedent(f"""
        name: e2e
        prefect-version: 3.9.1
        pull:
        - prefect.deployments.steps.set_working_directory:
            directory: {tmp_path}
        deployments:
        - name: from-yaml
          entrypoint: served_flow.py:greet
          parameters:
            name: yaml
          work_pool:
            name: {pool}
            work_queue_name: yaml-queue
        """))
    env = dict(os.environ, COLUMNS="250", NO_COLOR="1")
    prefect = os.path.join(os.path.dirname(sys.executable), "prefect")
    res = subprocess.run([prefect, "--no-prompt", "deploy", "--name", "from-yaml"], cwd=tmp_path, env=env,
                         capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stdout + res.stderr
    yaml_deployment = sync_prefect_client.read_deployment_by_name("served-flow/from-yaml")
    assert yaml_deployment.work_queue_name == "yaml-queue" and yaml_deployment.work_pool_name == pool
    run = run_deployment("served-flow/from-yaml", timeout=120, poll_interval=0.5)
    assert run.state.type == StateType.COMPLETED, (run.state, worker_log.read_text()[-3000:])
    assert run.parameters == {"name": "yaml"} and run.work_queue_name == "yaml-queue"


@pytest.mark.parametrize("strategy", ["ENQUEUE", "CANCEL_NEW"])
def test_deployment_concurrency_limit(sync_prefect_client, strategy):
    from prefect.client.schemas.objects import ConcurrencyOptions, ConcurrencyLimitStrategy
    from prefect.states import Completed, Pending, Running

    flow_id = sync_prefect_client.create_flow_from_name("limited-flow")
    dep_id = sync_prefect_client.create_deployment(
        flow_id=flow_id,
        name=f"limited-{strategy.lower()}",
        concurrency_limit=1,
        concurrency_options=ConcurrencyOptions(collision_strategy=ConcurrencyLimitStrategy(strategy)),
    )
    deployment = sync_prefect_client.read_deployment(dep_id)
    assert deployment.global_concurrency_limit.limit == 1
    assert deployment.global_concurrency_limit.name == f"deployment:{dep_id}"
    assert deployment.concurrency_options.collision_strategy == strategy

    first, second, third = (sync_prefect_client.create_flow_run_from_deployment(dep_id) for _ in range(3))
    taken = sync_prefect_client.set_flow_run_state(first.id, Pending())
    assert taken.status.value == "ACCEPT"
    lease = taken.state.state_details.deployment_concurrency_lease_id
    assert lease is not None
    assert sync_prefect_client.read_deployment(dep_id).global_concurrency_limit.active_slots == 1

    refused = sync_prefect_client.set_flow_run_state(second.id, Pending())
    assert refused.status.value == "REJECT"
    if strategy == "ENQUEUE":
        assert refused.state.type == StateType.SCHEDULED and refused.state.name == "AwaitingConcurrencySlot"
    else:
        assert refused.state.type == StateType.CANCELLED
    assert sync_prefect_client.read_flow_run(second.id).state.name == refused.state.name

    running = sync_prefect_client.set_flow_run_state(first.id, Running())
    assert running.status.value == "ACCEPT"
    assert running.state.state_details.deployment_concurrency_lease_id == lease
    done = sync_prefect_client.set_flow_run_state(first.id, Completed())
    assert done.status.value == "ACCEPT"
    assert sync_prefect_client.read_deployment(dep_id).global_concurrency_limit.active_slots == 0
    # the slot is free again
    assert sync_prefect_client.set_flow_run_state(third.id, Pending()).status.value == "ACCEPT"

    # a null concurrency_limit removes the limit
    from prefect.client.schemas.actions import DeploymentUpdate

    sync_prefect_client.update_deployment(dep_id, DeploymentUpdate(concurrency_limit=None))
    after = sync_prefect_client.read_deployment(dep_id)
    assert after.concurrency_limit is None and after.global_concurrency_limit is None


def test_worker_cancels_and_reports_crashes(process_worker, tmp_path, sync_prefect_client, cli):
    """Cancelling a run the worker runs kills its process (Cancelled); a flow process killed with
    kill -9 under the worker ends Crashed."""
    import signal

    from prefect import flow

    pool, proc, worker_log = process_worker
    (tmp_path / "served_flow.py").write_text(FLOW_SOURCE)
    flow.from_source(source=str(tmp_path), entrypoint="served_flow.py:greet").deploy(
        name="long-running", work_pool_name=pool, parameters={"sleep": 120}, print_next_steps=False
    )

    def started_run():
        run = run_deployment("served-flow/long-running", timeout=0)
        return wait_for(
            lambda: (r := sync_prefect_client.read_flow_run(run.id)).state.type == StateType.RUNNING
            and r.infrastructure_pid and r,
            timeout=90, what="the worker to start the run", interval=0.5,
        )

    run = started_run()
    res = cli("flow-run", "cancel", str(run.id))
    assert res.code == 0, res.stdout + res.stderr
    cancelled = wait_for(
        lambda: (s := sync_prefect_client.read_flow_run(run.id).state).type == StateType.CANCELLED and s,
        timeout=90, what="the worker to kill the cancelled run", interval=0.5,
    )
    assert cancelled.type == StateType.CANCELLED, worker_log.read_text()[-3000:]

    run = started_run()
    pid = int(run.infrastructure_pid.rsplit(":", 1)[-1])
    os.kill(pid, signal.SIGKILL)
    crashed = wait_for(
        lambda: (s := sync_prefect_client.read_flow_run(run.id).state).type == StateType.CRASHED and s,
        timeout=90, what="the worker to report the killed run Crashed", interval=0.5,
    )
    assert crashed.type == StateType.CRASHED
    assert proc.poll() is None, worker_log.read_text()[-3000:]


SUSPENDING_SOURCE = textwrap.dedent(
    """
    from prefect import flow
    from prefect.flow_runs import suspend_flow_run

    @flow(name="suspending-flow")
    def suspending() -> str:
        suspend_flow_run(timeout=300)
        return "resumed"
    """
)


def test_suspended_deployment_run_resumes_under_the_worker(process_worker, tmp_path, sync_prefect_client):
    """suspend_flow_run ends the flow process with the run Suspended; resuming it reschedules the
    run, which the worker runs again to completion."""
    from prefect import flow
    from prefect.flow_runs import resume_flow_run

    pool, proc, worker_log = process_worker
    (tmp_path / "suspending_flow.py").write_text(SUSPENDING_SOURCE)
    flow.from_source(source=str(tmp_path), entrypoint="suspending_flow.py:suspending").deploy(
        name="suspends", work_pool_name=pool, print_next_steps=False
    )
    run = run_deployment("suspending-flow/suspends", timeout=0)
    suspended = wait_for(
        lambda: (s := sync_prefect_client.read_flow_run(run.id).state).name == "Suspended" and s,
        timeout=90, what="the run to suspend", interval=0.5,
    )
    assert suspended.type == StateType.PAUSED and suspended.state_details.pause_reschedule
    resume_flow_run(run.id)
    done = wait_for(
        lambda: (s := sync_prefect_client.read_flow_run(run.id).state).is_final() and s,
        timeout=120, what="the resumed run to finish", interval=0.5,
    )
    assert done.type == StateType.COMPLETED, (done, worker_log.read_text()[-3000:])
    # a run resumed from a suspension keeps its run count, as on Python
    assert sync_prefect_client.read_flow_run(run.id).run_count == 1


@pytest.mark.parametrize("scope", ["work-pool", "work-queue"])
def test_worker_holds_pool_and_queue_concurrency_limits(process_worker, tmp_path, sync_prefect_client, cli, scope):
    """With a limit of 1 on the pool (or its default queue) the worker starts a second run only once
    the first has finished."""
    from prefect import flow

    pool, proc, worker_log = process_worker
    (tmp_path / "served_flow.py").write_text(FLOW_SOURCE)
    name = f"limited-by-{scope}"
    flow.from_source(source=str(tmp_path), entrypoint="served_flow.py:greet").deploy(
        name=name, work_pool_name=pool, parameters={"sleep": 2}, print_next_steps=False
    )
    target = [pool] if scope == "work-pool" else ["default", "--pool", pool]
    res = cli(scope, "set-concurrency-limit", *target, "1")
    assert res.code == 0, res.stdout + res.stderr
    try:
        runs = [run_deployment(f"served-flow/{name}", timeout=0) for _ in range(2)]
        done = wait_for(
            lambda: all((r := sync_prefect_client.read_flow_run(run.id)).state.is_final() for run in runs)
            and [sync_prefect_client.read_flow_run(run.id) for run in runs],
            timeout=150, what="both limited runs to finish", interval=0.5,
        )
    finally:
        res = cli(scope, "clear-concurrency-limit", *target)
        assert res.code == 0, res.stdout + res.stderr
    assert all(r.state.type == StateType.COMPLETED for r in done), worker_log.read_text()[-3000:]
    first, second = sorted(done, key=lambda r: r.start_time)
    assert second.start_time >= first.end_time, (first.start_time, first.end_time, second.start_time)
