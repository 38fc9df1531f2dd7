"""The official `openai` SDK, unchanged, pointed at the gateway and reaching the Anthropic fake
(the gateway translates Chat Completions ⇄ Messages): plain, streaming with usage, a tool-call
round trip, structured output parsed by the SDK, typed errors. The fake validates what the
gateway sends as the real Messages API does, so a translation the real API would refuse fails.

Run by test-harness/tests/llm_gateway.rs (env: GATEWAY_URL, CLIENT_KEY, ANTHROPIC_FAKE_URL,
ANTHROPIC_FAKE_KEY, GPT_ON_ANTHROPIC: the model alias the gateway sends to Anthropic).
"""

import json
import os

import openai
import pydantic
import pytest

from llm_fake_control import last_body, received, script

GATEWAY_URL = os.environ.get("GATEWAY_URL", "")
CLIENT_KEY = os.environ.get("CLIENT_KEY", "")
FAKE = os.environ.get("ANTHROPIC_FAKE_URL", "")
FAKE_KEY = os.environ.get("ANTHROPIC_FAKE_KEY", "")
MODEL = os.environ.get("GPT_ON_ANTHROPIC", "")

pytestmark = pytest.mark.skipif(not (GATEWAY_URL and FAKE), reason="GATEWAY_URL is not set")

WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Current weather in a city",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}},
            "required": ["city"],
        },
    },
}


class Weather(pydantic.BaseModel):
    city: str
    temperature_c: int
    conditions: list[str]


def client() -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{GATEWAY_URL}/v1", api_key=CLIENT_KEY, max_retries=0)


def test_plain_completion() -> None:
    completion = client().chat.completions.create(
        model=MODEL,
        messages=[
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "hello there"},
        ],
    )
    choice = completion.choices[0]
    assert choice.message.role == "assistant"
    assert choice.message.content == "echo: hello there"
    assert choice.finish_reason == "stop"
    # The fake counts 4 prompt words (system + user) and 3 answer words.
    assert completion.usage.prompt_tokens == 4
    assert completion.usage.completion_tokens == 3
    assert completion.usage.total_tokens == 7
    sent = received(FAKE)[-1]
    assert sent["path"] == "/v1/messages"
    assert sent["body"]["model"] == "claude-sonnet-4-5"
    assert sent["body"]["max_tokens"] > 0
    # The gateway's key replaced the client's, in Anthropic's header.
    assert sent["headers"].get("x-api-key") == FAKE_KEY
    assert CLIENT_KEY not in json.dumps(sent["headers"])


def test_streaming_keeps_usage_including_input_tokens() -> None:
    stream = client().chat.completions.create(
        model=MODEL,
        messages=[{"role": "user", "content": "stream this please"}],
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(stream)
    assert all(c.object == "chat.completion.chunk" for c in chunks)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "echo: stream this please"
    assert len([c for c in chunks if c.choices and c.choices[0].delta.content]) > 1, "chunked, not buffered"
    finish = [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason]
    assert finish == ["stop"]
    usage = [c.usage for c in chunks if c.usage]
    assert usage and usage[-1].prompt_tokens == 3 and usage[-1].completion_tokens == 4
    assert last_body(FAKE)["stream"] is True


def test_tool_call_round_trip() -> None:
    script(FAKE, {"tool_call": {"name": "get_weather", "arguments": {"city": "Paris"}}})
    messages = [{"role": "user", "content": "weather in Paris?"}]
    first = client().chat.completions.create(model=MODEL, messages=messages, tools=[WEATHER_TOOL])
    assert first.choices[0].finish_reason == "tool_calls"
    call = first.choices[0].message.tool_calls[0]
    assert call.type == "function" and call.function.name == "get_weather"
    assert json.loads(call.function.arguments) == {"city": "Paris"}
    sent_tools = last_body(FAKE)["tools"]
    assert sent_tools[0]["name"] == "get_weather"
    assert sent_tools[0]["input_schema"]["properties"] == {"city": {"type": "string"}}

    messages.append(first.choices[0].message.model_dump(exclude_none=True))
    messages.append({"role": "tool", "tool_call_id": call.id, "content": "18C and sunny"})
    second = client().chat.completions.create(model=MODEL, messages=messages, tools=[WEATHER_TOOL])
    assert second.choices[0].message.content == "echo: 18C and sunny"
    history = last_body(FAKE)["messages"]
    assert [m["role"] for m in history] == ["user", "assistant", "user"]
    assert history[1]["content"][-1]["type"] == "tool_use"
    assert history[2]["content"][0]["type"] == "tool_result"
    assert history[2]["content"][0]["tool_use_id"] == history[1]["content"][-1]["id"]


def test_two_tool_results_become_one_user_turn() -> None:
    calls = [
        {"id": "call_a", "type": "function", "function": {"name": "get_weather", "arguments": '{"city":"Paris"}'}},
        {"id": "call_b", "type": "function", "function": {"name": "get_weather", "arguments": '{"city":"Rome"}'}},
    ]
    messages = [
        {"role": "user", "content": "weather in Paris and Rome?"},
        {"role": "assistant", "content": None, "tool_calls": calls},
        {"role": "tool", "tool_call_id": "call_a", "content": "Paris 18C"},
        {"role": "tool", "tool_call_id": "call_b", "content": "Rome 25C"},
    ]
    answer = client().chat.completions.create(model=MODEL, messages=messages, tools=[WEATHER_TOOL])
    assert answer.choices[0].message.content == "echo: Paris 18C Rome 25C"


def test_streamed_tool_call_arguments_assemble() -> None:
    script(FAKE, {"tool_call": {"name": "get_weather", "arguments": {"city": "Reykjavik"}}})
    stream = client().chat.completions.create(
        model=MODEL,
        messages=[{"role": "user", "content": "weather?"}],
        tools=[WEATHER_TOOL],
        stream=True,
    )
    name, arguments, finish = None, "", None
    for chunk in stream:
        if not chunk.choices:
            continue
        for call in chunk.choices[0].delta.tool_calls or []:
            assert call.index == 0
            name = (call.function.name if call.function else None) or name
            arguments += (call.function.arguments if call.function else None) or ""
        finish = chunk.choices[0].finish_reason or finish
    assert name == "get_weather" and finish == "tool_calls"
    assert json.loads(arguments) == {"city": "Reykjavik"}


def test_structured_output_is_parsed_by_the_sdk() -> None:
    completion = client().chat.completions.parse(
        model=MODEL,
        messages=[{"role": "user", "content": "weather in Oslo"}],
        response_format=Weather,
    )
    parsed = completion.choices[0].message.parsed
    assert isinstance(parsed, Weather)
    assert parsed == Weather(city="text", temperature_c=1, conditions=["text"])


def test_models_are_listed_from_the_config() -> None:
    ids = {m.id for m in client().models.list()}
    assert MODEL in ids


def test_upstream_rate_limit_is_a_typed_error_with_retry_after() -> None:
    script(FAKE, {"error": 429, "retry_after": 7})
    with pytest.raises(openai.RateLimitError) as caught:
        client().chat.completions.create(model=MODEL, messages=[{"role": "user", "content": "hi"}])
    assert caught.value.response.headers["retry-after"] == "7"


def test_upstream_overload_is_a_server_error() -> None:
    script(FAKE, {"error": 529})
    with pytest.raises(openai.APIStatusError) as caught:
        client().chat.completions.create(model=MODEL, messages=[{"role": "user", "content": "hi"}])
    assert caught.value.status_code >= 500
