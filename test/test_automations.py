"""Automations through the official client: prefect.automations.Automation,
the orchestration client, the `prefect automation` CLI, and deployment
triggers (whose automations `prefect deployment inspect` lists).

Uses the harness fixtures of conftest.py: `sync_prefect_client`, `api` (a
plain httpx client on /api) and `cli`.
"""

import json
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
