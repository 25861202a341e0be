"""The variables API through the official client: prefect.variables.Variable,
the orchestration client and the `prefect variable` CLI.

Uses the harness fixtures of conftest.py: `prefect_client` (an async
PrefectClient on the server under test) and `cli` (runs the prefect CLI
against it and returns (code, stdout, stderr)). The sync Variable API reads
PREFECT_API_URL, which the harness points at the server.
"""

import json
import uuid

import pytest

from prefect.variables import Variable


def unique(prefix: str) -> str:
    """A variable name no other test uses (lowercase, dashes and underscores)."""
    return f"{prefix}_{uuid.uuid4().hex[:12]}"


def test_set_get_unset():
    name = unique("plain")
    created = Variable.set(name, "hello", tags=["a", "b"])
    assert created.name == name
    assert created.value == "hello"
    assert created.tags == ["a", "b"]

    assert Variable.get(name) == "hello"
    assert Variable.unset(name) is True
    assert Variable.get(name) is None
    assert Variable.get(name, default="fallback") == "fallback"
    assert Variable.unset(name) is False


def test_set_existing_needs_overwrite():
    name = unique("over")
    Variable.set(name, "first", tags=["old"])
    with pytest.raises(ValueError, match="already exists"):
        Variable.set(name, "second")
    assert Variable.get(name) == "first"

    updated = Variable.set(name, "second", tags=["new"], overwrite=True)
    assert updated.value == "second"
    assert updated.tags == ["new"]
    assert Variable.get(name) == "second"
    Variable.unset(name)


@pytest.mark.parametrize(
    "value",
    [
        {"nested": {"list": [1, 2.5, True, None]}, "s": "x"},
        ["a", 1, {"b": False}],
        42,
        3.25,
        True,
        None,
        "",
    ],
    ids=["dict", "list", "int", "float", "bool", "none", "empty-string"],
)
def test_json_values_round_trip(value):
    name = unique("json")
    Variable.set(name, value)
    assert Variable.get(name, default="missing") == value
    Variable.unset(name)


def test_value_too_large_is_rejected():
    with pytest.raises(Exception):
        Variable.set(unique("big"), "a" * 5000)


def test_invalid_name_is_rejected():
    with pytest.raises(Exception):
        Variable.set("Not-Lowercase", 1)


@pytest.mark.anyio
async def test_client_by_name_and_filter(prefect_client):
    from prefect.client.schemas.actions import VariableCreate, VariableUpdate

    missing = await prefect_client.read_variable_by_name(unique("missing"))
    assert missing is None

    name = unique("client")
    created = await prefect_client.create_variable(
        VariableCreate(name=name, value={"k": [1, 2]}, tags=["client-test"])
    )
    assert created.value == {"k": [1, 2]}

    read = await prefect_client.read_variable_by_name(name)
    assert read is not None and read.id == created.id

    await prefect_client.update_variable(VariableUpdate(name=name, value=7))
    read = await prefect_client.read_variable_by_name(name)
    assert read.value == 7
    assert read.tags == ["client-test"]
    assert read.updated >= created.updated

    listed = await prefect_client.read_variables()
    assert name in [v.name for v in listed]

    await prefect_client.delete_variable_by_name(name)
    assert await prefect_client.read_variable_by_name(name) is None


def test_cli_set_get_ls_unset(cli):
    name = unique("cli")

    code, out, err = cli("variable", "set", name, '{"a": [1, 2]}', "--tag", "t1")
    assert code == 0, (out, err)
    assert f"Set variable {name!r}." in out

    code, out, err = cli("variable", "get", name)
    assert code == 0, (out, err)
    assert json.loads(out) == {"a": [1, 2]}

    code, out, err = cli("variable", "set", name, "plain")
    assert code == 1
    assert "already exists" in out + err

    code, out, err = cli("variable", "set", name, "plain", "--overwrite")
    assert code == 0, (out, err)
    code, out, err = cli("variable", "get", name)
    assert json.loads(out) == "plain"

    code, out, err = cli("variable", "ls", "-o", "json")
    assert code == 0, (out, err)
    listed = {v["name"]: v for v in json.loads(out)}
    assert listed[name]["value"] == "plain"
    assert listed[name]["tags"] == []  # --overwrite without --tag clears tags

    code, out, err = cli("variable", "unset", name)
    assert code == 0, (out, err)
    assert f"Unset variable {name!r}." in out

    code, out, err = cli("variable", "get", name)
    assert code == 1
    assert f"Variable {name!r} not found." in out + err

    code, out, err = cli("variable", "unset", name)
    assert code == 1
    assert f"Variable {name!r} not found." in out + err
