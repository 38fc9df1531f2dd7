"""The official `mcp` SDK client against the gateway, one of whose backends is a REST API
(`rest_api.py`, behind HTTPS) described by its OpenAPI document: its operations are tools next to a
native MCP backend's, and calling them reaches the API with each kind of request.

- MCP_URL: the gateway's MCP endpoint.
- MCP_API_PREFIX: the API backend's name (its tools' prefix), e.g. `clinic`.
- MCP_NATIVE_TOOL: a native backend's tool taking `{"message"}` that must be listed and callable.
- MCP_MODES: connect modes, default "auto,legacy" (2026-07-28 and the session-based protocol).
"""

import asyncio
import json
import os
from typing import Any

import jsonschema
import pytest

from mcp import Client

MCP_URL = os.environ.get("MCP_URL", "")
API = os.environ.get("MCP_API_PREFIX", "clinic")
NATIVE_TOOL = os.environ.get("MCP_NATIVE_TOOL", "")
MODES = [mode for mode in os.environ.get("MCP_MODES", "auto,legacy").split(",") if mode]

pytestmark = pytest.mark.skipif(not MCP_URL, reason="MCP_URL is not set")

OPERATIONS = ["listPets", "getPet", "createPet", "addNote", "describePhoto"]


def session(mode: str, calls: list[tuple[str, dict[str, Any]]]) -> tuple[dict[str, Any], list[Any]]:
    """Lists the tools (by name) and makes `calls` in one connection."""

    async def run() -> tuple[dict[str, Any], list[Any]]:
        async with Client(MCP_URL, mode=mode, cache=None, read_timeout_seconds=20) as client:
            tools = {tool.name: tool for tool in (await client.list_tools()).tools}
            results = [await client.call_tool(name, arguments) for name, arguments in calls]
            return tools, results

    return asyncio.run(run())


def structured(tools: dict[str, Any], name: str, result: Any) -> dict[str, Any]:
    """The structured result of a successful call, checked against the advertised outputSchema
    and against the JSON in its text block."""
    assert not result.is_error, result
    schema = tools[name].output_schema
    assert schema is not None, f"{name} advertises no outputSchema"
    data = result.structured_content
    jsonschema.Draft202012Validator(schema).validate(data)
    assert json.loads(result.content[0].text) == data
    return data


@pytest.mark.parametrize("mode", MODES)
def test_api_operations_are_listed_next_to_native_tools(mode: str) -> None:
    tools, _ = session(mode, [])
    for operation in OPERATIONS:
        assert f"{API}_{operation}" in tools, sorted(tools)
    assert NATIVE_TOOL in tools, sorted(tools)
    get_pet = tools[f"{API}_getPet"]
    assert get_pet.annotations.read_only_hint is True
    assert get_pet.input_schema["required"] == ["pet_id"]
    assert tools[f"{API}_createPet"].annotations.read_only_hint is False


@pytest.mark.parametrize("mode", MODES)
def test_get_with_path_and_query_parameters(mode: str) -> None:
    calls = [
        (f"{API}_getPet", {"pet_id": 1, "uppercase": True}),
        (f"{API}_listPets", {"species": "dog", "limit": 1}),
    ]
    tools, (one, page) = session(mode, calls)
    pet = structured(tools, f"{API}_getPet", one)
    assert (pet["id"], pet["name"], pet["species"]) == (1, "REX", "dog")
    page = structured(tools, f"{API}_listPets", page)
    assert (page["species"], page["limit"], page["total"]) == ("dog", 1, 2)
    assert [p["id"] for p in page["items"]] == [1]


@pytest.mark.parametrize("mode", MODES)
def test_json_post(mode: str) -> None:
    new = {"name": f"Nemo-{mode}", "species": "fish", "tags": ["new", "wet"]}
    tools, (created,) = session(mode, [(f"{API}_createPet", {"body": new})])
    pet = structured(tools, f"{API}_createPet", created)
    assert pet["id"] > 3
    assert {k: pet[k] for k in new} == new


@pytest.mark.parametrize("mode", MODES)
def test_form_post(mode: str) -> None:
    note = {"text": "likes tuna & milk = 100%", "author": "vet"}
    tools, (result,) = session(mode, [(f"{API}_addNote", {"pet_id": 2, "body": note})])
    data = structured(tools, f"{API}_addNote", result)
    assert data == {**note, "pet_id": 2, "content_type": "application/x-www-form-urlencoded"}


@pytest.mark.parametrize("mode", MODES)
def test_multipart_post(mode: str) -> None:
    photo = {"caption": "at the beach\r\n--not a boundary", "tags": ["sun", "sea"]}
    tools, (result,) = session(mode, [(f"{API}_describePhoto", {"pet_id": 3, "body": photo})])
    data = structured(tools, f"{API}_describePhoto", result)
    assert data == {**photo, "pet_id": 3, "content_type": "multipart/form-data"}


@pytest.mark.parametrize("mode", MODES)
def test_api_404_is_a_tool_error(mode: str) -> None:
    _, (result,) = session(mode, [(f"{API}_getPet", {"pet_id": 99})])
    assert result.is_error, result
    text = result.content[0].text
    assert "HTTP 404" in text and "no pet 99" in text, text


@pytest.mark.parametrize("mode", MODES)
def test_native_tool_still_answers(mode: str) -> None:
    _, (result,) = session(mode, [(NATIVE_TOOL, {"message": "hi"})])
    assert not result.is_error, result
    assert "hi" in result.content[0].text, result
