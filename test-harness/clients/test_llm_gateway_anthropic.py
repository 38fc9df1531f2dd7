"""The official `anthropic` SDK, unchanged, pointed at the gateway and reaching the OpenAI fake
(the gateway translates Messages ⇄ Chat Completions): plain, streaming with usage, a tool-use
round trip, typed errors. The fake validates what the gateway sends as the real Chat Completions
API does.

Run by test-harness/tests/llm_gateway.rs (env: GATEWAY_URL, CLIENT_KEY, OPENAI_FAKE_URL,
OPENAI_FAKE_KEY, CLAUDE_ON_OPENAI: the model alias the gateway sends to OpenAI).
"""

import json
import os

import anthropic
import pytest

from llm_fake_control import last_body, received, script

GATEWAY_URL = os.environ.get("GATEWAY_URL", "")
CLIENT_KEY = os.environ.get("CLIENT_KEY", "")
FAKE = os.environ.get("OPENAI_FAKE_URL", "")
FAKE_KEY = os.environ.get("OPENAI_FAKE_KEY", "")
MODEL = os.environ.get("CLAUDE_ON_OPENAI", "")

pytestmark = pytest.mark.skipif(not (GATEWAY_URL and FAKE), reason="GATEWAY_URL is not set")

WEATHER_TOOL = {
    "name": "get_weather",
    "description": "Current weather in a city",
    "input_schema": {
        "type": "object",
        "properties": {"city": {"type": "string"}},
        "required": ["city"],
    },
}


def client() -> anthropic.Anthropic:
    return anthropic.Anthropic(base_url=GATEWAY_URL, api_key=CLIENT_KEY, max_retries=0)


def test_plain_message() -> None:
    message = client().messages.create(
        model=MODEL,
        max_tokens=100,
        system="Be brief.",
        messages=[{"role": "user", "content": "hello there"}],
    )
    assert message.type == "message" and message.role == "assistant"
    assert message.content[0].type == "text"
    assert message.content[0].text == "echo: hello there"
    assert message.stop_reason == "end_turn"
    assert message.usage.input_tokens == 4
    assert message.usage.output_tokens == 3
    sent = received(FAKE)[-1]
    assert sent["path"] == "/v1/chat/completions"
    assert sent["body"]["model"] == "gpt-4o"
    system = sent["body"]["messages"][0]
    assert system["role"] in ("system", "developer") and "Be brief." in json.dumps(system["content"])
    assert sent["headers"].get("authorization") == f"Bearer {FAKE_KEY}"
    assert CLIENT_KEY not in json.dumps(sent["headers"])


def test_streaming_events_and_usage() -> None:
    with client().messages.stream(
        model=MODEL,
        max_tokens=100,
        messages=[{"role": "user", "content": "stream this please"}],
    ) as stream:
        events = [event.type for event in stream]
        final = stream.get_final_message()
    assert events[0] == "message_start"
    assert events[-1] == "message_stop"
    assert events.count("text") > 1, "chunked, not buffered"
    assert final.content[0].text == "echo: stream this please"
    assert final.stop_reason == "end_turn"
    assert final.usage.input_tokens == 3
    assert final.usage.output_tokens == 4
    assert last_body(FAKE)["stream"] is True


def test_tool_use_round_trip() -> None:
    script(FAKE, {"tool_call": {"name": "get_weather", "arguments": {"city": "Paris"}}})
    messages = [{"role": "user", "content": "weather in Paris?"}]
    first = client().messages.create(model=MODEL, max_tokens=100, messages=messages, tools=[WEATHER_TOOL])
    assert first.stop_reason == "tool_use"
    use = [b for b in first.content if b.type == "tool_use"][0]
    assert use.name == "get_weather" and use.input == {"city": "Paris"}
    sent_tools = last_body(FAKE)["tools"]
    assert sent_tools[0]["type"] == "function" and sent_tools[0]["function"]["name"] == "get_weather"

    messages.append({"role": "assistant", "content": [b.model_dump(exclude_none=True) for b in first.content]})
    messages.append({"role": "user", "content": [{"type": "tool_result", "tool_use_id": use.id, "content": "18C and sunny"}]})
    second = client().messages.create(model=MODEL, max_tokens=100, messages=messages, tools=[WEATHER_TOOL])
    assert second.content[0].text == "echo: 18C and sunny"
    history = last_body(FAKE)["messages"]
    assert [m["role"] for m in history] == ["user", "assistant", "tool"]
    assert history[2]["tool_call_id"] == history[1]["tool_calls"][0]["id"]


def test_streamed_tool_use_input_assembles() -> None:
    script(FAKE, {"tool_call": {"name": "get_weather", "arguments": {"city": "Reykjavik"}}})
    with client().messages.stream(
        model=MODEL,
        max_tokens=100,
        messages=[{"role": "user", "content": "weather?"}],
        tools=[WEATHER_TOOL],
    ) as stream:
        deltas = [e.delta.type for e in stream if e.type == "content_block_delta"]
        final = stream.get_final_message()
    assert "input_json_delta" in deltas
    assert final.stop_reason == "tool_use"
    assert [b.input for b in final.content if b.type == "tool_use"] == [{"city": "Reykjavik"}]


def test_upstream_rate_limit_is_a_typed_error_with_retry_after() -> None:
    script(FAKE, {"error": 429, "retry_after": 7})
    with pytest.raises(anthropic.RateLimitError) as caught:
        client().messages.create(model=MODEL, max_tokens=10, messages=[{"role": "user", "content": "hi"}])
    assert caught.value.response.headers["retry-after"] == "7"
    assert caught.value.body["error"]["type"] == "rate_limit_error"


def test_upstream_server_error_is_typed() -> None:
    script(FAKE, {"error": 500})
    with pytest.raises(anthropic.InternalServerError) as caught:
        client().messages.create(model=MODEL, max_tokens=10, messages=[{"role": "user", "content": "hi"}])
    assert caught.value.body["type"] == "error"
