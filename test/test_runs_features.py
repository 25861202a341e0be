"""What users do with runs beyond the basics (test_runs.py has those): async and concurrent
tasks, nested subflows, task retries, caching, persisted results, timeouts, state hooks, the
flow-run CLI, and the read paths the UI uses (history, graph, bulk operations, labels, logs
download, /ui routes). All tests share one server, so each works on the runs it creates.
"""

import asyncio
import csv
import io
import time
from datetime import datetime, timedelta, timezone
from uuid import uuid4

from prefect import flow, get_run_logger, task
from prefect.artifacts import create_markdown_artifact, create_progress_artifact
from prefect.cache_policies import INPUTS
from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId
from prefect.client.schemas.objects import StateType


def poll(read, ready, timeout: float = 20):
    """read() until ready(value) or the deadline; returns the last value."""
    deadline = time.monotonic() + timeout
    while True:
        value = read()
        if ready(value) or time.monotonic() > deadline:
            return value
        time.sleep(0.2)


def task_runs_of(client, flow_run_id):
    return client.read_task_runs(flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[flow_run_id])))


def settled_task_runs(client, flow_run_id, count: int):
    """The flow run's task runs once `count` of them are recorded in a final state."""
    return poll(
        lambda: task_runs_of(client, flow_run_id),
        lambda runs: len(runs) == count and all(r.state_type and r.state.is_final() for r in runs),
    )


def state_names(client, task_run_id) -> list[str]:
    return [s.name for s in client.read_task_run_states(task_run_id)]


# ----------------------------------------------------------------------------- programs


@task
async def add_one(x: int) -> int:
    await asyncio.sleep(0)
    return x + 1


@task
def square(x: int) -> int:
    return x * x


@flow
async def async_and_concurrent() -> int:
    first = await add_one(1)
    futures = square.map([1, 2, 3])
    submitted = add_one.submit(10)
    return first + sum(f.result() for f in futures) + submitted.result()


@flow
def grandchild(x: int) -> int:
    return square(x)


@flow
def middle(x: int) -> int:
    return grandchild(x) + 1


@flow
def outer() -> int:
    return middle(3)


calls: list[int] = []


@task(retries=2, retry_delay_seconds=0.2)
def flaky() -> str:
    calls.append(1)
    if len(calls) < 3:
        raise RuntimeError("not yet")
    return "ok"


@flow
def retrying_task() -> str:
    return flaky()


@task(cache_key_fn=lambda *_: CACHE_KEY)
def keyed(x: int) -> int:
    return x + 100


@task(cache_policy=INPUTS)
def by_inputs(x: int) -> int:
    return x * 3


@flow
def caching(x: int, refresh: bool = False):
    return (
        keyed.with_options(refresh_cache=refresh)(x, return_state=True),
        by_inputs(x, return_state=True),
    )


CACHE_KEY = f"features-{uuid4().hex}"


@flow(persist_result=True)
def persisted() -> dict:
    return {"answer": 42}


@flow(timeout_seconds=0.5)
def slow_flow():
    for _ in range(100):
        time.sleep(0.1)


@task(timeout_seconds=0.5)
def slow_task():
    for _ in range(100):
        time.sleep(0.1)


@flow
def with_slow_task() -> str:
    return slow_task(return_state=True).name  # a returned state would set the flow's


hooks: list[str] = []


@flow(on_completion=[lambda f, r, s: hooks.append(f"completed:{s.name}")])
def hooked_ok():
    return 1


@flow(on_failure=[lambda f, r, s: hooks.append(f"failed:{s.name}")])
def hooked_fail():
    raise ValueError("boom")


@flow
def logs_something(word: str):
    get_run_logger().warning("the word is %s", word)


@task
def upstream_value() -> int:
    return 2


@task
def downstream(x: int) -> int:
    return x * 10


@flow
def graph_child() -> int:
    return 1


@flow
def with_a_graph() -> int:
    a = upstream_value.submit()
    b = downstream.submit(a)  # a future as input: the dependency is recorded
    return b.result() + graph_child()


@task
def reports(key: str) -> None:
    create_markdown_artifact("# done", key=key)


@flow
def with_artifacts(key: str) -> None:
    create_progress_artifact(50.0)
    reports(key)


# ----------------------------------------------------------------------------- programs run


def test_async_and_concurrent_tasks(sync_prefect_client):
    state = asyncio.run(async_and_concurrent(return_state=True))
    assert state.is_completed()
    assert state.result() == 2 + 14 + 11
    runs = settled_task_runs(sync_prefect_client, state.state_details.flow_run_id, 5)
    assert len(runs) == 5
    assert all(r.state.type == StateType.COMPLETED for r in runs)
    assert sum(r.name.startswith("square") for r in runs) == 3


def test_nested_subflows(sync_prefect_client):
    state = outer(return_state=True)
    assert state.result() == 10
    outer_id = state.state_details.flow_run_id
    tasks_of_outer = task_runs_of(sync_prefect_client, outer_id)
    middles = [sync_prefect_client.read_flow_runs(flow_run_filter=FlowRunFilter(
        parent_task_run_id={"any_": [t.id]})) for t in tasks_of_outer]
    middles = [r for found in middles for r in found]
    assert len(middles) == 1
    middle_run = middles[0]
    grand = [r for t in task_runs_of(sync_prefect_client, middle_run.id) for r in sync_prefect_client.read_flow_runs(
        flow_run_filter=FlowRunFilter(parent_task_run_id={"any_": [t.id]}))]
    assert len(grand) == 1
    assert grand[0].state.type == StateType.COMPLETED
    assert middle_run.state.type == StateType.COMPLETED


def test_task_retries_with_delay(sync_prefect_client):
    calls.clear()
    state = retrying_task(return_state=True)
    assert state.result() == "ok"
    (run,) = settled_task_runs(sync_prefect_client, state.state_details.flow_run_id, 1)
    names = poll(lambda: state_names(sync_prefect_client, run.id), lambda n: n and n[-1] == "Completed")
    assert names.count("AwaitingRetry") == 2
    assert names.count("Retrying") == 2
    assert names[-1] == "Completed"
    assert sync_prefect_client.read_task_run(run.id).run_count == 3


def test_task_caching(sync_prefect_client):
    first_keyed, first_inputs = caching(7)
    assert (first_keyed.name, first_inputs.name) == ("Completed", "Completed")
    second_keyed, second_inputs = caching(7)
    assert (second_keyed.name, second_inputs.name) == ("Cached", "Cached")
    assert second_keyed.result() == 107 and second_inputs.result() == 21
    refreshed, _ = caching(7, refresh=True)
    assert refreshed.name == "Completed"
    cached_run_id = second_keyed.state_details.task_run_id
    run = poll(lambda: sync_prefect_client.read_task_run(cached_run_id), lambda r: r.state_name == "Cached")
    assert run.state.type == StateType.COMPLETED and run.state_name == "Cached"


def test_persisted_result_is_readable_afterwards(sync_prefect_client):
    state = persisted(return_state=True)
    run = sync_prefect_client.read_flow_run(state.state_details.flow_run_id)
    assert run.state.is_completed()
    assert run.state.result() == {"answer": 42}


def test_flow_timeout(sync_prefect_client):
    state = slow_flow(return_state=True)
    run = sync_prefect_client.read_flow_run(state.state_details.flow_run_id)
    assert (run.state.type, run.state.name) == (StateType.FAILED, "TimedOut")


def test_task_timeout(sync_prefect_client):
    flow_state = with_slow_task(return_state=True)
    assert flow_state.result() == "TimedOut"
    (run,) = settled_task_runs(sync_prefect_client, flow_state.state_details.flow_run_id, 1)
    assert (run.state.type, run.state.name) == (StateType.FAILED, "TimedOut")


def test_state_hooks_run(sync_prefect_client):
    hooks.clear()
    hooked_ok(return_state=True)
    hooked_fail(return_state=True)
    assert hooks == ["completed:Completed", "failed:Failed"]


def test_cli_flow_run_logs(sync_prefect_client, cli):
    word = uuid4().hex
    state = logs_something(word, return_state=True)
    run_id = state.state_details.flow_run_id
    poll(lambda: cli("flow-run", "logs", str(run_id)).stdout, lambda out: word in out)
    code, out, err = cli("flow-run", "logs", str(run_id))
    assert code == 0, err
    assert f"the word is {word}" in out
    code, out, err = cli("flow-run", "inspect", str(run_id))
    assert code == 0 and "COMPLETED" in out


def test_graph_v2_of_a_real_run(sync_prefect_client, api):
    state = with_a_graph(return_state=True)
    assert state.result() == 21
    run_id = state.state_details.flow_run_id
    settled_task_runs(sync_prefect_client, run_id, 3)
    graph = poll(lambda: api.get(f"/flow_runs/{run_id}/graph-v2").json(), lambda g: len(g["nodes"]) == 3)
    # Task runs are labelled by name ("upstream_value-0"), subflows "flow name / run name".
    nodes = {node["label"].split(" / ")[0].rsplit("-", 1)[0]: node for _, node in graph["nodes"]}
    assert set(nodes) == {"upstream_value", "downstream", "graph"}, graph["nodes"]
    up, down, child = nodes["upstream_value"], nodes["downstream"], nodes["graph"]
    assert child["label"].startswith("graph-child / ")
    assert [e["id"] for e in down["parents"]] == [up["id"]]
    assert [e["id"] for e in up["children"]] == [down["id"]]
    assert child["kind"] == "flow-run" and up["kind"] == "task-run"
    assert set(graph["root_node_ids"]) == {up["id"], child["id"]}
    assert [s["type"] for s in graph["states"]] == ["PENDING", "RUNNING", "COMPLETED"]
    assert graph["start_time"] and graph["end_time"]
    later = api.get(f"/flow_runs/{run_id}/graph-v2", params={"since": "2999-01-01T00:00:00Z"}).json()
    assert later["nodes"] == []
    v1 = api.get(f"/flow_runs/{run_id}/graph").json()
    by_id = {d["id"]: d for d in v1}
    assert [u["id"] for u in by_id[down["id"]]["upstream_dependencies"]] == [up["id"]]
    missing = api.get(f"/flow_runs/{uuid4()}/graph-v2")
    assert missing.status_code == 404


def test_graph_v2_shows_artifacts(sync_prefect_client, api):
    key = f"report-{uuid4().hex[:8]}"
    state = with_artifacts(key, return_state=True)
    run_id = state.state_details.flow_run_id
    (task_run,) = settled_task_runs(sync_prefect_client, run_id, 1)
    graph = api.get(f"/flow_runs/{run_id}/graph-v2").json()
    assert [(a["type"], a["data"], a["key"], a["is_latest"]) for a in graph["artifacts"]] == [("progress", 50.0, None, True)]
    (node,) = [node for _, node in graph["nodes"]]
    assert node["id"] == str(task_run.id)
    assert [(a["type"], a["key"], a["is_latest"], a["data"]) for a in node["artifacts"]] == [("markdown", key, True, None)]


# ----------------------------------------------------------------------------- read paths, bulk, UI


def make_runs(api, tag: str, times: list[datetime]):
    flow_id = api.post("/flows/", json={"name": f"features-{tag}"}).json()["id"]
    runs = []
    for t in times:
        body = {"flow_id": flow_id, "tags": [tag], "state": {"type": "SCHEDULED", "state_details": {"scheduled_time": t.isoformat()}}}
        response = api.post("/flow_runs/", json=body)
        assert response.status_code == 201
        runs.append(response.json())
    return flow_id, runs


def test_flow_run_history_and_lateness(api):
    tag = uuid4().hex
    base = datetime(2020, 1, 1, tzinfo=timezone.utc)
    _, runs = make_runs(api, tag, [base + timedelta(minutes=5), base + timedelta(minutes=10), base + timedelta(minutes=70)])
    body = {
        "history_start": base.isoformat(),
        "history_end": (base + timedelta(hours=2)).isoformat(),
        "history_interval_seconds": 3600,
        "flow_runs": {"tags": {"all_": [tag]}},
    }
    history = api.post("/flow_runs/history", json=body).json()
    assert [h["interval_start"] for h in history] == ["2020-01-01T00:00:00Z", "2020-01-01T01:00:00Z"]
    # The late-runs service may have renamed them Late by now: count by type.
    by_type = [{} for _ in history]
    for counts, interval in zip(by_type, history):
        for s in interval["states"]:
            counts[s["state_type"]] = counts.get(s["state_type"], 0) + s["count_runs"]
    assert by_type == [{"SCHEDULED": 2}, {"SCHEDULED": 1}]
    assert history[0]["states"][0]["sum_estimated_lateness"] > 0
    assert api.post("/flow_runs/history", json={**body, "history_interval_seconds": 0.5}).status_code == 422
    assert api.post("/flow_runs/history", json={"history_start": base.isoformat()}).status_code == 422
    lateness = api.post("/flow_runs/lateness", json={"flow_runs": {"tags": {"all_": [tag]}}}).json()
    assert lateness > 60 * 60 * 24 * 365
    assert api.post("/flow_runs/lateness", json={"flow_runs": {"tags": {"all_": [uuid4().hex]}}}).json() is None
    points = api.post("/ui/flow_runs/history", json={"flow_runs": {"tags": {"all_": [tag]}}}).json()
    assert [p["id"] for p in points] == [runs[2]["id"], runs[1]["id"], runs[0]["id"]]
    assert points[0]["timestamp"] == "2020-01-01T01:10:00Z" and points[0]["state_type"] == "SCHEDULED"
    assert api.post("/ui/flow_runs/history", json={"limit": 1001}).status_code == 422


def test_task_run_history_and_ui_counts(sync_prefect_client, api):
    state = with_a_graph(return_state=True)
    run_id = state.state_details.flow_run_id
    runs = settled_task_runs(sync_prefect_client, run_id, 3)
    now = datetime.now(timezone.utc)
    history = api.post("/task_runs/history", json={
        "history_start": (now - timedelta(hours=1)).isoformat(),
        "history_end": (now + timedelta(hours=1)).isoformat(),
        "history_interval_seconds": 7200,
        "flow_runs": {"id": {"any_": [str(run_id)]}},
    }).json()
    assert len(history) == 1
    assert [(s["state_type"], s["count_runs"]) for s in history[0]["states"]] == [("COMPLETED", 3)]
    counts = api.post("/ui/task_runs/count", json={"flow_runs": {"id": {"any_": [str(run_id)]}}}).json()
    assert counts["COMPLETED"] == 3 and sum(counts.values()) == 3 and list(counts)[0] == "COMPLETED"
    per_run = api.post("/ui/flow_runs/count-task-runs", json={"flow_run_ids": [str(run_id), str(uuid4())]}).json()
    assert list(per_run.values()) == [2, 0]  # the subflow's parent task run is not counted
    dashboard = api.post("/ui/task_runs/dashboard/counts", json={
        "task_runs": {"start_time": {"after_": (now - timedelta(minutes=30)).isoformat()}},
        "flow_runs": {"id": {"any_": [str(run_id)]}},
    }).json()
    assert len(dashboard) == 20
    assert sum(b["completed"] for b in dashboard) == 3 and sum(b["failed"] for b in dashboard) == 0
    missing_after = api.post("/ui/task_runs/dashboard/counts", json={"task_runs": {}})
    assert missing_after.status_code == 422
    assert missing_after.json()["detail"] == "task_runs.start_time.after_ is required"
    ui_run = api.get(f"/ui/task_runs/{runs[0].id}").json()
    assert ui_run["id"] == str(runs[0].id)
    assert ui_run["flow_run_name"] == sync_prefect_client.read_flow_run(run_id).name
    assert api.get(f"/ui/task_runs/{uuid4()}").json() == {"detail": "Task not found"}


def test_next_runs(api):
    tag = uuid4().hex
    soon = datetime.now(timezone.utc) + timedelta(days=1)
    flow_id, runs = make_runs(api, tag, [soon + timedelta(hours=1), soon])
    other = str(uuid4())
    next_runs = api.post("/ui/flows/next-runs", json={"flow_ids": [flow_id, other]}).json()
    assert list(next_runs) == [flow_id, other]
    assert next_runs[other] is None
    assert next_runs[flow_id]["id"] == runs[1]["id"]
    assert next_runs[flow_id]["state_type"] == "SCHEDULED"
    too_many = api.post("/ui/flows/next-runs", json={"flow_ids": [str(uuid4()) for _ in range(201)]})
    assert too_many.status_code == 422


def test_bulk_set_state_and_delete(sync_prefect_client, api):
    tag = uuid4().hex
    later = datetime.now(timezone.utc) + timedelta(days=1)
    _, runs = make_runs(api, tag, [later, later, later])
    mine = {"flow_runs": {"tags": {"all_": [tag]}}}
    assert api.post("/flow_runs/bulk_set_state", json={**mine, "state": {"type": "CANCELLED"}, "limit": 51}).status_code == 422
    results = api.post("/flow_runs/bulk_set_state", json={**mine, "state": {"type": "CANCELLED"}}).json()["results"]
    assert sorted(r["flow_run_id"] for r in results) == sorted(r["id"] for r in runs)
    assert {r["status"] for r in results} == {"ACCEPT"}
    assert all(sync_prefect_client.read_flow_run(r["id"]).state.type == StateType.CANCELLED for r in runs)
    assert api.post("/flow_runs/bulk_delete", json={"limit": 0}).status_code == 422
    one = api.post("/flow_runs/bulk_delete", json={**mine, "limit": 1}).json()["deleted"]
    assert len(one) == 1
    rest = api.post("/flow_runs/bulk_delete", json=mine).json()["deleted"]
    assert sorted(one + rest) == sorted(r["id"] for r in runs)
    assert api.post("/flow_runs/count", json=mine).json() == 0


def test_labels_and_task_run_rename(sync_prefect_client, api):
    state = with_a_graph(return_state=True)
    run_id = state.state_details.flow_run_id
    sync_prefect_client.update_flow_run_labels(run_id, {"team": "data", "priority": 2})
    labels = sync_prefect_client.read_flow_run(run_id).labels
    assert labels["team"] == "data" and labels["priority"] == 2 and "prefect.flow.id" in labels
    assert api.patch(f"/flow_runs/{uuid4()}/labels", json={"a": "b"}).status_code == 404
    task_run = settled_task_runs(sync_prefect_client, run_id, 3)[0]
    assert api.patch(f"/task_runs/{task_run.id}", json={"name": "renamed"}).status_code == 204
    assert sync_prefect_client.read_task_run(task_run.id).name == "renamed"
    assert api.patch(f"/task_runs/{task_run.id}", json={}).status_code == 204
    assert sync_prefect_client.read_task_run(task_run.id).name == "renamed"
    assert api.patch(f"/task_runs/{task_run.id}", json={"name": "x", "extra": 1}).status_code == 422
    assert api.patch(f"/task_runs/{uuid4()}", json={"name": "x"}).status_code == 404


def test_logs_download(sync_prefect_client, api):
    word = uuid4().hex
    state = logs_something(word, return_state=True)
    run_id = state.state_details.flow_run_id
    extra = {"name": "x", "level": 40, "message": 'a, "quoted"\nline', "timestamp": "2020-01-01T00:00:00Z", "flow_run_id": str(run_id)}
    assert api.post("/logs/", json=[extra]).status_code == 201

    def download():
        return api.get(f"/flow_runs/{run_id}/logs/download")

    response = poll(download, lambda r: word in r.text)
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    name = sync_prefect_client.read_flow_run(run_id).name
    assert response.headers["content-disposition"] == (
        f"attachment; filename=\"flow-run-logs.csv\"; filename*=UTF-8''{name}-logs.csv"
    )
    rows = list(csv.reader(io.StringIO(response.text)))
    assert rows[0] == ["timestamp", "level", "flow_run_id", "task_run_id", "message"]
    assert rows[1] == ["2020-01-01 00:00:00+00:00", "40", str(run_id), "", 'a, "quoted"\nline']
    assert any(f"the word is {word}" in row[4] for row in rows[2:])
    assert response.text.startswith("timestamp,level,flow_run_id,task_run_id,message\r\n")
    assert api.get(f"/flow_runs/{uuid4()}/logs/download").status_code == 404
