"""Automations through the official client: prefect.automations.Automation,
the orchestration client, the `prefect automation` CLI, and deployment
triggers (whose automations `prefect deployment inspect` lists).

Uses the harness fixtures of conftest.py: `sync_prefect_client`, `api` (a
plain httpx client on /api) and `cli`.
"""

import json
import time
import uuid
from datetime import timedelta

import pytest

from prefect.automations import Automation, DoNothing, EventTrigger, Posture
from prefect.events.actions import PauseDeployment
from prefect.exceptions import PrefectHTTPStatusError


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def failed_flow_runs_trigger(**kwargs) -> EventTrigger:
    return EventTrigger(
        expect={"prefect.flow-run.Failed"},
        match={"prefect.resource.id": "prefect.flow-run.*"},
        posture=Posture.Reactive,
        threshold=1,
        within=timedelta(0),
        **kwargs,
    )


def test_create_read_update_pause_resume_delete():
    name = unique("crud")
    created = Automation(
        name=name,
        description="on failures",
        trigger=failed_flow_runs_trigger(for_each={"prefect.resource.id"}),
        actions=[DoNothing()],
    ).create()
    assert created.id is not None and created.enabled

    by_id = Automation.read(id=created.id)
    by_name = Automation.read(name=name)
    assert by_id.id == by_name.id == created.id
    assert by_id.description == "on failures"
    assert by_id.trigger.expect == {"prefect.flow-run.Failed"}
    assert by_id.trigger.for_each == {"prefect.resource.id"}
    assert by_id.trigger.posture == Posture.Reactive
    assert [a.type for a in by_id.actions] == ["do-nothing"]

    by_id.description = "changed"
    by_id.update()
    assert Automation.read(id=created.id).description == "changed"

    assert by_id.disable() is True
    assert Automation.read(id=created.id).enabled is False
    assert by_id.enable() is True
    assert Automation.read(id=created.id).enabled is True

    assert by_id.delete() is True
    assert by_id.delete() is False
    with pytest.raises(ValueError):
        Automation.read(id=created.id)


def test_client_filter_and_invalid_automations(sync_prefect_client, api):
    from prefect.events.schemas.automations import AutomationCore

    name = unique("client")
    automation_id = sync_prefect_client.create_automation(
        AutomationCore(name=name, trigger=failed_flow_runs_trigger(), actions=[DoNothing()])
    )
    found = sync_prefect_client.read_automations_by_name(name)
    assert [a.id for a in found] == [automation_id]
    assert automation_id in [a.id for a in sync_prefect_client.read_automations()]

    # A proactive trigger needs a window of at least 10 seconds.
    res = api.post(
        "/automations/",
        json={
            "name": name,
            "trigger": {"type": "event", "posture": "Proactive", "within": 5},
            "actions": [],
        },
    )
    assert res.status_code == 422
    detail = res.json()["exception_detail"][0]
    assert detail["loc"] == ["body", "trigger", "EventTrigger"]
    assert "greater than or equal to 10 seconds" in detail["msg"]
    # A selected deployment action needs its deployment.
    res = api.post(
        "/automations/",
        json={
            "name": name,
            "trigger": {"type": "event", "posture": "Reactive"},
            "actions": [{"type": "pause-deployment", "source": "selected"}],
        },
    )
    assert res.status_code == 422
    assert any(d["msg"] == "Value error, deployment_id is required" for d in res.json()["exception_detail"])
    assert len(sync_prefect_client.read_automations_by_name(name)) == 1

    sync_prefect_client.delete_automation(automation_id)
    with pytest.raises(PrefectHTTPStatusError):
        sync_prefect_client.delete_automation(automation_id)


def test_cli_ls_inspect_pause_resume_delete(cli):
    name = unique("cli")
    created = Automation(name=name, trigger=failed_flow_runs_trigger(), actions=[DoNothing()]).create()

    res = cli("automation", "ls")
    assert res.code == 0 and name in res.stdout, res.stdout + res.stderr

    res = cli("automation", "inspect", name, "--output", "json")
    assert res.code == 0, res.stdout + res.stderr
    shown = json.loads(res.stdout)  # every automation of that name
    assert [a["id"] for a in shown] == [str(created.id)]
    assert shown[0]["trigger"]["expect"] == ["prefect.flow-run.Failed"]

    res = cli("automation", "pause", name)
    assert res.code == 0, res.stdout + res.stderr
    assert Automation.read(id=created.id).enabled is False
    res = cli("automation", "resume", "--id", str(created.id))
    assert res.code == 0, res.stdout + res.stderr
    assert Automation.read(id=created.id).enabled is True

    res = cli("automation", "delete", "--id", str(created.id), input="y\n")
    assert res.code == 0, res.stdout + res.stderr
    with pytest.raises(ValueError):
        Automation.read(id=created.id)


def test_deployment_triggers_are_owned_and_listed_by_inspect(sync_prefect_client, cli):
    from prefect import flow
    from prefect.events import DeploymentEventTrigger

    @flow(name="triggered-flow")
    def triggered():
        return 1

    deployment = triggered.to_deployment(
        name=unique("with-triggers"),
        triggers=[
            DeploymentEventTrigger(
                name="on-upstream",
                expect={"upstream.done"},
                match={"prefect.resource.id": "upstream.*"},
            )
        ],
    )
    deployment_id = deployment.apply()
    related = sync_prefect_client.read_resource_related_automations(f"prefect.deployment.{deployment_id}")
    assert [a.name for a in related] == ["on-upstream"]
    assert related[0].actions[0].type == "run-deployment"
    assert related[0].actions[0].deployment_id == deployment_id

    # Applying again replaces the deployment's automations rather than adding to them.
    deployment.apply()
    related = sync_prefect_client.read_resource_related_automations(f"prefect.deployment.{deployment_id}")
    assert [a.name for a in related] == ["on-upstream"]

    # (Not --output json: Prefect's CLI cannot write an automation's sets as JSON.)
    res = cli("deployment", "inspect", f"triggered-flow/{deployment.name}")
    assert res.code == 0, res.stdout + res.stderr
    assert "'automations'" in res.stdout and "on-upstream" in res.stdout, res.stdout

    # Deleting what the deployment owns leaves other automations alone.
    other = Automation(
        name=unique("not-owned"),
        trigger=failed_flow_runs_trigger(),
        actions=[PauseDeployment(source="selected", deployment_id=deployment_id)],
    ).create()
    sync_prefect_client.delete_resource_owned_automations(f"prefect.deployment.{deployment_id}")
    related = sync_prefect_client.read_resource_related_automations(f"prefect.deployment.{deployment_id}")
    assert [a.id for a in related] == [] and Automation.read(id=other.id).id == other.id
    other.delete()


def triggered_events(api, automation_id) -> list[dict]:
    res = api.post(
        "/events/filter",
        json={
            "filter": {
                "event": {"name": ["prefect.automation.triggered"]},
                "resource": {"id": [f"prefect.automation.{automation_id}"]},
            }
        },
    )
    assert res.status_code == 200, res.text
    return res.json()["events"]


def wait_for_triggered(api, automation_id, timeout: float = 60) -> list[dict]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = triggered_events(api, automation_id)
        if found:
            return found
        time.sleep(0.3)
    raise AssertionError(f"automation {automation_id} did not trigger within {timeout}s")


def test_reactive_trigger_fires_on_a_failed_flow_run(api):
    from prefect import flow

    flow_name = unique("failing-flow")

    @flow(name=flow_name)
    def failing():
        raise ValueError("boom")

    automation = Automation(
        name=unique("on-failure"),
        trigger=EventTrigger(
            expect={"prefect.flow-run.Failed"},
            match={"prefect.resource.id": "prefect.flow-run.*"},
            match_related={"prefect.resource.role": "flow", "prefect.resource.name": flow_name},
            for_each={"prefect.resource.id"},
            posture=Posture.Reactive,
            threshold=1,
            within=timedelta(0),
        ),
        actions=[DoNothing()],
    ).create()

    state = failing(return_state=True)
    assert state.is_failed()
    fired = wait_for_triggered(api, automation.id)
    assert len(fired) == 1
    event = fired[0]
    assert event["resource"]["prefect.resource.name"] == automation.name
    assert event["resource"]["prefect.posture"] == "Reactive"
    triggering = event["payload"]["triggering_event"]
    assert triggering["event"] == "prefect.flow-run.Failed"
    run_resource = triggering["resource"]["prefect.resource.id"]
    assert event["payload"]["triggering_labels"] == {"prefect.resource.id": run_resource}
    assert event["related"] == [
        {"prefect.resource.id": f"prefect.event.{triggering['id']}", "prefect.resource.role": "triggering-event"}
    ]
    automation.delete()


def test_proactive_trigger_fires_when_the_event_does_not_come(api):
    resource = unique("heartbeat")
    automation = Automation(
        name=unique("missing-heartbeat"),
        trigger=EventTrigger(
            expect={"test.heartbeat"},
            match={"prefect.resource.id": resource},
            posture=Posture.Proactive,
            threshold=1,
            within=timedelta(seconds=10),
        ),
        actions=[DoNothing()],
    ).create()
    fired = wait_for_triggered(api, automation.id, timeout=60)
    assert fired[0]["resource"]["prefect.posture"] == "Proactive"
    assert fired[0]["payload"]["triggering_event"] is None
    automation.delete()


def test_disabled_automations_do_not_fire_and_changes_apply_without_restart(api):
    from prefect.events import emit_event

    name = unique("test.ping")
    trigger = EventTrigger(expect={name}, posture=Posture.Reactive, threshold=1, within=timedelta(0))
    disabled = Automation(name=unique("disabled"), trigger=trigger, enabled=False, actions=[DoNothing()]).create()
    enabled = Automation(name=unique("enabled"), trigger=trigger, actions=[DoNothing()]).create()

    emit_event(event=name, resource={"prefect.resource.id": "test.thing"})
    wait_for_triggered(api, enabled.id)
    assert triggered_events(api, disabled.id) == []

    # Enabling it takes effect without a restart. (Prefect's server refreshes
    # its cache just after the commit, so the events are sent until one counts.)
    disabled.enable()
    deadline = time.monotonic() + 60
    while not triggered_events(api, disabled.id):
        assert time.monotonic() < deadline, "the enabled automation never fired"
        emit_event(event=name, resource={"prefect.resource.id": "test.thing"})
        time.sleep(0.5)
    disabled.delete()
    enabled.delete()
