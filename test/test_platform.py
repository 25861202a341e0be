"""Health, readiness, version and error shapes, as the official client and a plain HTTP client see them."""

import prefect
from prefect.client.base import ServerType


async def test_api_healthcheck_is_healthy(prefect_client):
    assert await prefect_client.api_healthcheck() is None


async def test_hello(prefect_client):
    response = await prefect_client.hello()
    assert response.status_code == 200
    assert response.json() == "👋"


async def test_server_version_matches_client(prefect_client):
    assert prefect_client.server_type == ServerType.SERVER
    assert await prefect_client.api_version() == prefect.__version__ == "3.9.1"
    # raises RuntimeError on a major-version mismatch, warns when the server is older
    await prefect_client.raise_for_api_version_mismatch()


def test_sync_client_healthcheck_and_version(sync_prefect_client):
    assert sync_prefect_client.api_healthcheck() is None
    assert sync_prefect_client.api_version() == "3.9.1"


def test_health_and_ready(api):
    health = api.get("/health")
    assert (health.status_code, health.json()) == (200, True)
    ready = api.get("/ready")
    assert ready.status_code == 200


def test_version_endpoint(api):
    response = api.get("/version")
    assert response.status_code == 200
    assert response.json() == "0.8.4"  # the API version, as `prefect version` calls it


def test_unknown_route_is_404(api):
    response = api.get("/no-such-route")
    assert response.status_code == 404
    assert response.json() == {"detail": "Not Found"}


def test_wrong_method_is_405(api):
    response = api.delete("/health")
    assert response.status_code == 405
    assert response.json() == {"detail": "Method Not Allowed"}
    assert response.headers["allow"] == "GET"


def test_server_runs_on_the_cells_backends(api, server):
    """The server really took the cell's configuration (and, for Redis, started
    only because Redis answered: an unreachable Redis fails start-up)."""
    from conftest import CELLS

    database, messaging = CELLS[server.cell]
    settings = api.get("/admin/settings").json()["server"]
    expected_broker = "prefect_redis.messaging" if messaging == "redis" else "prefect.server.utilities.messaging.memory"
    assert settings["events"]["messaging_broker"] == expected_broker
    expected_leases = (
        "prefect_redis.lease_storage" if messaging == "redis" else "prefect.server.concurrency.lease_storage.memory"
    )
    assert settings["concurrency"]["lease_storage"] == expected_leases
