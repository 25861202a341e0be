"""End-to-end harness: one server per pytest process, driven by the official Prefect client.

The matrix cell comes from PREFECT_SERVER_TEST_CELL:

  sqlite-memory (default), sqlite-redis, postgres-memory, postgres-redis
      our Go binary (PREFECT_SERVER_BIN, or built here with `go build`), with a fresh
      SQLite file or a fresh PostgreSQL database (from PREFECT_TEST_POSTGRES_URL), and the
      in-memory or Redis (PREFECT_TEST_REDIS_URL, one flushed DB number) broker, cache and
      lease storage.
  python
      the reference: `prefect server start` of this venv on a fresh SQLite file, to prove
      that the tests themselves are right.

Other knobs: PREFECT_SERVER_TEST_LOG_LEVEL (our server's --log-level, default INFO),
PREFECT_SERVER_TEST_READY_TIMEOUT (seconds), PREFECT_SERVER_TEST_REDIS_DB.

When a postgres or redis cell finds its URL unset, it runs `tools/services.sh up`.
The client side (PREFECT_API_URL, a temp PREFECT_HOME, ...) is set in os.environ before any
test module imports prefect, so `get_client()` and the `cli` fixture both talk to the server.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple
from urllib.parse import urlsplit, urlunsplit

import pytest

REPO = Path(__file__).resolve().parents[1]
VENV_BIN = Path(sys.executable).parent

# cell -> (database, messaging)
CELLS = {
    "sqlite-memory": ("sqlite", "memory"),
    "sqlite-redis": ("sqlite", "redis"),
    "postgres-memory": ("postgres", "memory"),
    "postgres-redis": ("postgres", "redis"),
    "python": ("sqlite", "memory"),
}
REDIS_DB = {"sqlite-redis": 11, "postgres-redis": 12}  # Go tests use DB 0 of the same Redis

# Variables that steer the harness itself; every other PREFECT_* is cleared for the client.
HARNESS_VARS = ("PREFECT_SERVER_TEST_", "PREFECT_TEST_", "PREFECT_SERVICES_", "PREFECT_SERVER_BIN", "PREFECT_SERVER_VENV")

CELL = os.environ.get("PREFECT_SERVER_TEST_CELL", "sqlite-memory")


@dataclass
class Server:
    cell: str
    port: int
    url: str  # http://127.0.0.1:PORT
    api_url: str  # http://127.0.0.1:PORT/api
    log_path: Path
    process: subprocess.Popen | None = None


class CliResult(NamedTuple):
    code: int
    stdout: str
    stderr: str


_state: dict = {}  # port, client home, server (for the log tail in the summary)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def pytest_configure(config: pytest.Config) -> None:
    if CELL not in CELLS:
        raise pytest.UsageError(f"PREFECT_SERVER_TEST_CELL={CELL!r}: want one of {', '.join(CELLS)}")
    port = _free_port()
    home = tempfile.mkdtemp(prefix="prefect-client-home-")
    _state.update(port=port, client_home=home)
    for key in list(os.environ):
        if key.startswith("PREFECT_") and not key.startswith(HARNESS_VARS):
            del os.environ[key]
    os.environ.update(
        PREFECT_API_URL=f"http://127.0.0.1:{port}/api",
        PREFECT_HOME=home,
        PREFECT_SERVER_ANALYTICS_ENABLED="false",
        PREFECT_LOGGING_LEVEL="WARNING",
        PREFECT_RUNNER_POLL_FREQUENCY="1",
        PREFECT_WORKER_QUERY_SECONDS="1",
        PREFECT_WORKER_PREFETCH_SECONDS="1",
    )


def pytest_unconfigure(config: pytest.Config) -> None:
    if home := _state.get("client_home"):
        shutil.rmtree(home, ignore_errors=True)


def pytest_report_header(config: pytest.Config) -> str:
    return f"prefect-server cell: {CELL}"


def pytest_terminal_summary(terminalreporter, exitstatus, config) -> None:
    server: Server | None = _state.get("server")
    stats = terminalreporter.stats
    if server is None or not (stats.get("failed") or stats.get("error")):
        return
    terminalreporter.write_sep("=", f"server log tail ({server.log_path})")
    lines = server.log_path.read_text(errors="replace").splitlines()
    terminalreporter.write_line("\n".join(lines[-80:]))


# ----------------------------------------------------------------------------- services


def _services_env() -> None:
    """Fill PREFECT_TEST_POSTGRES_URL / PREFECT_TEST_REDIS_URL from tools/services.sh up."""
    out = subprocess.run(
        [str(REPO / "tools/services.sh"), "up"], check=True, capture_output=True, text=True
    ).stdout
    for line in out.splitlines():
        if line.startswith("export "):
            key, _, value = line.removeprefix("export ").partition("=")
            os.environ.setdefault(key, value)


def _create_postgres_db(name: str) -> str:
    """Create an empty database next to PREFECT_TEST_POSTGRES_URL's; return its asyncpg URL."""
    import asyncpg

    base = urlsplit(os.environ["PREFECT_TEST_POSTGRES_URL"])
    admin = urlunsplit(base._replace(query=""))

    async def recreate() -> None:
        conn = await asyncpg.connect(admin)
        try:
            await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            await conn.execute(f'CREATE DATABASE "{name}"')
        finally:
            await conn.close()

    asyncio.run(recreate())
    return urlunsplit(base._replace(scheme="postgresql+asyncpg", path=f"/{name}", query=""))


def _drop_postgres_db(name: str) -> None:
    import asyncpg

    admin = urlunsplit(urlsplit(os.environ["PREFECT_TEST_POSTGRES_URL"])._replace(query=""))

    async def drop() -> None:
        conn = await asyncpg.connect(admin)
        try:
            await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await conn.close()

    asyncio.run(drop())


def _redis_flush(host: str, port: int, db: int) -> None:
    with socket.create_connection((host, port), timeout=5) as s:
        s.sendall(f"SELECT {db}\r\nFLUSHDB\r\n".encode())
        reply = b""
        while reply.count(b"\r\n") < 2:
            chunk = s.recv(256)
            if not chunk:
                break
            reply += chunk
    if reply != b"+OK\r\n+OK\r\n":
        raise RuntimeError(f"redis SELECT {db}/FLUSHDB answered {reply!r}")


# ----------------------------------------------------------------------------- server


def _binary(tmp: Path) -> Path:
    if bin_ := os.environ.get("PREFECT_SERVER_BIN"):
        return Path(bin_).resolve()
    out = tmp / "prefect-server"
    build = subprocess.run(
        ["go", "build", "-o", str(out), "./cmd/prefect-server"], cwd=REPO, capture_output=True, text=True
    )
    if build.returncode != 0:
        pytest.exit(f"go build ./cmd/prefect-server failed:\n{build.stdout}{build.stderr}", returncode=1)
    return out


def _server_env(cell: str, home: Path, db_url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    env.update(
        PREFECT_HOME=str(home),
        PREFECT_SERVER_DATABASE_CONNECTION_URL=db_url,
        PREFECT_SERVER_ANALYTICS_ENABLED="false",
        PREFECT_SERVER_UI_ENABLED="false",
    )
    if CELLS[cell][1] == "redis":
        redis = urlsplit(os.environ["PREFECT_TEST_REDIS_URL"])
        db = int(os.environ.get("PREFECT_SERVER_TEST_REDIS_DB", REDIS_DB[cell]))
        _redis_flush(redis.hostname, redis.port or 6379, db)
        env.update(
            PREFECT_SERVER_EVENTS_MESSAGING_BROKER="prefect_redis.messaging",
            PREFECT_SERVER_EVENTS_MESSAGING_CACHE="prefect_redis.messaging",
            PREFECT_SERVER_CONCURRENCY_LEASE_STORAGE="prefect_redis.lease_storage",
            PREFECT_SERVER_EVENTS_CAUSAL_ORDERING="prefect_redis.ordering",
            PREFECT_REDIS_MESSAGING_HOST=redis.hostname,
            PREFECT_REDIS_MESSAGING_PORT=str(redis.port or 6379),
            PREFECT_REDIS_MESSAGING_DB=str(db),
        )
    else:
        env.update(
            PREFECT_SERVER_EVENTS_MESSAGING_BROKER="prefect.server.utilities.messaging.memory",
            PREFECT_SERVER_EVENTS_MESSAGING_CACHE="prefect.server.utilities.messaging.memory",
            PREFECT_SERVER_CONCURRENCY_LEASE_STORAGE="prefect.server.concurrency.lease_storage.memory",
        )
    return env


def _wait_ready(server: Server, timeout: float) -> str | None:
    """Poll /api/ready; return None when it answers 200, else why not."""
    deadline = time.monotonic() + timeout
    last = "no answer"
    while time.monotonic() < deadline:
        if (rc := server.process.poll()) is not None:
            return f"server exited with code {rc} before it was ready"
        try:
            with urllib.request.urlopen(f"{server.api_url}/ready", timeout=2) as resp:
                if resp.status == 200:
                    return None
                last = f"/api/ready answered {resp.status}"
        except urllib.error.HTTPError as exc:
            last = f"/api/ready answered {exc.code}"
        except OSError as exc:
            last = f"/api/ready: {exc}"
        time.sleep(0.1)
    return f"not ready after {timeout:.0f} s ({last})"


@pytest.fixture(scope="session")
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="session", autouse=True)
def server(tmp_path_factory: pytest.TempPathFactory):
    """The server under test, started once per pytest process and stopped with SIGTERM."""
    database, messaging = CELLS[CELL]
    tmp = tmp_path_factory.mktemp("server")
    home = tmp / "home"
    home.mkdir()
    port = _state["port"]
    if (database == "postgres" and "PREFECT_TEST_POSTGRES_URL" not in os.environ) or (
        messaging == "redis" and "PREFECT_TEST_REDIS_URL" not in os.environ
    ):
        _services_env()

    pg_name = None
    if database == "postgres":
        pg_name = f"e2e_{CELL.replace('-', '_')}_{os.getpid()}"
        db_url = _create_postgres_db(pg_name)
    else:
        db_url = f"sqlite+aiosqlite:///{tmp / 'prefect.db'}"

    if CELL == "python":
        cmd = [str(VENV_BIN / "prefect"), "server", "start", "--host", "127.0.0.1", "--port", str(port), "--no-ui"]
        timeout = 60.0  # imports and Alembic migrations take a while
    else:
        log_level = os.environ.get("PREFECT_SERVER_TEST_LOG_LEVEL", "INFO")
        cmd = [str(_binary(tmp)), "start", "--host", "127.0.0.1", "--port", str(port), "--log-level", log_level]
        timeout = 20.0
    timeout = float(os.environ.get("PREFECT_SERVER_TEST_READY_TIMEOUT", timeout))

    log_path = tmp / "server.log"
    srv = Server(CELL, port, f"http://127.0.0.1:{port}", f"http://127.0.0.1:{port}/api", log_path)
    with open(log_path, "wb") as log:
        srv.process = subprocess.Popen(
            cmd,
            cwd=tmp,
            env=_server_env(CELL, home, db_url),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # a Ctrl-C in the terminal must not reach it before SIGTERM
        )
    _state["server"] = srv
    if problem := _wait_ready(srv, timeout):
        srv.process.kill()
        srv.process.wait()
        tail = "\n".join(log_path.read_text(errors="replace").splitlines()[-60:])
        pytest.exit(f"{' '.join(cmd)}: {problem}\n--- server log ({log_path}) ---\n{tail}", returncode=1)

    yield srv

    srv.process.send_signal(signal.SIGTERM)
    try:
        code = srv.process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        srv.process.kill()
        srv.process.wait()
        pytest.fail("server did not exit within 20 s of SIGTERM", pytrace=False)
    if pg_name:
        _drop_postgres_db(pg_name)
    # `prefect server start` has no SIGTERM handler and dies by the signal (-15); ours exits 0.
    expected = {0, -signal.SIGTERM} if CELL == "python" else {0}
    assert code in expected, f"server exited with code {code} on SIGTERM (log: {log_path})"


# ----------------------------------------------------------------------------- clients


@pytest.fixture
async def prefect_client():
    """The official async client, `get_client()`, pointed at the server."""
    from prefect.client.orchestration import get_client

    async with get_client() as client:
        yield client


@pytest.fixture
def sync_prefect_client():
    """The official sync client, `get_client(sync_client=True)`."""
    from prefect.client.orchestration import get_client

    with get_client(sync_client=True) as client:
        yield client


@pytest.fixture
def api(server: Server):
    """A plain httpx client on /api, for requests the official client would not send."""
    import httpx

    with httpx.Client(base_url=server.api_url, timeout=30) as client:
        yield client


@pytest.fixture
def cli():
    """Run the venv's `prefect` CLI against the server: cli("flow", "ls") -> (code, stdout, stderr)."""
    env = dict(os.environ, COLUMNS="250", NO_COLOR="1", TERM="dumb")

    def run(*args: str, timeout: float = 120, input: str | None = None) -> CliResult:
        proc = subprocess.run(
            [str(VENV_BIN / "prefect"), *args],
            env=env,
            input=input,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        return CliResult(proc.returncode, proc.stdout, proc.stderr)

    return run
