"""Flows through the official client and CLI.

All tests share one server, so each one makes its own names (a random suffix) and filters by them.
"""

import json
from uuid import UUID, uuid4

import pytest
from prefect.client.schemas.filters import FlowFilter, FlowFilterId, FlowFilterName, FlowFilterTags
from prefect.client.schemas.sorting import FlowSort
from prefect.exceptions import ObjectNotFound, PrefectHTTPStatusError


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid4().hex[:8]}"


async def create_flow(client, name: str, tags: list[str] | None = None) -> UUID:
    """POST /flows/ with tags: the client's create_flow_from_name cannot set them."""
    response = await client._client.post("/flows/", json={"name": name, "tags": tags or []})
    return UUID(response.json()["id"])


async def test_create_flow_from_name_is_idempotent(prefect_client):
    name = unique("idem")
    first = await prefect_client.create_flow_from_name(name)
    second = await prefect_client.create_flow_from_name(name)
    assert isinstance(first, UUID)
    assert first == second


async def test_create_existing_name_keeps_the_first_flow(prefect_client):
    name = unique("keep")
    created = await prefect_client._client.post("/flows/", json={"name": name, "tags": ["a"]})
    again = await prefect_client._client.post("/flows/", json={"name": name, "tags": ["b"]})
    assert (created.status_code, again.status_code) == (201, 200)
    assert again.json()["id"] == created.json()["id"]
    assert again.json()["tags"] == ["a"]


async def test_read_flow(prefect_client):
    name = unique("read")
    flow_id = await create_flow(prefect_client, name, tags=["x", "y"])
    flow = await prefect_client.read_flow(flow_id)
    assert flow.id == flow_id
    assert flow.name == name
    assert flow.tags == ["x", "y"]
    assert flow.labels == {}
    assert flow.created is not None and flow.created.tzinfo is not None
    assert flow.updated >= flow.created


async def test_read_flow_by_name(prefect_client):
    name = unique("by name")  # a space, so the path is percent-encoded
    flow_id = await prefect_client.create_flow_from_name(name)
    flow = await prefect_client.read_flow_by_name(name)
    assert (flow.id, flow.name) == (flow_id, name)


async def test_read_flows_by_name(prefect_client):
    names = [unique("names") for _ in range(3)]
    ids = {name: await prefect_client.create_flow_from_name(name) for name in names}
    flows = await prefect_client.read_flows(flow_filter=FlowFilter(name=FlowFilterName(any_=names[:2])))
    assert {f.name: f.id for f in flows} == {n: ids[n] for n in names[:2]}


async def test_read_flows_like_and_id(prefect_client):
    prefix = unique("like")
    ids = [await prefect_client.create_flow_from_name(f"{prefix}-{i}") for i in range(3)]
    flows = await prefect_client.read_flows(flow_filter=FlowFilter(name=FlowFilterName(like_=prefix.upper())))
    assert sorted(f.id for f in flows) == sorted(ids)  # like_ is case-insensitive
    flows = await prefect_client.read_flows(
        flow_filter=FlowFilter(id=FlowFilterId(any_=[ids[1]]), name=FlowFilterName(like_=prefix))
    )
    assert [f.id for f in flows] == [ids[1]]


async def test_read_flows_by_tags(prefect_client):
    prefix = unique("tags")
    tag = unique("tag")
    both = await create_flow(prefect_client, f"{prefix}-both", tags=[tag, "other"])
    one = await create_flow(prefect_client, f"{prefix}-one", tags=[tag])
    none = await create_flow(prefect_client, f"{prefix}-none")
    by_prefix = FlowFilterName(like_=prefix)

    flows = await prefect_client.read_flows(flow_filter=FlowFilter(name=by_prefix, tags=FlowFilterTags(all_=[tag])))
    assert {f.id for f in flows} == {both, one}
    flows = await prefect_client.read_flows(
        flow_filter=FlowFilter(name=by_prefix, tags=FlowFilterTags(all_=[tag, "other"]))
    )
    assert [f.id for f in flows] == [both]
    flows = await prefect_client.read_flows(flow_filter=FlowFilter(name=by_prefix, tags=FlowFilterTags(is_null_=True)))
    assert [f.id for f in flows] == [none]


async def test_read_flows_sort_limit_offset(prefect_client):
    prefix = unique("sort")
    names = [f"{prefix}-{c}" for c in "acbed"]
    for name in names:
        await prefect_client.create_flow_from_name(name)
    mine = FlowFilter(name=FlowFilterName(like_=prefix))

    default = await prefect_client.read_flows(flow_filter=mine)
    assert [f.name for f in default] == sorted(names)  # NAME_ASC by default
    desc = await prefect_client.read_flows(flow_filter=mine, sort=FlowSort.NAME_DESC)
    assert [f.name for f in desc] == sorted(names, reverse=True)
    page = await prefect_client.read_flows(flow_filter=mine, sort=FlowSort.NAME_DESC, limit=2, offset=1)
    assert [f.name for f in page] == sorted(names, reverse=True)[1:3]
    newest = await prefect_client.read_flows(flow_filter=mine, sort=FlowSort.CREATED_DESC, limit=1)
    assert [f.name for f in newest] == [names[-1]]
    assert await prefect_client.read_flows(flow_filter=mine, offset=5) == []


async def test_missing_flow_is_404(prefect_client):
    # In 3.9.1 read_flow and read_flow_by_name pass the 404 through as PrefectHTTPStatusError;
    # only delete_flow turns it into ObjectNotFound.
    with pytest.raises(PrefectHTTPStatusError) as info:
        await prefect_client.read_flow(uuid4())
    assert info.value.response.status_code == 404
    assert info.value.response.json() == {"detail": "Flow not found"}
    with pytest.raises(PrefectHTTPStatusError) as info:
        await prefect_client.read_flow_by_name(unique("missing"))
    assert info.value.response.status_code == 404
    with pytest.raises(ObjectNotFound) as not_found:
        await prefect_client.delete_flow(uuid4())
    assert not_found.value.http_exc.response.status_code == 404


async def test_invalid_flow_is_422(prefect_client):
    with pytest.raises(PrefectHTTPStatusError) as info:
        await prefect_client._client.post("/flows/", json={"name": 5})
    response = info.value.response
    assert response.status_code == 422
    body = response.json()
    assert body == {
        "exception_message": "Invalid request received.",
        "exception_detail": [
            {"type": "string_type", "loc": ["body", "name"], "msg": "Input should be a valid string", "input": 5}
        ],
        "request_body": {"name": 5},
    }


async def test_delete_flow(prefect_client):
    flow_id = await prefect_client.create_flow_from_name(unique("delete"))
    await prefect_client.delete_flow(flow_id)
    with pytest.raises(PrefectHTTPStatusError, match="404"):
        await prefect_client.read_flow(flow_id)
    with pytest.raises(ObjectNotFound):
        await prefect_client.delete_flow(flow_id)
    flows = await prefect_client.read_flows(flow_filter=FlowFilter(id=FlowFilterId(any_=[flow_id])))
    assert flows == []


def test_sync_client_flows(sync_prefect_client):
    name = unique("sync")
    flow_id = sync_prefect_client.create_flow_from_name(name)
    assert sync_prefect_client.read_flow(flow_id).name == name
    assert sync_prefect_client.read_flow_by_name(name).id == flow_id
    flows = sync_prefect_client.read_flows(flow_filter=FlowFilter(name=FlowFilterName(any_=[name])))
    assert [f.id for f in flows] == [flow_id]


async def test_cli_flow_ls(prefect_client, cli):
    names = [unique("cli") for _ in range(2)]
    for name in names:
        await prefect_client.create_flow_from_name(name)
    code, stdout, stderr = cli("flow", "ls", "--limit", "50")
    assert code == 0, stderr
    for name in names:
        assert name in stdout

    code, stdout, stderr = cli("flow", "ls", "--limit", "50", "--output", "json")
    assert code == 0, stderr
    listed = {f["name"] for f in json.loads(stdout)}
    assert set(names) <= listed
