"""The events API through the official client: emit_event and the events
websocket client (PrefectEventsClient), the subscriber (get_events_subscriber),
`prefect events stream`, and the HTTP endpoints the UI reads.

Uses the harness fixtures of conftest.py: `prefect_client` (an async
PrefectClient on the server under test; its HTTP client is used for the
endpoints the client library has no method for) and `cli`. emit_event reads
PREFECT_API_URL, which the harness points at the server. Client processes
started here get the same URL from `prefect_client.api_url`.
"""

import asyncio
import json
import os
import subprocess
import sys
import time
import uuid
from datetime import datetime, timedelta, timezone

import pytest

from prefect.events import emit_event
from prefect.exceptions import PrefectHTTPStatusError
from prefect.events.clients import get_events_subscriber
from prefect.events.filters import EventFilter, EventNameFilter


def unique(prefix: str) -> str:
    """An event name no other test uses."""
    return f"test.{prefix}.{uuid.uuid4().hex[:12]}"


def api_url(prefect_client) -> str:
    return str(prefect_client.api_url).rstrip("/")


async def read_events(prefect_client, name_prefix: str, limit: int = 50) -> dict:
    response = await prefect_client._client.post(
        "/events/filter",
        json={"filter": {"event": {"prefix": [name_prefix]}}, "limit": limit},
    )
    response.raise_for_status()
    return response.json()


async def wait_for_total(prefect_client, name_prefix: str, want: int, timeout: float = 60) -> dict:
    """Polls until the persister has stored `want` matching events."""
    deadline = time.monotonic() + timeout
    page = await read_events(prefect_client, name_prefix)
    while page["total"] != want and time.monotonic() < deadline:
        await asyncio.sleep(0.2)
        page = await read_events(prefect_client, name_prefix)
    assert page["total"] == want, f"{page['total']} events stored, want {want}"
    return page


async def test_emit_event_is_stored_and_read_back(prefect_client):
    name = unique("emit")
    flow_id = str(uuid.uuid4())
    emitted = emit_event(
        event=name,
        resource={"prefect.resource.id": f"test.resource.{flow_id}", "prefect.resource.name": "thing"},
        related=[{"prefect.resource.id": f"prefect.flow.{flow_id}", "prefect.resource.role": "flow"}],
        payload={"answer": 42, "nested": {"list": [1, "two"]}},
    )
    assert emitted is not None

    page = await wait_for_total(prefect_client, name, 1)
    stored = page["events"][0]
    assert stored["id"] == str(emitted.id)
    assert stored["event"] == name
    assert stored["resource"] == {
        "prefect.resource.id": f"test.resource.{flow_id}",
        "prefect.resource.name": "thing",
    }
    assert stored["related"] == [
        {"prefect.resource.id": f"prefect.flow.{flow_id}", "prefect.resource.role": "flow"}
    ]
    assert stored["payload"] == {"answer": 42, "nested": {"list": [1, "two"]}}
    assert stored["received"] and stored["follows"] is None
    assert page["next_page"] is None

    # The related-resource filter the UI uses finds it too.
    response = await prefect_client._client.post(
        "/events/filter",
        json={"filter": {"related": {"id": [f"prefect.flow.{flow_id}"]}}},
    )
    assert [e["id"] for e in response.json()["events"]] == [str(emitted.id)]


async def test_subscriber_sees_live_events(prefect_client):
    name = unique("live")
    subscription = EventFilter(event=EventNameFilter(prefix=[name]))
    async with get_events_subscriber(filter=subscription) as subscriber:
        emitted = emit_event(event=f"{name}.one", resource={"prefect.resource.id": "test.live"})
        received = await asyncio.wait_for(subscriber.__anext__(), timeout=30)
    assert received.id == emitted.id
    assert received.event == f"{name}.one"


async def test_cli_stream_sees_a_live_event(prefect_client):
    name = unique("cli-stream")
    env = {**os.environ, "PREFECT_API_URL": api_url(prefect_client)}

    def stream() -> None:
        proc = subprocess.Popen(
            [sys.executable, "-m", "prefect", "events", "stream", "--format", "json"],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env=env,
        )
        try:
            assert "Subscribing to event stream" in proc.stdout.readline()
            time.sleep(1)  # the subscriber has sent its filter by now
            event_id = emit_event(event=name, resource={"prefect.resource.id": "test.cli"}).id
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                line = proc.stdout.readline()
                if name in line:
                    assert json.loads(line)["id"] == str(event_id)
                    return
            pytest.fail("the streamed event never arrived")
        finally:
            proc.kill()
            proc.wait()

    await asyncio.to_thread(stream)


async def test_cli_emit_is_stored(prefect_client, cli):
    name = unique("cli-emit")
    code, out, err = cli(
        "events", "emit", name, "--resource-id", "test.cli-emit", "--payload", '{"a": [1, 2]}'
    )
    assert code == 0, (out, err)
    page = await wait_for_total(prefect_client, name, 1)
    assert page["events"][0]["resource"] == {"prefect.resource.id": "test.cli-emit"}
    assert page["events"][0]["payload"] == {"a": [1, 2]}


async def test_post_events_count_and_pages(prefect_client):
    name = unique("post")
    now = datetime.now(timezone.utc)
    events = [
        {
            "occurred": (now - timedelta(seconds=30 - i)).isoformat(),
            "event": f"{name}.{'even' if i % 2 == 0 else 'odd'}",
            "resource": {"prefect.resource.id": f"test.post.{i % 3}"},
            "id": str(uuid.uuid4()),
        }
        for i in range(7)
    ]
    response = await prefect_client._client.post("/events", json=events)
    assert response.status_code == 204
    await wait_for_total(prefect_client, name, 7)

    response = await prefect_client._client.post(
        "/events/count-by/event",
        json={"filter": {"event": {"prefix": [name]}}},
    )
    assert [(c["value"], c["count"]) for c in response.json()] == [
        (f"{name}.even", 4),
        (f"{name}.odd", 3),
    ]

    page = await read_events(prefect_client, name, limit=3)
    seen = [e["id"] for e in page["events"]]
    while page["next_page"]:
        response = await prefect_client._client.get(page["next_page"])
        page = response.json()
        seen += [e["id"] for e in page["events"]]
    assert sorted(seen) == sorted(e["id"] for e in events)

    with pytest.raises(PrefectHTTPStatusError) as invalid:
        await prefect_client._client.post("/events", json=[{"event": "x"}])
    assert invalid.value.response.status_code == 422


BURST_CLIENT = """
import asyncio, sys, uuid
from prefect.events import Event
from prefect.events.clients import get_events_client

async def main(name, count):
    async with get_events_client() as client:
        for i in range(count):
            event = Event(event=name, resource={"prefect.resource.id": f"test.burst.{i % 50}"},
                          payload={"i": i}, id=uuid.uuid4())
            await client.emit(event)
            print(event.id)

asyncio.run(main(sys.argv[1], int(sys.argv[2])))
"""


async def test_burst_from_several_processes_is_stored_exactly_once(prefect_client, tmp_path):
    """20,000 events from 4 client processes at once: each is stored once."""
    name = unique("burst")
    processes, per_process = 4, 5000
    env = {**os.environ, "PREFECT_API_URL": api_url(prefect_client)}
    outputs = [tmp_path / f"ids-{i}.txt" for i in range(processes)]
    procs = []
    for out in outputs:
        with open(out, "w") as f:
            procs.append(
                subprocess.Popen(
                    [sys.executable, "-c", BURST_CLIENT, name, str(per_process)],
                    stdout=f,
                    env=env,
                )
            )
    for proc in procs:
        assert await asyncio.to_thread(proc.wait, 300) == 0
    sent = set()
    for out in outputs:
        sent |= set(out.read_text().split())
    assert len(sent) == processes * per_process

    await wait_for_total(prefect_client, name, len(sent), timeout=120)
    # Stays exactly there: no event is stored twice.
    await asyncio.sleep(1)
    assert (await read_events(prefect_client, name))["total"] == len(sent)
    response = await prefect_client._client.post(
        "/events/count-by/resource",
        json={"filter": {"event": {"name": [name]}}},
    )
    counts = response.json()
    assert len(counts) == 50 and sum(c["count"] for c in counts) == len(sent)
