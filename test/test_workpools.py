"""Work pools, work queues and workers through the official client, CLI and worker.

Uses the harness fixtures of conftest.py: `prefect_client` (async client),
`sync_prefect_client`, `api` (plain httpx on /api) and `cli` (the prefect CLI
against the server under test). Every test uses pool names of its own, so
tests never see each other's objects. Must pass against the Python server
(cell `python`) too.
"""

import uuid

import pytest

from prefect.client.schemas.actions import WorkPoolCreate, WorkPoolUpdate, WorkQueueCreate, WorkQueueUpdate
from prefect.client.schemas.filters import (
    FlowRunFilter,
    FlowRunFilterId,
    WorkPoolFilter,
    WorkPoolFilterName,
    WorkQueueFilter,
    WorkQueueFilterName,
)
from prefect.client.schemas.objects import WorkerStatus, WorkPoolStatus, WorkQueueStatus
from prefect.exceptions import ObjectAlreadyExists, ObjectNotFound, PrefectHTTPStatusError
from prefect.states import Running
from prefect.types._datetime import now


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def scheduled_run(api, flow_id, pool: str, queue: str | None = None) -> dict:
    """A flow run in Scheduled state (due now) on a pool and queue, as a deployment makes them."""
    body = {"flow_id": str(flow_id), "work_pool_name": pool, "state": {"type": "SCHEDULED"}}
    if queue:
        body["work_queue_name"] = queue
    resp = api.post("/flow_runs/", json=body)
    assert resp.status_code == 201, resp.text
    return resp.json()


# ----------------------------------------------------------------------------- CLI


def test_work_pool_cli_lifecycle(cli, sync_prefect_client):
    name = unique("cli-pool")
    code, out, err = cli("work-pool", "create", name, "--type", "process")
    assert code == 0, out + err
    assert "Created work pool" in out

    pool = sync_prefect_client.read_work_pool(name)
    assert pool.type == "process"
    assert pool.status == WorkPoolStatus.NOT_READY
    assert pool.default_queue_id is not None
    # the process worker's default template, from the bundled collection view
    assert "{{ command }}" in str(pool.base_job_template["job_configuration"]["command"])

    code, out, err = cli("work-pool", "ls")
    assert code == 0, out + err
    assert name in out

    code, out, err = cli("work-pool", "inspect", name)
    assert code == 0, out + err
    assert name in out and "process" in out

    code, out, err = cli("work-pool", "pause", name)
    assert code == 0, out + err
    pool = sync_prefect_client.read_work_pool(name)
    assert pool.is_paused and pool.status == WorkPoolStatus.PAUSED

    code, out, err = cli("work-pool", "resume", name)
    assert code == 0, out + err
    pool = sync_prefect_client.read_work_pool(name)
    assert not pool.is_paused and pool.status == WorkPoolStatus.NOT_READY

    code, out, err = cli("work-pool", "delete", name)
    assert code == 0, out + err
    with pytest.raises(ObjectNotFound):
        sync_prefect_client.read_work_pool(name)


def test_work_queue_cli(cli, sync_prefect_client):
    pool = unique("wq-pool")
    sync_prefect_client.create_work_pool(WorkPoolCreate(name=pool, type="process"))
    queue = unique("q")

    code, out, err = cli("work-queue", "create", queue, "--pool", pool, "--limit", "3")
    assert code == 0, out + err

    code, out, err = cli("work-queue", "ls", "--pool", pool)
    assert code == 0, out + err
    assert queue in out and "default" in out

    code, out, err = cli("work-queue", "inspect", queue, "--pool", pool)
    assert code == 0, out + err
    assert queue in out

    code, out, err = cli("work-queue", "pause", queue, "--pool", pool)
    assert code == 0, out + err
    wq = sync_prefect_client.read_work_queue_by_name(queue, work_pool_name=pool)
    assert wq.is_paused and wq.status == WorkQueueStatus.PAUSED and wq.concurrency_limit == 3

    code, out, err = cli("work-queue", "resume", queue, "--pool", pool)
    assert code == 0, out + err
    wq = sync_prefect_client.read_work_queue_by_name(queue, work_pool_name=pool)
    assert not wq.is_paused and wq.status == WorkQueueStatus.NOT_READY


def test_worker_run_once_polls_and_heartbeats(cli, sync_prefect_client):
    """The 3.9.1 worker finds no worker websocket, falls back to REST heartbeats
    and polling, creates its pool with the process worker's template and exits."""
    pool = unique("worker-pool")
    code, out, err = cli("worker", "start", "--pool", pool, "--type", "process", "--run-once", timeout=90)
    assert code == 0, out + err
    assert "Traceback" not in out + err

    wp = sync_prefect_client.read_work_pool(pool)
    assert wp.type == "process" and wp.status == WorkPoolStatus.READY
    workers = sync_prefect_client.read_workers_for_work_pool(pool)
    assert len(workers) == 1
    assert workers[0].status == WorkerStatus.ONLINE
    assert workers[0].heartbeat_interval_seconds == 30
    # the poll marked the pool's default queue ready
    default = sync_prefect_client.read_work_queue(wp.default_queue_id)
    assert default.status == WorkQueueStatus.READY and default.last_polled is not None


# ----------------------------------------------------------------------------- client


def test_pool_crud_and_errors(sync_prefect_client, api):
    name = unique("crud")
    created = sync_prefect_client.create_work_pool(WorkPoolCreate(name=name, type="process", concurrency_limit=2))
    assert created.concurrency_limit == 2 and created.status == WorkPoolStatus.NOT_READY

    with pytest.raises(ObjectAlreadyExists):
        sync_prefect_client.create_work_pool(WorkPoolCreate(name=name, type="process"))
    again = sync_prefect_client.create_work_pool(WorkPoolCreate(name=name, type="process", description="d"), overwrite=True)
    assert again.description == "d" and again.id == created.id

    resp = api.post("/work_pools/", json={"name": "Prefect-Reserved", "type": "process"})
    assert resp.status_code == 403
    assert resp.json() == {"detail": "Work pools starting with 'Prefect' are reserved for internal use."}

    bad = {"job_configuration": {"command": "{{ missing }}"}, "variables": {"properties": {}}}
    resp = api.post("/work_pools/", json={"name": unique("bad"), "type": "process", "base_job_template": bad})
    assert resp.status_code == 422
    assert resp.json()["exception_detail"][0]["loc"] == ["body", "base_job_template"]

    resp = api.get(f"/work_pools/{unique('absent')}")
    assert resp.status_code == 404 and "not found" in resp.json()["detail"]

    sync_prefect_client.update_work_pool(name, WorkPoolUpdate(concurrency_limit=5, description="new"))
    pool = sync_prefect_client.read_work_pool(name)
    assert pool.concurrency_limit == 5 and pool.description == "new"

    listed = sync_prefect_client.read_work_pools(work_pool_filter=WorkPoolFilter(name=WorkPoolFilterName(any_=[name])))
    assert [p.name for p in listed] == [name]
    assert api.post("/work_pools/count", json={"work_pools": {"name": {"any_": [name]}}}).json() == 1

    sync_prefect_client.delete_work_pool(name)
    assert api.post("/work_pools/count", json={"work_pools": {"name": {"any_": [name]}}}).json() == 0


def test_queue_priorities_reorder(sync_prefect_client, api):
    pool = unique("prio")
    sync_prefect_client.create_work_pool(WorkPoolCreate(name=pool, type="process"))
    a = sync_prefect_client.create_work_queue(name="a", work_pool_name=pool)
    b = sync_prefect_client.create_work_queue(name="b", work_pool_name=pool)
    assert (a.priority, b.priority) == (2, 3)  # default has 1

    # taking priority 1 shifts the others down, keeping their order
    c = sync_prefect_client.create_work_queue(name="c", work_pool_name=pool, priority=1)
    queues = sync_prefect_client.read_work_queues(work_pool_name=pool)
    assert [(q.name, q.priority) for q in queues] == [("c", 1), ("default", 2), ("a", 3), ("b", 4)]

    # the pool-scoped PATCH reorders the pool's queues
    resp = api.patch(f"/work_pools/{pool}/queues/b", json={"priority": 1})
    assert resp.status_code == 204, resp.text
    queues = sync_prefect_client.read_work_queues(work_pool_name=pool)
    assert [(q.name, q.priority) for q in queues] == [("b", 1), ("c", 2), ("default", 3), ("a", 4)]

    # the legacy PATCH stores the priority as sent, as Prefect does
    sync_prefect_client.update_work_queue(a.id, priority=2)
    queues = sync_prefect_client.read_work_queues(work_pool_name=pool)
    assert {q.name: q.priority for q in queues} == {"b": 1, "c": 2, "default": 3, "a": 2}

    matched = sync_prefect_client.read_work_queues(
        work_pool_name=pool, work_queue_filter=WorkQueueFilter(name=WorkQueueFilterName(startswith_=["c", "d"]))
    )
    assert sorted(q.name for q in matched) == ["c", "default"]
    assert c.work_pool_name == pool


def test_heartbeat_marks_worker_online_and_pool_ready(sync_prefect_client):
    pool = unique("hb")
    sync_prefect_client.create_work_pool(WorkPoolCreate(name=pool, type="process"))
    sync_prefect_client.send_worker_heartbeat(pool, "w1", heartbeat_interval_seconds=15)
    sync_prefect_client.send_worker_heartbeat(pool, "w1")
    sync_prefect_client.send_worker_heartbeat(pool, "w2")
    workers = sync_prefect_client.read_workers_for_work_pool(pool)
    assert sorted(w.name for w in workers) == ["w1", "w2"]
    by_name = {w.name: w for w in workers}
    assert by_name["w1"].heartbeat_interval_seconds == 15  # kept when not resent
    assert all(w.status == WorkerStatus.ONLINE for w in workers)
    assert sync_prefect_client.read_work_pool(pool).status == WorkPoolStatus.READY

    # paused then resumed with an online worker: READY again
    sync_prefect_client.update_work_pool(pool, WorkPoolUpdate(is_paused=True))
    assert sync_prefect_client.read_work_pool(pool).status == WorkPoolStatus.PAUSED
    sync_prefect_client.update_work_pool(pool, WorkPoolUpdate(is_paused=False))
    assert sync_prefect_client.read_work_pool(pool).status == WorkPoolStatus.READY

    with pytest.raises(PrefectHTTPStatusError) as exc:
        sync_prefect_client.send_worker_heartbeat(unique("absent"), "w1")
    assert exc.value.response.status_code == 404


def test_scheduled_runs_priority_limits_and_filters(sync_prefect_client, api):
    client = sync_prefect_client
    pool = unique("sched")
    client.create_work_pool(WorkPoolCreate(name=pool, type="process"))
    client.create_work_queue(name="high", work_pool_name=pool, priority=1)
    client.create_work_queue(name="low", work_pool_name=pool, concurrency_limit=1)
    flow_id = client.create_flow_from_name(unique("sched-flow"))

    low1 = scheduled_run(api, flow_id, pool, "low")
    low2 = scheduled_run(api, flow_id, pool, "low")
    high = scheduled_run(api, flow_id, pool, "high")
    default = scheduled_run(api, flow_id, pool)  # pool only: its default queue
    assert high["work_pool_name"] == pool and high["work_queue_name"] == "high"
    assert default["work_queue_name"] == "default" and default["work_pool_name"] == pool

    responses = client.get_scheduled_flow_runs_for_work_pool(pool, scheduled_before=now("UTC"))
    ids = [str(r.flow_run.id) for r in responses]
    # priority order: high (1), default (2), low (3, limit 1 -> only its earliest run)
    assert ids[0] == high["id"]
    assert ids[1] == default["id"]
    assert ids[2:] in ([low1["id"]], [low2["id"]])
    assert {str(r.work_queue_id) for r in responses} == {high["work_queue_id"], default["work_queue_id"], low1["work_queue_id"]}

    only_high = client.get_scheduled_flow_runs_for_work_pool(pool, work_queue_names=["high"])
    assert [str(r.flow_run.id) for r in only_high] == [high["id"]]

    # the poll made the queues READY
    queues = {q.name: q for q in client.read_work_queues(work_pool_name=pool)}
    assert all(q.status == WorkQueueStatus.READY for q in queues.values())

    # a paused queue gives nothing; a paused pool gives nothing
    client.update_work_queue(queues["high"].id, is_paused=True)
    ids = [str(r.flow_run.id) for r in client.get_scheduled_flow_runs_for_work_pool(pool)]
    assert high["id"] not in ids and default["id"] in ids
    client.update_work_pool(pool, WorkPoolUpdate(is_paused=True))
    assert client.get_scheduled_flow_runs_for_work_pool(pool) == []

    # flow runs filter by work pool and queue
    runs = client.read_flow_runs(
        work_pool_filter=WorkPoolFilter(name=WorkPoolFilterName(any_=[pool])),
        work_queue_filter=WorkQueueFilter(name=WorkQueueFilterName(any_=["low"])),
    )
    assert sorted(str(r.id) for r in runs) == sorted([low1["id"], low2["id"]])
    run = client.read_flow_runs(flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[uuid.UUID(high["id"])])))[0]
    assert run.work_pool_name == pool


def test_flow_run_create_with_missing_pool_or_queue(sync_prefect_client, api):
    pool = unique("fr")
    sync_prefect_client.create_work_pool(WorkPoolCreate(name=pool, type="process"))
    flow_id = str(sync_prefect_client.create_flow_from_name(unique("fr-flow")))

    resp = api.post("/flow_runs/", json={"flow_id": flow_id, "work_pool_name": pool, "work_queue_name": "nope"})
    assert resp.status_code == 404
    assert resp.json() == {"detail": f"Work pool queue '{pool}/nope' not found."}

    absent = unique("absent")
    resp = api.post("/flow_runs/", json={"flow_id": flow_id, "work_pool_name": absent})
    assert resp.status_code == 404
    assert resp.json() == {"detail": f'Work pool "{absent}" not found.'}


def test_legacy_work_queues(sync_prefect_client, api):
    client = sync_prefect_client
    name = unique("legacy")
    wq = client.create_work_queue(name=name)
    assert wq.work_pool_name == "default-agent-pool"
    assert client.read_work_queue_by_name(name).id == wq.id
    assert client.read_work_queue(wq.id).name == name

    with pytest.raises(ObjectAlreadyExists):
        client.create_work_queue(name=name)

    client.update_work_queue(wq.id, concurrency_limit=4, description="legacy queue")
    got = client.read_work_queue(wq.id)
    assert got.concurrency_limit == 4 and got.description == "legacy queue"

    assert client.get_runs_in_work_queue(wq.id) == []
    status = client.read_work_queue_status(wq.id)
    assert status.late_runs_count == 0
    assert client.read_work_queue(wq.id).status == WorkQueueStatus.READY  # the poll above

    client.delete_work_queue_by_id(wq.id)
    with pytest.raises(ObjectNotFound):
        client.read_work_queue(wq.id)
    assert api.get(f"/work_queues/{uuid.uuid4()}").status_code == 404


def test_legacy_queue_filters_pick_deployment_runs(sync_prefect_client, api):
    """A legacy queue with the deprecated tag/deployment filter hands out the matching
    deployment runs of any queue; work_queue_check lists the filtered queues that would."""
    from prefect.client.schemas.objects import QueueFilter

    client = sync_prefect_client
    tag, other = unique("tag"), unique("tag")
    flow_id = client.create_flow_from_name(unique("legacy-flow"))
    dep_id = client.create_deployment(flow_id=flow_id, name=unique("legacy-dep"), tags=[tag, "more"], parameter_openapi_schema={})
    by_tag = client.create_work_queue(name=unique("by-tag"))
    client.update_work_queue(by_tag.id, filter=QueueFilter(tags=[tag]))
    by_dep = client.create_work_queue(name=unique("by-dep"))
    client.update_work_queue(by_dep.id, filter=QueueFilter(deployment_ids=[dep_id]))
    no_match = client.create_work_queue(name=unique("no-match"))
    client.update_work_queue(no_match.id, filter=QueueFilter(tags=[tag, other]))
    assert client.read_work_queue(by_tag.id).filter.tags == [tag]

    run = client.create_flow_run_from_deployment(dep_id)
    # a run with the tag but no deployment is never in a legacy queue
    api.post("/flow_runs/", json={"flow_id": str(flow_id), "tags": [tag], "state": {"type": "SCHEDULED"}})

    assert [r.id for r in client.get_runs_in_work_queue(by_tag.id)] == [run.id]
    assert [r.id for r in client.get_runs_in_work_queue(by_dep.id)] == [run.id]
    assert client.get_runs_in_work_queue(no_match.id) == []

    # the filter's concurrency limit counts its own PENDING/RUNNING runs
    client.update_work_queue(by_tag.id, concurrency_limit=1)
    busy = client.create_flow_run_from_deployment(dep_id)
    client.set_flow_run_state(busy.id, Running(), force=True)
    assert client.get_runs_in_work_queue(by_tag.id) == []

    checked = {q["name"] for q in api.get(f"/deployments/{dep_id}/work_queue_check").json()}
    assert {by_tag.name, by_dep.name} <= checked and no_match.name not in checked
    assert api.get(f"/deployments/{uuid.uuid4()}/work_queue_check").json() == {"detail": "Deployment not found"}


def test_collection_view_bundled(api):
    resp = api.get("/collections/views/aggregate-worker-metadata")
    assert resp.status_code == 200
    process = resp.json()["prefect"]["process"]
    assert process["type"] == "process"
    assert "job_configuration" in process["default_base_job_configuration"]
    assert api.get("/collections/views/not-a-view").status_code == 404


def test_concurrency_status(sync_prefect_client, api):
    client = sync_prefect_client
    pool = unique("conc")
    client.create_work_pool(WorkPoolCreate(name=pool, type="process", concurrency_limit=4))
    wq = client.create_work_queue(name="busy", work_pool_name=pool, concurrency_limit=2)
    flow_id = client.create_flow_from_name(unique("conc-flow"))
    running = []
    for _ in range(3):
        run = scheduled_run(api, flow_id, pool, "busy")
        resp = api.post(f"/flow_runs/{run['id']}/set_state", json={"state": {"type": "RUNNING"}, "force": True})
        assert resp.status_code == 201, resp.text
        running.append(run["id"])

    status = client.read_work_pool_concurrency_status(pool, flow_run_limit=2)
    assert status.active_slots == 3 and status.concurrency_limit == 4
    assert status.count == 2 and status.page == 1
    busy = next(q for q in status.queues if q.queue_name == "busy")
    assert busy.active_slots == 3 and busy.flow_run_count == 3 and busy.concurrency_limit == 2
    assert len(busy.flow_runs) == 2 and all(r.state_name == "Running" for r in busy.flow_runs)

    qstatus = client.read_work_queue_concurrency_status(wq.id, limit=2)
    assert qstatus.active_slots == 3 and qstatus.count == 3 and qstatus.pages == 2
    assert {str(r.id) for r in qstatus.flow_runs} <= set(running) and len(qstatus.flow_runs) == 2
    assert client.read_work_pool(pool).active_slots == 3


def test_server_side_events(sync_prefect_client, api):
    """Pool and queue lifecycle events, as Prefect's server emits them."""
    import time

    client = sync_prefect_client
    pool = unique("events")
    created = client.create_work_pool(WorkPoolCreate(name=pool, type="process"))
    wq = client.create_work_queue(name="eq", work_pool_name=pool)
    client.send_worker_heartbeat(pool, "w1")
    client.update_work_pool(pool, WorkPoolUpdate(description="changed"))
    client.delete_work_queue_by_id(wq.id)

    want = {
        "prefect.work-pool.created",
        "prefect.work-pool.not-ready",
        "prefect.work-pool.ready",
        "prefect.work-pool.updated",
        "prefect.work-queue.created",
        "prefect.work-queue.deleted",
    }
    body = {"filter": {"any_resource": {"id": [f"prefect.work-pool.{created.id}", f"prefect.work-queue.{wq.id}"]}}, "limit": 50}
    deadline = time.monotonic() + 30
    while True:
        resp = api.post("/events/filter", json=body)
        assert resp.status_code == 200, resp.text
        events = resp.json()["events"]
        names = {e["event"] for e in events}
        if want <= names or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert want <= names, names

    by_name = {e["event"]: e for e in events}
    ready = by_name["prefect.work-pool.ready"]
    assert ready["resource"]["prefect.resource.name"] == pool
    assert ready["resource"]["prefect.work-pool.type"] == "process"
    updated = by_name["prefect.work-pool.updated"]
    assert updated["payload"]["updated_fields"] == ["description"]
    assert updated["payload"]["updates"]["description"] == {"from": None, "to": "changed"}
    queue_created = by_name["prefect.work-queue.created"]
    assert queue_created["related"][0]["prefect.resource.id"] == f"prefect.work-pool.{created.id}"
    assert queue_created["related"][0]["prefect.resource.role"] == "work-pool"
