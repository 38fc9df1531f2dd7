"""The official `openai` and `anthropic` SDKs pointed DIRECTLY at the harness's provider fakes:
the evidence that the fakes speak the real wire format. Each call goes through the SDK's own
request building, response parsing (pydantic models), SSE stream handling, structured-output
parsing and typed exceptions; a fake that answered in a shape the real API does not use would
fail here.

Run by test-harness/tests/llm_fakes.rs, which starts the fakes and sets OPENAI_FAKE_URL,
ANTHROPIC_FAKE_URL and the keys they accept (OPENAI_FAKE_KEY, ANTHROPIC_FAKE_KEY).
"""

import json
import os

import anthropic
import httpx
import httpx2
import openai
import pydantic
import pytest

from llm_fake_control import last_body, script

OPENAI_URL = os.environ.get("OPENAI_FAKE_URL", "")
OPENAI_KEY = os.environ.get("OPENAI_FAKE_KEY", "")
ANTHROPIC_URL = os.environ.get("ANTHROPIC_FAKE_URL", "")
ANTHROPIC_KEY = os.environ.get("ANTHROPIC_FAKE_KEY", "")

pytestmark = pytest.mark.skipif(
    not (OPENAI_URL and ANTHROPIC_URL), reason="the fakes' URLs are not set"
)

WEATHER_TOOL_OPENAI = {
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
WEATHER_TOOL_ANTHROPIC = {
    "name": "get_weather",
    "description": "Current weather in a city",
    "input_schema": {
        "type": "object",
        "properties": {"city": {"type": "string"}},
        "required": ["city"],
    },
}


class Weather(pydantic.BaseModel):
    city: str
    temperature_c: int
    conditions: list[str]


def oai() -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{OPENAI_URL}/v1", api_key=OPENAI_KEY, max_retries=0)


def claude() -> anthropic.Anthropic:
    return anthropic.Anthropic(base_url=ANTHROPIC_URL, api_key=ANTHROPIC_KEY, max_retries=0)


# --- OpenAI Chat Completions ------------------------------------------------------------------


def test_openai_plain_completion() -> None:
    completion = oai().chat.completions.create(
        model="gpt-4o",
        messages=[
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "hello there"},
        ],
    )
    assert completion.object == "chat.completion"
    choice = completion.choices[0]
    assert choice.message.content == "echo: hello there"
    assert choice.finish_reason == "stop"
    # Four prompt words (the fake's token count), three completion words.
    assert completion.usage.prompt_tokens == 4
    assert completion.usage.completion_tokens == 3
    assert completion.usage.total_tokens == 7


def test_openai_stream_with_usage() -> None:
    stream = oai().chat.completions.create(
        model="gpt-4o",
        messages=[{"role": "user", "content": "stream this please"}],
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(stream)
    assert all(c.object == "chat.completion.chunk" for c in chunks)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "echo: stream this please"
    assert len([c for c in chunks if c.choices and c.choices[0].delta.content]) > 1
    finish = [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason]
    assert finish == ["stop"]
    # include_usage: a last chunk with no choices carries the usage.
    assert chunks[-1].choices == []
    assert chunks[-1].usage.prompt_tokens == 3


def test_openai_tool_call_round_trip() -> None:
    client = oai()
    script(OPENAI_URL, {"tool_call": {"name": "get_weather", "arguments": {"city": "Paris"}}})
    messages = [{"role": "user", "content": "weather in Paris?"}]
    first = client.chat.completions.create(model="gpt-4o", messages=messages, tools=[WEATHER_TOOL_OPENAI])
    assert first.choices[0].finish_reason == "tool_calls"
    call = first.choices[0].message.tool_calls[0]
    assert call.function.name == "get_weather"
    assert json.loads(call.function.arguments) == {"city": "Paris"}
    messages.append(first.choices[0].message.model_dump(exclude_none=True))
    messages.append({"role": "tool", "tool_call_id": call.id, "content": "18C and sunny"})
    second = client.chat.completions.create(model="gpt-4o", messages=messages, tools=[WEATHER_TOOL_OPENAI])
    assert second.choices[0].message.content == "echo: 18C and sunny"


def test_openai_streamed_tool_call_arguments_assemble() -> None:
    script(OPENAI_URL, {"tool_call": {"name": "get_weather", "arguments": {"city": "Reykjavik"}}})
    stream = oai().chat.completions.create(
        model="gpt-4o",
        messages=[{"role": "user", "content": "weather?"}],
        tools=[WEATHER_TOOL_OPENAI],
        stream=True,
    )
    calls: dict[int, dict] = {}
    finish = None
    for chunk in stream:
        delta = chunk.choices[0].delta
        for call in delta.tool_calls or []:
            entry = calls.setdefault(call.index, {"id": None, "name": None, "arguments": ""})
            entry["id"] = call.id or entry["id"]
            if call.function and call.function.name:
                entry["name"] = call.function.name
            if call.function and call.function.arguments:
                entry["arguments"] += call.function.arguments
        finish = chunk.choices[0].finish_reason or finish
    assert finish == "tool_calls"
    assert calls[0]["name"] == "get_weather" and calls[0]["id"].startswith("call_")
    assert json.loads(calls[0]["arguments"]) == {"city": "Reykjavik"}


def test_openai_structured_output_parses_into_the_model() -> None:
    completion = oai().chat.completions.parse(
        model="gpt-4o",
        messages=[{"role": "user", "content": "weather in Oslo as JSON"}],
        response_format=Weather,
    )
    parsed = completion.choices[0].message.parsed
    assert isinstance(parsed, Weather)
    sent = last_body(OPENAI_URL)["response_format"]
    assert sent["type"] == "json_schema" and sent["json_schema"]["strict"] is True


def test_openai_forced_tool_call_matches_the_schema() -> None:
    completion = oai().chat.completions.create(
        model="gpt-4o",
        messages=[{"role": "user", "content": "use the tool"}],
        tools=[WEATHER_TOOL_OPENAI],
        tool_choice={"type": "function", "function": {"name": "get_weather"}},
    )
    call = completion.choices[0].message.tool_calls[0]
    assert json.loads(call.function.arguments) == {"city": "text"}


def test_openai_rate_limit_is_a_typed_error_with_retry_after() -> None:
    script(OPENAI_URL, {"error": 429, "retry_after": 7})
    with pytest.raises(openai.RateLimitError) as caught:
        oai().chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "hi"}])
    assert caught.value.response.headers["retry-after"] == "7"
    assert caught.value.code == "rate_limit_exceeded"


def test_openai_server_error_is_typed() -> None:
    script(OPENAI_URL, {"error": 500})
    with pytest.raises(openai.InternalServerError):
        oai().chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "hi"}])


def test_openai_wrong_key_is_an_authentication_error() -> None:
    client = openai.OpenAI(base_url=f"{OPENAI_URL}/v1", api_key="sk-wrong", max_retries=0)
    with pytest.raises(openai.AuthenticationError) as caught:
        client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "hi"}])
    assert caught.value.code == "invalid_api_key"


def test_openai_unknown_model_is_not_found() -> None:
    with pytest.raises(openai.NotFoundError) as caught:
        oai().chat.completions.create(model="gpt-0", messages=[{"role": "user", "content": "hi"}])
    assert caught.value.code == "model_not_found"


@pytest.mark.parametrize(
    ("messages", "extra", "needle"),
    [
        ([{"role": "tool", "tool_call_id": "call_1", "content": "x"}], {}, "must be a response to a preceeding message with 'tool_calls'"),
        (
            [
                {"role": "user", "content": "hi"},
                {"role": "assistant", "tool_calls": [{"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": "{}"}}]},
                {"role": "user", "content": "and?"},
            ],
            {},
            "did not have response messages: call_1",
        ),
        ([{"role": "user", "content": "hi"}], {"extra_body": {"max_tokens_to_sample": 5}}, "Unrecognized request argument supplied: max_tokens_to_sample"),
        ([{"role": "user", "content": "hi"}], {"temperature": 3}, "decimal above maximum value"),
        ([{"role": "user", "content": "hi"}], {"stream_options": {"include_usage": True}}, "only allowed when 'stream' is enabled"),
        ([{"role": "user", "content": "hi"}], {"response_format": {"type": "json_object"}}, "must contain the word 'json'"),
    ],
)
def test_openai_invalid_requests_are_bad_request_errors(messages, extra, needle) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        oai().chat.completions.create(model="gpt-4o", messages=messages, **extra)
    assert needle in caught.value.message


def test_openai_stream_cut_mid_way_has_no_finish_reason() -> None:
    script(OPENAI_URL, {"text": "a long answer that will not arrive whole", "cut_after": 3})
    chunks = list(oai().chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "hi"}], stream=True))
    assert len(chunks) == 3
    assert all(c.choices[0].finish_reason is None for c in chunks)


def test_openai_stream_reset_mid_way_raises() -> None:
    script(OPENAI_URL, {"text": "a long answer that will not arrive whole", "reset_after": 3})
    stream = oai().chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "hi"}], stream=True)
    with pytest.raises((httpx2.RemoteProtocolError, openai.APIConnectionError)):
        list(stream)


def test_openai_stop_and_max_tokens_end_the_answer() -> None:
    hello = [{"role": "user", "content": "hello there"}]
    stopped = oai().chat.completions.create(model="gpt-4o", messages=hello, stop=["there"])
    assert stopped.choices[0].message.content == "echo: hello "
    assert stopped.choices[0].finish_reason == "stop"
    cut = oai().chat.completions.create(model="gpt-4o", messages=hello, max_completion_tokens=2)
    assert cut.choices[0].message.content == "echo: hello"
    assert cut.choices[0].finish_reason == "length"


def test_openai_reasoning_counts_reasoning_tokens() -> None:
    completion = oai().chat.completions.create(
        model="gpt-5", messages=[{"role": "user", "content": "think"}], reasoning_effort="low"
    )
    assert completion.choices[0].message.content == "echo: think"
    assert completion.usage.completion_tokens_details.reasoning_tokens == 3
    assert completion.usage.completion_tokens == 2 + 3


def test_openai_models_list() -> None:
    ids = [m.id for m in oai().models.list()]
    assert "gpt-4o" in ids


# --- Anthropic Messages -----------------------------------------------------------------------


def test_anthropic_plain_message() -> None:
    message = claude().messages.create(
        model="claude-sonnet-4-5",
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


def test_anthropic_stream_events_and_final_message() -> None:
    with claude().messages.stream(
        model="claude-sonnet-4-5",
        max_tokens=100,
        messages=[{"role": "user", "content": "stream this please"}],
    ) as stream:
        events = [event.type for event in stream]
        final = stream.get_final_message()
    assert events[0] == "message_start"
    assert "content_block_start" in events and "content_block_stop" in events
    assert events[-1] == "message_stop"
    assert final.content[0].text == "echo: stream this please"
    assert final.stop_reason == "end_turn"
    # input tokens come from message_start, output tokens from message_delta.
    assert final.usage.input_tokens == 3
    assert final.usage.output_tokens == 4


def test_anthropic_tool_use_round_trip() -> None:
    client = claude()
    script(ANTHROPIC_URL, {"tool_call": {"name": "get_weather", "arguments": {"city": "Paris"}}})
    messages = [{"role": "user", "content": "weather in Paris?"}]
    first = client.messages.create(model="claude-sonnet-4-5", max_tokens=100, messages=messages, tools=[WEATHER_TOOL_ANTHROPIC])
    assert first.stop_reason == "tool_use"
    use = first.content[0]
    assert use.type == "tool_use" and use.name == "get_weather" and use.input == {"city": "Paris"}
    messages.append({"role": "assistant", "content": [block.model_dump(exclude_none=True) for block in first.content]})
    messages.append({"role": "user", "content": [{"type": "tool_result", "tool_use_id": use.id, "content": "18C and sunny"}]})
    second = client.messages.create(model="claude-sonnet-4-5", max_tokens=100, messages=messages, tools=[WEATHER_TOOL_ANTHROPIC])
    assert second.content[0].text == "echo: 18C and sunny"


def test_anthropic_streamed_tool_use_input_assembles() -> None:
    script(ANTHROPIC_URL, {"tool_call": {"name": "get_weather", "arguments": {"city": "Reykjavik"}}})
    with claude().messages.stream(
        model="claude-sonnet-4-5",
        max_tokens=100,
        messages=[{"role": "user", "content": "weather?"}],
        tools=[WEATHER_TOOL_ANTHROPIC],
    ) as stream:
        deltas = [e.delta.type for e in stream if e.type == "content_block_delta"]
        final = stream.get_final_message()
    assert set(deltas) == {"input_json_delta"}
    assert final.stop_reason == "tool_use"
    assert final.content[0].input == {"city": "Reykjavik"}


def test_anthropic_structured_output_parses_into_the_model() -> None:
    message = claude().messages.parse(
        model="claude-sonnet-4-5",
        max_tokens=200,
        messages=[{"role": "user", "content": "weather in Oslo"}],
        output_format=Weather,
    )
    assert isinstance(message.parsed_output, Weather)
    assert last_body(ANTHROPIC_URL)["output_config"]["format"]["type"] == "json_schema"


def test_anthropic_stop_sequence_and_max_tokens_end_the_answer() -> None:
    hello = [{"role": "user", "content": "hello there"}]
    stopped = claude().messages.create(model="claude-sonnet-4-5", max_tokens=100, messages=hello, stop_sequences=["there"])
    assert stopped.content[0].text == "echo: hello "
    assert stopped.stop_reason == "stop_sequence" and stopped.stop_sequence == "there"
    cut = claude().messages.create(model="claude-sonnet-4-5", max_tokens=2, messages=hello)
    assert cut.content[0].text == "echo: hello"
    assert cut.stop_reason == "max_tokens"


def test_anthropic_thinking_blocks_come_first_and_stream_with_a_signature() -> None:
    thinking = {"type": "enabled", "budget_tokens": 1024}
    message = claude().messages.create(
        model="claude-sonnet-4-5", max_tokens=2000, thinking=thinking,
        messages=[{"role": "user", "content": "think"}],
    )
    assert [b.type for b in message.content] == ["thinking", "text"]
    assert message.content[0].thinking == "thinking about: think" and message.content[0].signature
    with claude().messages.stream(
        model="claude-sonnet-4-5", max_tokens=2000, thinking=thinking,
        messages=[{"role": "user", "content": "think"}],
    ) as stream:
        deltas = [e.delta.type for e in stream if e.type == "content_block_delta"]
        final = stream.get_final_message()
    assert "thinking_delta" in deltas and "signature_delta" in deltas
    assert final.content[0].thinking == "thinking about: think"
    assert final.content[0].signature == message.content[0].signature
    assert final.content[1].text == "echo: think"


def test_anthropic_thinking_tool_loop_needs_the_thinking_block_back() -> None:
    messages = [
        {"role": "user", "content": "weather?"},
        {"role": "assistant", "content": [TOOL_USE]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_1", "content": "18C"}]},
    ]
    with pytest.raises(anthropic.BadRequestError) as caught:
        claude().messages.create(
            model="claude-sonnet-4-5", max_tokens=2000, thinking={"type": "enabled", "budget_tokens": 1024},
            messages=messages, tools=[WEATHER_TOOL_ANTHROPIC],
        )
    assert "must start with a thinking block" in caught.value.message


def test_anthropic_count_tokens_and_models() -> None:
    client = claude()
    count = client.messages.count_tokens(model="claude-sonnet-4-5", messages=[{"role": "user", "content": "one two three"}])
    assert count.input_tokens == 3
    assert "claude-sonnet-4-5" in [m.id for m in client.models.list()]


def test_anthropic_rate_limit_is_a_typed_error_with_retry_after() -> None:
    script(ANTHROPIC_URL, {"error": 429, "retry_after": 9})
    with pytest.raises(anthropic.RateLimitError) as caught:
        claude().messages.create(model="claude-sonnet-4-5", max_tokens=10, messages=[{"role": "user", "content": "hi"}])
    assert caught.value.response.headers["retry-after"] == "9"
    assert caught.value.body["error"]["type"] == "rate_limit_error"


def test_anthropic_overloaded_is_typed() -> None:
    script(ANTHROPIC_URL, {"error": 529})
    with pytest.raises(anthropic.OverloadedError):
        claude().messages.create(model="claude-sonnet-4-5", max_tokens=10, messages=[{"role": "user", "content": "hi"}])


def test_anthropic_wrong_key_is_an_authentication_error() -> None:
    client = anthropic.Anthropic(base_url=ANTHROPIC_URL, api_key="sk-ant-wrong", max_retries=0)
    with pytest.raises(anthropic.AuthenticationError):
        client.messages.create(model="claude-sonnet-4-5", max_tokens=10, messages=[{"role": "user", "content": "hi"}])


def test_anthropic_unknown_model_is_not_found() -> None:
    with pytest.raises(anthropic.NotFoundError):
        claude().messages.create(model="gpt-4o", max_tokens=10, messages=[{"role": "user", "content": "hi"}])


TOOL_USE = {"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {"city": "Paris"}}


@pytest.mark.parametrize(
    ("messages", "extra", "needle"),
    [
        ([{"role": "user", "content": "a"}, {"role": "user", "content": "b"}], {}, "roles must alternate"),
        ([{"role": "assistant", "content": "a"}], {}, "first message must use the \"user\" role"),
        ([{"role": "system", "content": "a"}], {}, "Unexpected role \"system\""),
        (
            [{"role": "user", "content": "a"}, {"role": "assistant", "content": [TOOL_USE]}, {"role": "user", "content": "b"}],
            {"tools": [WEATHER_TOOL_ANTHROPIC]},
            "`tool_use` ids were found without `tool_result` blocks immediately after: toolu_1",
        ),
        (
            [{"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_9", "content": "x"}]}],
            {"tools": [WEATHER_TOOL_ANTHROPIC]},
            "unexpected `tool_use_id` found in `tool_result` blocks: toolu_9",
        ),
        (
            [
                {"role": "user", "content": "a"},
                {"role": "assistant", "content": [TOOL_USE]},
                {"role": "user", "content": [{"type": "text", "text": "first"}, {"type": "tool_result", "tool_use_id": "toolu_1", "content": "x"}]},
            ],
            {"tools": [WEATHER_TOOL_ANTHROPIC]},
            "`tool_result` blocks must come first",
        ),
        ([{"role": "user", "content": "a"}, {"role": "assistant", "content": [TOOL_USE]}, {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_1"}]}], {}, "must define tools"),
        ([{"role": "user", "content": [{"type": "text", "text": ""}]}], {}, "text content blocks must be non-empty"),
        ([{"role": "user", "content": "a"}], {"extra_body": {"response_format": {"type": "json_object"}}}, "response_format: Extra inputs are not permitted"),
        ([{"role": "user", "content": "a"}], {"extra_body": {"temperature": 1.5}}, "temperature: range: 0..1"),
        ([{"role": "user", "content": "a"}], {"tool_choice": {"type": "any"}}, "tool_choice may only be specified while providing tools"),
    ],
)
def test_anthropic_invalid_requests_are_bad_request_errors(messages, extra, needle) -> None:
    with pytest.raises(anthropic.BadRequestError) as caught:
        claude().messages.create(model="claude-sonnet-4-5", max_tokens=10, messages=messages, **extra)
    assert needle in caught.value.message
    assert caught.value.body["error"]["type"] == "invalid_request_error"


def test_anthropic_missing_max_tokens_and_version_are_refused() -> None:
    # The SDK always sends both, so these go raw: what a careless translator would send.
    headers = {"x-api-key": ANTHROPIC_KEY, "content-type": "application/json"}
    body = {"model": "claude-sonnet-4-5", "messages": [{"role": "user", "content": "hi"}]}
    no_version = httpx.post(f"{ANTHROPIC_URL}/v1/messages", headers=headers, json={**body, "max_tokens": 5})
    assert no_version.status_code == 400
    assert "anthropic-version" in no_version.json()["error"]["message"]
    headers["anthropic-version"] = "2023-06-01"
    no_max = httpx.post(f"{ANTHROPIC_URL}/v1/messages", headers=headers, json=body)
    assert no_max.status_code == 400
    assert no_max.json()["error"]["message"] == "max_tokens: Field required"


def test_anthropic_stream_cut_mid_way_never_stops() -> None:
    script(ANTHROPIC_URL, {"text": "a long answer that will not arrive whole", "cut_after": 4})
    with claude().messages.stream(model="claude-sonnet-4-5", max_tokens=100, messages=[{"role": "user", "content": "hi"}]) as stream:
        events = [event.type for event in stream]
    assert "message_stop" not in events and len(events) >= 3
