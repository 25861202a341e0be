"""The run lifecycle through the official client: pause and resume with input, pause timeouts,
cancellation, a flow process stopped with SIGTERM, and the server's flow-run state events.

Flows that must be paused, cancelled or killed from outside run in a subprocess of the test.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from datetime import timedelta
from uuid import uuid4

import pytest
from prefect import flow, tags
from prefect.client.schemas.filters import FlowFilter, FlowFilterName
from prefect.client.schemas.objects import StateType
from prefect.client.schemas.responses import SetStateStatus
from prefect.states import Paused, Running, Scheduled
from prefect.types._datetime import now

DEADLINE = 60


def poll(what: str, check, timeout: float = DEADLINE):
    """Call check() until it returns something truthy; fail after timeout seconds."""
    deadline = time.monotonic() + timeout
    while True:
        got = check()
        if got:
            return got
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.1)


FLOW_SCRIPT = textwrap.dedent(
    """
    import os, sys, time
    from prefect import flow, tags
    from prefect.flow_runs import pause_flow_run
    from prefect.input import RunInput

    class Approval(RunInput):
        approved: bool
        note: str

    @flow(name=os.environ["TEST_FLOW_NAME"])
    def lifecycle(mode: str):
        if mode == "input":
            answer = pause_flow_run(wait_for_input=Approval, timeout=60, poll_interval=1)
            print(f"ANSWER {answer.approved}:{answer.note}", flush=True)
            return answer.note
        if mode == "timeout":
            pause_flow_run(timeout=1, poll_interval=1)
            return "resumed"
        while True:  # "sleep": wait to be cancelled or killed
            time.sleep(0.1)

    if __name__ == "__main__":
        lifecycle(sys.argv[1])
    """
)


@pytest.fixture
def flow_process(tmp_path, sync_prefect_client):
    """Start the script's flow in a subprocess; yields start(mode) -> (process, flow run)."""
    script = tmp_path / "lifecycle_flow.py"
    script.write_text(FLOW_SCRIPT)
    procs: list[subprocess.Popen] = []

    def start(mode: str):
        name = f"lifecycle-{mode}-{uuid4().hex[:8]}"
        proc = subprocess.Popen(
            [sys.executable, str(script), mode],
            env=dict(os.environ, TEST_FLOW_NAME=name),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        procs.append(proc)

        def the_run():
            if proc.poll() is not None:
                pytest.fail(f"flow process exited early:\n{proc.stdout.read()}")
            runs = sync_prefect_client.read_flow_runs(flow_filter=FlowFilter(name=FlowFilterName(any_=[name])))
            return runs[0] if runs else None

        return proc, poll(f"the flow run of {name}", the_run)

    yield start
    for proc in procs:
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=30)


def wait_for_state(client, run_id, *types: StateType, timeout: float = DEADLINE):
    def check():
        run = client.read_flow_run(run_id)
        return run if run.state and run.state.type in types else None

    return poll(f"flow run {run_id} to reach {types}", check, timeout)


def test_pause_with_input_then_resume_from_another_process(flow_process, sync_prefect_client):
    proc, run = flow_process("input")
    run = wait_for_state(sync_prefect_client, run.id, StateType.PAUSED)
    keyset = run.state.state_details.run_input_keyset
    assert keyset and set(keyset) == {"description", "response", "schema"}

    def schema_saved():
        return sync_prefect_client.filter_flow_run_input(run.id, key_prefix=keyset["schema"], limit=1, exclude_keys=set())

    poll("the run input schema", schema_saved)

    bad = sync_prefect_client.resume_flow_run(run.id, run_input={"approved": "maybe", "note": "x"})
    assert bad.status == SetStateStatus.REJECT
    assert "Validation failed for field 'approved'" in bad.details.reason
    missing = sync_prefect_client.resume_flow_run(run.id, run_input={"approved": True})
    assert missing.status == SetStateStatus.REJECT
    assert "'note' is a required property" in missing.details.reason
    assert sync_prefect_client.read_flow_run(run.id).state.type == StateType.PAUSED

    ok = sync_prefect_client.resume_flow_run(run.id, run_input={"approved": True, "note": "ship it"})
    assert ok.status == SetStateStatus.ACCEPT
    assert ok.state.type == StateType.RUNNING

    out, _ = proc.communicate(timeout=DEADLINE)
    assert proc.returncode == 0, out
    assert "ANSWER True:ship it" in out
    run = wait_for_state(sync_prefect_client, run.id, StateType.COMPLETED)
    names = [s.name for s in sync_prefect_client.read_flow_run_states(run.id)]
    assert names[-3:] == ["Paused", "Running", "Completed"]
    assert sync_prefect_client.read_flow_run_input(run.id, keyset["response"])

    again = sync_prefect_client.resume_flow_run(run.id)
    assert again.status == SetStateStatus.ABORT
    assert again.details.reason == "Cannot resume a flow run that is not paused."


def test_pause_timeout_expires(flow_process, sync_prefect_client):
    proc, run = flow_process("timeout")
    out, _ = proc.communicate(timeout=DEADLINE)
    run = wait_for_state(sync_prefect_client, run.id, StateType.FAILED)
    assert "Paused" in [s.name for s in sync_prefect_client.read_flow_run_states(run.id)]
    late = sync_prefect_client.resume_flow_run(run.id)
    assert late.status == SetStateStatus.ABORT


def test_resume_after_the_pause_timeout_fails_the_run(sync_prefect_client):
    @flow(name=f"paused-{uuid4().hex[:8]}")
    def placeholder():
        pass

    run = sync_prefect_client.create_flow_run(placeholder, state=Running())
    expired = Paused(pause_expiration_time=now("UTC") - timedelta(seconds=1))
    assert sync_prefect_client.set_flow_run_state(run.id, expired).status == SetStateStatus.ACCEPT
    res = sync_prefect_client.resume_flow_run(run.id)
    assert res.status == SetStateStatus.REJECT
    assert res.state.type == StateType.FAILED
    assert res.details.reason == "The flow run pause has timed out and can no longer resume."
    assert sync_prefect_client.read_flow_run(run.id).state.type == StateType.FAILED


def test_cancel_a_scheduled_run_goes_straight_to_cancelled(sync_prefect_client, cli):
    @flow(name=f"cancel-scheduled-{uuid4().hex[:8]}")
    def later():
        pass

    run = sync_prefect_client.create_flow_run(later, state=Scheduled(scheduled_time=now("UTC") + timedelta(hours=1)))
    code, out, err = cli("flow-run", "cancel", str(run.id))
    assert code == 0, out + err
    run = sync_prefect_client.read_flow_run(run.id)
    assert run.state.type == StateType.CANCELLED
    assert run.state.name == "Cancelled"


def test_cancel_a_suspended_run_goes_straight_to_cancelled(sync_prefect_client, cli):
    @flow(name=f"cancel-paused-{uuid4().hex[:8]}")
    def suspended():
        pass

    run = sync_prefect_client.create_flow_run(suspended, state=Running())
    res = sync_prefect_client.set_flow_run_state(run.id, Paused(reschedule=True, name="Suspended"), force=True)
    assert res.state.type == StateType.PAUSED
    code, out, err = cli("flow-run", "cancel", str(run.id))
    assert code == 0, out + err
    run = sync_prefect_client.read_flow_run(run.id)
    assert run.state.type == StateType.CANCELLED


def test_cancel_a_running_ad_hoc_run_is_cancelling(flow_process, sync_prefect_client, cli):
    proc, run = flow_process("sleep")
    wait_for_state(sync_prefect_client, run.id, StateType.RUNNING)
    code, out, err = cli("flow-run", "cancel", str(run.id))
    assert code == 0, out + err
    run = sync_prefect_client.read_flow_run(run.id)
    assert run.state.type == StateType.CANCELLING


def test_sigterm_crashes_the_flow_run(flow_process, sync_prefect_client):
    proc, run = flow_process("sleep")
    wait_for_state(sync_prefect_client, run.id, StateType.RUNNING)
    proc.send_signal(signal.SIGTERM)
    proc.wait(timeout=DEADLINE)
    run = wait_for_state(sync_prefect_client, run.id, StateType.CRASHED)
    assert run.end_time is not None


@flow(name="evented")
def evented():
    return 1


def test_flow_run_state_events(sync_prefect_client, api):
    with tags("ev-tag"):
        state = evented(return_state=True)
    run = sync_prefect_client.read_flow_run(state.state_details.flow_run_id)

    def stored():
        resp = api.post(
            "/events/filter",
            json={"filter": {"resource": {"id": [f"prefect.flow-run.{run.id}"]}, "order": "ASC"}, "limit": 50},
        )
        resp.raise_for_status()
        # state events only: the client also emits prefect.flow-run.heartbeat
        evs = [e for e in resp.json()["events"] if e["event"].split(".")[-1][:1].isupper()]
        return evs if len(evs) >= 3 else None

    evs = poll("the flow run's state events", stored)
    assert [e["event"] for e in evs] == ["prefect.flow-run.Pending", "prefect.flow-run.Running", "prefect.flow-run.Completed"]
    states = sync_prefect_client.read_flow_run_states(run.id)
    assert [e["id"] for e in evs] == [str(s.id) for s in states]
    done = evs[-1]
    assert done["follows"] == evs[1]["id"]
    assert done["resource"]["prefect.resource.name"] == run.name
    assert done["resource"]["prefect.state-type"] == "COMPLETED"
    assert done["resource"]["prefect.run-count"] == "1"
    related = {(r["prefect.resource.id"], r["prefect.resource.role"]) for r in done["related"]}
    assert (f"prefect.flow.{run.flow_id}", "flow") in related
    assert ("prefect.tag.ev-tag", "tag") in related
    assert done["payload"]["intended"] == {"from": "RUNNING", "to": "COMPLETED"}
    assert done["payload"]["validated_state"] == {"type": "COMPLETED", "name": "Completed"}


BACKGROUND_TASKS = textwrap.dedent(
    """
    from prefect import task

    @task
    def add(x: int, y: int) -> int:
        return x + y
    """
)

SERVE_SCRIPT = textwrap.dedent(
    """
    import sys
    sys.path.insert(0, sys.argv[1])
    from prefect.task_worker import serve
    from background_tasks import add
    serve(add)
    """
)


def test_background_task_runs_on_a_task_worker(tmp_path, monkeypatch, api, sync_prefect_client):
    (tmp_path / "background_tasks.py").write_text(BACKGROUND_TASKS)
    (tmp_path / "serve_tasks.py").write_text(SERVE_SCRIPT)
    monkeypatch.syspath_prepend(str(tmp_path))
    from background_tasks import add

    worker = subprocess.Popen(
        [sys.executable, str(tmp_path / "serve_tasks.py"), str(tmp_path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:

        def subscribed():
            if worker.poll() is not None:
                pytest.fail(f"task worker exited:\n{worker.stdout.read()}")
            resp = api.post("/task_workers/filter", json={"task_worker_filter": {"task_keys": [add.task_key]}})
            resp.raise_for_status()
            return resp.json()

        (listed,) = poll("the task worker to subscribe", subscribed)
        assert listed["task_keys"] == [add.task_key]

        future = add.delay(2, 3)
        assert future.result(timeout=DEADLINE) == 5
        # the task run is recorded from the worker's events: poll for it
        run = poll(
            "the background task run to be recorded Completed",
            lambda: (r := sync_prefect_client.read_task_run(future.task_run_id)).state.is_completed() and r,
        )
        assert run.flow_run_id is None
    finally:
        worker.kill()
        worker.wait(timeout=30)
