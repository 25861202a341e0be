"""Flow runs and task runs through the official client: real @flow runs, orchestration, the CLI.

All tests share one server, so each one works on the runs it creates.
"""

import time
from uuid import uuid4

from prefect import flow, task
from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId, FlowRunFilterParentTaskRunId
from prefect.client.schemas.objects import StateType
from prefect.states import Completed, Pending, Running

def history(client, flow_run_id) -> list[tuple[StateType, str]]:
    return [(s.type, s.name) for s in client.read_flow_run_states(flow_run_id)]


@flow
def returns_a_value(x: int) -> int:
    return x * 2


@flow
def fails():
    raise ValueError("boom")


attempts: list[int] = []


@flow(retries=2, retry_delay_seconds=0)
def fails_twice():
    attempts.append(1)
    if len(attempts) < 3:
        raise RuntimeError("not yet")
    return "done"


@flow
def child(x: int) -> int:
    return x + 1


@flow
def parent() -> int:
    return child(1) + child(2)


@task
def double(x: int) -> int:
    return x * 2


@flow
def with_tasks() -> int:
    return double(1) + double.submit(2).result()


def test_flow_runs_to_completed(sync_prefect_client):
    state = returns_a_value(21, return_state=True)
    assert state.is_completed()
    assert state.result() == 42
    run = sync_prefect_client.read_flow_run(state.state_details.flow_run_id)
    assert run.state.type == StateType.COMPLETED
    assert run.run_count == 1
    assert run.start_time is not None and run.end_time is not None
    assert run.parameters == {"x": 21}
    assert history(sync_prefect_client, run.id) == [
        (StateType.PENDING, "Pending"),
        (StateType.RUNNING, "Running"),
        (StateType.COMPLETED, "Completed"),
    ]


def test_failing_flow_ends_failed(sync_prefect_client):
    state = fails(return_state=True)
    assert state.is_failed()
    run = sync_prefect_client.read_flow_run(state.state_details.flow_run_id)
    assert run.state.type == StateType.FAILED
    assert run.state.message and "boom" in run.state.message


def test_flow_retries(sync_prefect_client):
    attempts.clear()
    state = fails_twice(return_state=True)
    assert state.is_completed()
    run = sync_prefect_client.read_flow_run(state.state_details.flow_run_id)
    assert run.run_count == 3
    names = [name for _, name in history(sync_prefect_client, run.id)]
    assert names.count("AwaitingRetry") == 2
    assert names[-1] == "Completed"


def test_subflows_link_to_a_parent_task_run(sync_prefect_client):
    state = parent(return_state=True)
    assert state.result() == 5
    parent_id = state.state_details.flow_run_id
    children = sync_prefect_client.read_flow_runs(
        flow_run_filter=FlowRunFilter(parent_task_run_id=FlowRunFilterParentTaskRunId(is_null_=False))
    )
    mine = []
    for run in children:
        task_run = sync_prefect_client.read_task_run(run.parent_task_run_id)
        if task_run.flow_run_id == parent_id:
            mine.append((run, task_run))
    assert len(mine) == 2
    for run, task_run in mine:
        assert run.state.type == StateType.COMPLETED
        assert task_run.state.type == StateType.COMPLETED
        assert task_run.state.state_details.child_flow_run_id == run.id


def test_flow_with_tasks_completes(sync_prefect_client):
    state = with_tasks(return_state=True)
    assert state.is_completed()
    assert state.result() == 6


@flow
def with_many_tasks() -> int:
    return double(1) + double.submit(2).result() + sum(double.map([3, 4]).result())


def test_task_runs_are_recorded(sync_prefect_client):
    # The client reports task runs only as events; the server's
    # task_run_recorder turns them into task runs and their states.
    state = with_many_tasks(return_state=True)
    assert state.result() == 20
    flow_run_id = state.state_details.flow_run_id
    lifecycle = [StateType.PENDING, StateType.RUNNING, StateType.COMPLETED]
    deadline = time.monotonic() + 20
    while True:
        runs = sync_prefect_client.read_task_runs(flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[flow_run_id])))
        histories = {r.id: [s.type for s in sync_prefect_client.read_task_run_states(r.id)] for r in runs}
        done = len(runs) == 4 and all(r.state_type == StateType.COMPLETED for r in runs)
        if (done and all(h == lifecycle for h in histories.values())) or time.monotonic() > deadline:
            break
        time.sleep(0.25)
    assert len(runs) == 4
    assert len({r.dynamic_key for r in runs}) == 4
    for run in runs:
        assert run.flow_run_id == flow_run_id
        assert run.state.type == StateType.COMPLETED
        assert run.state.state_details.task_run_id == run.id
        assert run.run_count == 1 and run.start_time is not None and run.end_time is not None
        assert histories[run.id] == lifecycle


async def test_orchestration_results(prefect_client):
    flow_id = await prefect_client.create_flow_from_name(f"orch-{uuid4().hex[:8]}")
    response = await prefect_client._client.post("/flow_runs/", json={"flow_id": str(flow_id)})
    assert response.status_code == 201
    run_id = response.json()["id"]
    accepted = await prefect_client.set_flow_run_state(run_id, Running())
    assert accepted.status.value == "ACCEPT"
    aborted = await prefect_client.set_flow_run_state(run_id, Pending())
    assert aborted.status.value == "ABORT"
    assert aborted.details.reason == "This run is in a RUNNING state and cannot transition to a PENDING state."
    forced = await prefect_client.set_flow_run_state(run_id, Pending(), force=True)
    assert forced.status.value == "ACCEPT"
    done = await prefect_client.set_flow_run_state(run_id, Completed())
    assert done.status.value == "ACCEPT"
    read = await prefect_client.read_flow_run(run_id)
    assert read.state.type == StateType.COMPLETED


async def test_idempotency_key(prefect_client):
    flow_id = await prefect_client.create_flow_from_name(f"idem-{uuid4().hex[:8]}")
    body = {"flow_id": str(flow_id), "idempotency_key": "once"}
    first = await prefect_client._client.post("/flow_runs/", json=body)
    second = await prefect_client._client.post("/flow_runs/", json=body)
    assert (first.status_code, second.status_code) == (201, 200)
    assert first.json()["id"] == second.json()["id"]


def test_cli_ls_and_inspect(sync_prefect_client, cli):
    state = returns_a_value(1, return_state=True)
    run = sync_prefect_client.read_flow_run(state.state_details.flow_run_id)
    code, out, err = cli("flow-run", "ls", "--limit", "50")
    assert code == 0, err
    assert run.name in out
    code, out, err = cli("flow-run", "inspect", str(run.id))
    assert code == 0, err
    assert str(run.id) in out
    assert "COMPLETED" in out
