"""Logs and artifacts through the official client: the orchestration
client's create_logs/read_logs, the prefect.artifacts helpers, Artifact.get,
read_artifacts/read_latest_artifacts and the `prefect artifact` CLI.

Uses the harness fixtures of conftest.py: `prefect_client`,
`sync_prefect_client`, `api` (plain httpx on /api) and `cli`.
"""

import json
import uuid
from datetime import datetime, timedelta, timezone

import pytest

from prefect.artifacts import (
    Artifact,
    acreate_markdown_artifact,
    create_image_artifact,
    create_link_artifact,
    create_markdown_artifact,
    create_progress_artifact,
    create_table_artifact,
    update_progress_artifact,
)
from prefect.client.schemas.actions import LogCreate
from prefect.client.schemas.filters import (
    ArtifactCollectionFilter,
    ArtifactCollectionFilterKey,
    ArtifactFilter,
    ArtifactFilterKey,
    ArtifactFilterType,
    LogFilter,
    LogFilterFlowRunId,
    LogFilterLevel,
    LogFilterTaskRunId,
    LogFilterTimestamp,
)
from prefect.client.schemas.sorting import ArtifactSort, LogSort

T0 = datetime(2024, 5, 1, 12, 0, 0, tzinfo=timezone.utc)


def unique(prefix: str) -> str:
    """An artifact key no other test uses (lowercase letters, digits, dashes)."""
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


@pytest.fixture
def run_logs(sync_prefect_client):
    """Five logs of one (fake) flow run, one of them from a task run."""
    flow_run_id, task_run_id = uuid.uuid4(), uuid.uuid4()
    logs = [
        LogCreate(name="prefect.flow_runs", level=level, message=msg, timestamp=T0 + timedelta(seconds=i),
                  flow_run_id=flow_run_id, task_run_id=task_run_id if i == 2 else None)
        for i, (level, msg) in enumerate([(10, "debug line"), (20, "Hello world"), (30, "task warning"),
                                          (40, "an ERROR happened"), (50, "critical\x00 stop")])
    ]
    sync_prefect_client.create_logs(logs)
    return flow_run_id, task_run_id


def messages(logs) -> list[str]:
    return [log.message for log in logs]


def test_create_and_read_logs(sync_prefect_client, run_logs):
    flow_run_id, task_run_id = run_logs
    by_run = LogFilter(flow_run_id=LogFilterFlowRunId(any_=[flow_run_id]))
    logs = sync_prefect_client.read_logs(log_filter=by_run)
    assert messages(logs) == ["debug line", "Hello world", "task warning", "an ERROR happened", "critical stop"]
    assert logs[0].flow_run_id == flow_run_id and logs[0].task_run_id is None
    assert logs[0].timestamp == T0 and logs[0].name == "prefect.flow_runs" and logs[0].level == 10
    assert logs[2].task_run_id == task_run_id
    assert len({log.id for log in logs}) == 5


@pytest.mark.parametrize(
    "extra, sort, limit, offset, want",
    [
        ({"level": LogFilterLevel(ge_=30)}, None, None, None, ["task warning", "an ERROR happened", "critical stop"]),
        ({"level": LogFilterLevel(ge_=20, le_=30)}, None, None, None, ["Hello world", "task warning"]),
        ({"task_run_id": LogFilterTaskRunId(any_=[])}, None, None, None, []),
        ({"timestamp": LogFilterTimestamp(after_=T0 + timedelta(seconds=1), before_=T0 + timedelta(seconds=2))},
         None, None, None, ["Hello world", "task warning"]),
        ({}, LogSort.TIMESTAMP_DESC, 2, 1, ["an ERROR happened", "task warning"]),
    ],
)
def test_log_filters(sync_prefect_client, run_logs, extra, sort, limit, offset, want):
    flow_run_id, _ = run_logs
    f = LogFilter(flow_run_id=LogFilterFlowRunId(any_=[flow_run_id]), **extra)
    logs = sync_prefect_client.read_logs(log_filter=f, sort=sort, limit=limit, offset=offset)
    assert messages(logs) == want


def test_log_task_run_and_text_filters(api, run_logs):
    flow_run_id, task_run_id = run_logs
    tests = [
        ({"task_run_id": {"any_": [str(task_run_id)]}}, ["task warning"]),
        ({"task_run_id": {"is_null_": False}}, ["task warning"]),
        ({"task_run_id": {"is_null_": True}, "level": {"le_": 20}}, ["debug line", "Hello world"]),
        ({"text": {"query": "error -debug"}}, ["an ERROR happened"]),
        ({"text": {"query": '"hello world"'}}, ["Hello world"]),
        ({"operator": "or_", "level": {"ge_": 50}, "task_run_id": {"is_null_": False}}, ["task warning", "critical stop"]),
    ]
    for give, want in tests:
        body = {"logs": {"flow_run_id": {"any_": [str(flow_run_id)]}, **give}}
        if give.get("operator") == "or_":  # keep the run restriction outside the or_
            body = {"logs": give}
        resp = api.post("/logs/filter", json=body)
        assert resp.status_code == 200, resp.text
        got = [log["message"] for log in resp.json() if log["flow_run_id"] == str(flow_run_id)]
        assert got == want, give


def test_log_errors(api):
    resp = api.post("/logs/", json=[{"name": "x", "level": 20, "timestamp": T0.isoformat()}])
    assert resp.status_code == 422
    assert resp.json()["exception_detail"][0]["loc"] == ["body", 0, "message"]
    assert api.post("/logs/", json={"name": "x"}).status_code == 422
    assert api.post("/logs/filter", json={"sort": "NOPE"}).status_code == 422
    assert api.post("/logs/filter", json={"limit": 10_000}).status_code == 422
    resp = api.post("/logs/", json=[])
    assert resp.status_code == 201 and resp.json() is None


def test_artifact_kinds(sync_prefect_client):
    keys = {kind: unique(kind) for kind in ("markdown", "table", "link", "progress", "image")}
    create_markdown_artifact("# Title", key=keys["markdown"], description="md")
    create_table_artifact([{"a": 1, "b": "x"}, {"a": 2, "b": None}], key=keys["table"])
    create_link_artifact("https://example.com", link_text="Example", key=keys["link"])
    progress_id = create_progress_artifact(10.0, key=keys["progress"])
    create_image_artifact("https://example.com/a.png", key=keys["image"])
    update_progress_artifact(progress_id, 55.5, description="halfway")

    got = {a.key: a for a in sync_prefect_client.read_artifacts(
        artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=list(keys.values()))))}
    assert set(got) == set(keys.values())
    assert got[keys["markdown"]].type == "markdown" and got[keys["markdown"]].data == "# Title"
    assert got[keys["markdown"]].description == "md"
    assert got[keys["table"]].type == "table"
    assert json.loads(got[keys["table"]].data) == [{"a": 1, "b": "x"}, {"a": 2, "b": None}]
    assert got[keys["link"]].type == "markdown" and got[keys["link"]].data == "[Example](https://example.com)"
    assert got[keys["progress"]].type == "progress" and got[keys["progress"]].data == 55.5
    assert got[keys["progress"]].description == "halfway"
    assert got[keys["image"]].type == "image" and got[keys["image"]].data == "https://example.com/a.png"
    assert all(a.flow_run_id is None and a.task_run_id is None for a in got.values())

    fetched = Artifact.get(keys["progress"])
    assert fetched is not None and fetched.data == 55.5
    assert Artifact.get(unique("missing")) is None

    by_type = sync_prefect_client.read_artifacts(
        artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=list(keys.values())), type=ArtifactFilterType(any_=["markdown"])),
        sort=ArtifactSort.KEY_ASC)
    assert [a.key for a in by_type] == sorted([keys["markdown"], keys["link"]])


async def test_latest_artifact_by_key(prefect_client, api):
    key = unique("versions")
    first = await acreate_markdown_artifact("v1", key=key)
    second = await acreate_markdown_artifact("v2", key=key)
    unkeyed = await acreate_markdown_artifact("no key")

    latest = await prefect_client.read_latest_artifacts(
        artifact_filter=ArtifactCollectionFilter(key=ArtifactCollectionFilterKey(any_=[key])))
    assert [(c.key, c.latest_id, c.data) for c in latest] == [(key, second, "v2")]
    resp = api.get(f"/artifacts/{key}/latest")
    assert resp.status_code == 200 and resp.json()["data"] == "v2" and resp.json()["key"] == key
    count = api.post("/artifacts/latest/count", json={"artifacts": {"key": {"any_": [key]}}})
    assert count.json() == 1
    assert api.post("/artifacts/count", json={"artifacts": {"key": {"any_": [key]}}}).json() == 2
    assert (await prefect_client.read_artifacts(
        artifact_filter=ArtifactFilter(id={"any_": [unkeyed]})))[0].key is None

    # updating the latest updates the collection; deleting it falls back to v1
    resp = api.patch(f"/artifacts/{second}", json={"data": "v2 edited", "description": "edited"})
    assert resp.status_code == 204
    assert api.get(f"/artifacts/{key}/latest").json()["data"] == "v2 edited"
    await prefect_client.delete_artifact(second)
    latest = api.get(f"/artifacts/{key}/latest").json()
    assert latest["data"] == "v1" and latest["description"] is None
    assert api.post("/artifacts/latest/filter", json={"artifacts": {"latest_id": {"any_": [str(first)]}}}).json()[0]["key"] == key

    await prefect_client.delete_artifact(first)
    assert api.get(f"/artifacts/{key}/latest").status_code == 404
    assert api.post("/artifacts/latest/count", json={"artifacts": {"key": {"any_": [key]}}}).json() == 0
    await prefect_client.delete_artifact(unkeyed)


def test_artifact_errors(api):
    missing = uuid.uuid4()
    tests = [
        ("GET", f"/artifacts/{missing}", None, 404, "Artifact not found."),
        ("PATCH", f"/artifacts/{missing}", {"data": 1}, 404, "Artifact not found."),
        ("DELETE", f"/artifacts/{missing}", None, 404, "Artifact not found."),
        ("GET", f"/artifacts/{unique('none')}/latest", None, 404, "Artifact not found."),
        ("GET", "/artifacts/not-a-uuid", None, 404, "Not Found"),
    ]
    for method, path, body, status, detail in tests:
        resp = api.request(method, path, json=body)
        assert (resp.status_code, resp.json()["detail"]) == (status, detail), (method, path)
    resp = api.post("/artifacts/", json={"key": "Not_Valid"})
    assert resp.status_code == 422
    assert resp.json()["exception_detail"][0]["loc"] == ["body", "key"]
    assert api.post("/artifacts/", json={"bogus": 1}).status_code == 422
    assert api.patch(f"/artifacts/{missing}", json={"key": "x"}).status_code == 422
    assert api.post("/artifacts/filter", json={"sort": "NOPE"}).status_code == 422
    # related filters on runs and flows: these artifacts have no run, so none match
    assert api.post("/artifacts/filter", json={"flow_runs": {}}).json() == []
    assert api.post("/artifacts/count", json={"flows": {}}).json() == 0


def test_artifact_cli(cli):
    key = unique("cli")
    create_markdown_artifact("one", key=key)
    create_table_artifact([[1, 2]], key=key)

    ls = cli("artifact", "ls")
    assert ls.code == 0, ls.stderr
    assert key in ls.stdout
    ls_json = cli("artifact", "ls", "--all", "--output", "json")
    assert ls_json.code == 0, ls_json.stderr
    assert sum(1 for a in json.loads(ls_json.stdout) if a["key"] == key) == 2

    inspect = cli("artifact", "inspect", key, "--output", "json")
    assert inspect.code == 0, inspect.stderr
    got = json.loads(inspect.stdout)
    assert [a["type"] for a in got] == ["table", "markdown"]

    deleted = cli("artifact", "delete", key)
    assert deleted.code == 0, deleted.stdout + deleted.stderr
    assert "Deleted 2 artifact(s)" in deleted.stdout
    gone = cli("artifact", "inspect", key)
    assert gone.code == 1
    assert key not in cli("artifact", "ls").stdout
