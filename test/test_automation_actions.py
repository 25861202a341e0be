"""Automations whose actions act, through the official client: an automation is
created with `create_automation`, a flow run's state change fires its trigger, and
the action's effect is read back with the client (a new run of a deployment, a
paused deployment or work pool, a flow run's new state), as are the
prefect.automation.action.* events the actions service emits.

Each test scopes its trigger to objects of its own (a deployment or a flow run),
so that the automations of one test never fire for another's runs.
"""

import time
import uuid

import pytest

from prefect.client.schemas.filters import DeploymentFilter, DeploymentFilterId, FlowRunFilter
from prefect.client.schemas.objects import StateType
from prefect.events import EventTrigger
from prefect.events.actions import (
    CancelFlowRun,
    ChangeFlowRunState,
    PauseDeployment,
    PauseWorkPool,
    RunDeployment,
    SendNotification,
)
from prefect.events.schemas.automations import AutomationCore, Posture
from prefect.states import Failed, Running

DEADLINE = 60


@pytest.fixture(autouse=True)
def _automations_served(api):
    """The actions need automations to trigger them: without the automations
    module (a slim build) there is nothing to test here."""
    if api.post("/automations/filter", json={}).status_code == 404:
        pytest.skip("this server has no automations module")


def poll(what: str, check, timeout: float = DEADLINE, interval: float = 0.2):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def make_deployment(client, work_pool_name: str | None = None, **kwargs) -> uuid.UUID:
    flow_id = client.create_flow_from_name(unique("automated-flow"))
    return client.create_deployment(
        flow_id=flow_id,
        name=unique("dep"),
        work_pool_name=work_pool_name,
        enforce_parameter_schema=False,
        **kwargs,
    )


def automate(client, trigger: EventTrigger, *actions) -> uuid.UUID:
    return client.create_automation(
        AutomationCore(name=unique("automation"), trigger=trigger, actions=list(actions))
    )


def on_deployment_runs(deployment_id: uuid.UUID, event: str) -> EventTrigger:
    """A reactive trigger on one deployment's flow-run state events."""
    return EventTrigger(
        expect={event},
        match_related={"prefect.resource.id": f"prefect.deployment.{deployment_id}"},
        posture=Posture.Reactive,
        threshold=1,
    )


def fail_a_run(client, deployment_id: uuid.UUID):
    run = client.create_flow_run_from_deployment(deployment_id)
    client.set_flow_run_state(run.id, Running())
    client.set_flow_run_state(run.id, Failed(message="boom"))
    return run


def runs_of(client, deployment_id: uuid.UUID):
    return client.read_flow_runs(
        deployment_filter=DeploymentFilter(id=DeploymentFilterId(any_=[deployment_id])),
        flow_run_filter=FlowRunFilter(),
    )


def action_events(api, automation_id: uuid.UUID, outcome: str) -> list[dict]:
    response = api.post(
        "/events/filter",
        json={
            "filter": {
                "event": {"name": [f"prefect.automation.action.{outcome}"]},
                "resource": {"id": [f"prefect.automation.{automation_id}"]},
            },
            "limit": 50,
        },
    )
    response.raise_for_status()
    return response.json()["events"]


def test_run_deployment_when_another_deployment_fails(sync_prefect_client, api):
    client = sync_prefect_client
    watched = make_deployment(client)
    target = make_deployment(client, parameters={"who": "default"})
    automation_id = automate(
        client,
        on_deployment_runs(watched, "prefect.flow-run.Failed"),
        RunDeployment(
            source="selected",
            deployment_id=target,
            parameters={"failed_run": "{{ flow_run.name }}", "message": "{{ event.resource['prefect.state-message'] }}"},
        ),
    )
    failed = fail_a_run(client, watched)

    started = poll("the automation's run of the target deployment", lambda: runs_of(client, target))
    assert len(started) == 1
    assert started[0].parameters == {"who": "default", "failed_run": failed.name, "message": "boom"}
    assert started[0].state.type == StateType.SCHEDULED

    executed = poll("the action.executed event", lambda: action_events(api, automation_id, "executed"))
    payload = executed[0]["payload"]
    assert payload["action_type"] == "run-deployment" and payload["action_index"] == 0
    related = {r["prefect.resource.id"]: r["prefect.resource.role"] for r in executed[0]["related"]}
    assert related[f"prefect.flow-run.{started[0].id}"] == "flow-run"
    assert related[f"prefect.deployment.{target}"] == "target"


def test_pause_the_deployment_whose_run_failed(sync_prefect_client):
    client = sync_prefect_client
    deployment_id = make_deployment(client)
    automate(client, on_deployment_runs(deployment_id, "prefect.flow-run.Failed"), PauseDeployment(source="inferred"))
    fail_a_run(client, deployment_id)
    poll("the deployment to be paused", lambda: client.read_deployment(deployment_id).paused)


def test_change_and_cancel_flow_runs_that_start(sync_prefect_client):
    client = sync_prefect_client
    failing, cancelled = make_deployment(client), make_deployment(client)
    automate(
        client,
        on_deployment_runs(failing, "prefect.flow-run.Running"),
        ChangeFlowRunState(state=StateType.FAILED, name="Refused", message="not today"),
    )
    automate(client, on_deployment_runs(cancelled, "prefect.flow-run.Running"), CancelFlowRun())

    first = client.create_flow_run_from_deployment(failing)
    second = client.create_flow_run_from_deployment(cancelled)
    client.set_flow_run_state(first.id, Running())
    client.set_flow_run_state(second.id, Running())

    state = poll("the run to be failed", lambda: (s := client.read_flow_run(first.id).state).type == StateType.FAILED and s)
    assert state.name == "Refused" and state.message == "not today"
    poll("the run to be cancelling", lambda: client.read_flow_run(second.id).state.type == StateType.CANCELLING)


def test_pause_the_work_pool_of_a_failed_run(sync_prefect_client):
    from prefect.client.schemas.actions import WorkPoolCreate

    client = sync_prefect_client
    pool = client.create_work_pool(WorkPoolCreate(name=unique("pool"), type="process"))
    deployment_id = make_deployment(client, work_pool_name=pool.name)
    automate(client, on_deployment_runs(deployment_id, "prefect.flow-run.Failed"), PauseWorkPool(source="inferred"))
    fail_a_run(client, deployment_id)
    poll("the work pool to be paused", lambda: client.read_work_pool(pool.name).is_paused)


def test_a_notification_without_its_block_fails(sync_prefect_client, api):
    client = sync_prefect_client
    deployment_id = make_deployment(client)
    automation_id = automate(
        client,
        on_deployment_runs(deployment_id, "prefect.flow-run.Failed"),
        SendNotification(block_document_id=uuid.uuid4(), body="{{ flow_run.name }} failed"),
    )
    fail_a_run(client, deployment_id)
    failed = poll("the action.failed event", lambda: action_events(api, automation_id, "failed"))
    payload = failed[0]["payload"]
    assert payload["action_type"] == "send-notification"
    assert payload["reason"] == "Unexpected status from 'send-notification' action: 404"
    triggered = action_events(api, automation_id, "triggered")
    assert [e["id"] for e in triggered] == [failed[0]["follows"]]
