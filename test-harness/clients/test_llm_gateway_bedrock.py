"""The official `openai` and `anthropic` SDKs, unchanged, pointed at the gateway and reaching
the Bedrock fake (Converse / ConverseStream; the fake verifies the gateway's SigV4 signature and
the gateway decodes the fake's CRC-checked eventstream).

Run by test-harness/tests/llm_gateway.rs (env: GATEWAY_URL, CLIENT_KEY, BEDROCK_FAKE_URL,
BEDROCK_ALIAS: the model alias the gateway sends to Bedrock).
"""

import json
import os

import anthropic
import openai
import pytest

from llm_fake_control import last_body, received, script

GATEWAY_URL = os.environ.get("GATEWAY_URL", "")
CLIENT_KEY = os.environ.get("CLIENT_KEY", "")
FAKE = os.environ.get("BEDROCK_FAKE_URL", "")
MODEL = os.environ.get("BEDROCK_ALIAS", "")

pytestmark = pytest.mark.skipif(not (GATEWAY_URL and FAKE), reason="GATEWAY_URL is not set")


WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}},
            "required": ["city"],
        },
    },
}


def client() -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{GATEWAY_URL}/v1", api_key=CLIENT_KEY, max_retries=0)


def claude() -> anthropic.Anthropic:
    return anthropic.Anthropic(base_url=GATEWAY_URL, api_key=CLIENT_KEY, max_retries=0)


def test_plain_completion() -> None:
    completion = client().chat.completions.create(
        model=MODEL, messages=[{"role": "user", "content": "hello there"}]
    )
    assert completion.choices[0].message.content == "echo: hello there"
    assert completion.usage.prompt_tokens == 2
    sent = received(FAKE)[-1]
    assert sent["path"].startswith("/model/") and sent["path"].endswith("/converse")
    assert sent["headers"]["authorization"].startswith("AWS4-HMAC-SHA256 ")


def test_streaming() -> None:
    stream = client().chat.completions.create(
        model=MODEL,
        messages=[{"role": "user", "content": "stream this please"}],
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "echo: stream this please"
    assert len([c for c in chunks if c.choices and c.choices[0].delta.content]) > 1
    finish = [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason]
    assert finish == ["stop"]
    usage = [c.usage for c in chunks if c.usage]
    assert usage and usage[-1].prompt_tokens == 3 and usage[-1].completion_tokens == 4
    assert received(FAKE)[-1]["path"].endswith("/converse-stream")


def test_tool_call_round_trip() -> None:
    script(FAKE, {"tool_call": {"name": "get_weather", "arguments": {"city": "Paris"}}})
    messages = [{"role": "user", "content": "weather in Paris?"}]
    first = client().chat.completions.create(model=MODEL, messages=messages, tools=[WEATHER_TOOL])
    assert first.choices[0].finish_reason == "tool_calls"
    call = first.choices[0].message.tool_calls[0]
    assert call.function.name == "get_weather" and json.loads(call.function.arguments) == {"city": "Paris"}
    messages.append(first.choices[0].message.model_dump(exclude_none=True))
    messages.append({"role": "tool", "tool_call_id": call.id, "content": "18C and sunny"})
    second = client().chat.completions.create(model=MODEL, messages=messages, tools=[WEATHER_TOOL])
    assert second.choices[0].message.content == "echo: 18C and sunny"
    sent = last_body(FAKE)["messages"]
    assert [m["role"] for m in sent] == ["user", "assistant", "user"]
    assert sent[2]["content"][0]["toolResult"]["toolUseId"] == sent[1]["content"][-1]["toolUse"]["toolUseId"]


def test_anthropic_sdk_streams_from_bedrock() -> None:
    with claude().messages.stream(
        model=MODEL, max_tokens=100, messages=[{"role": "user", "content": "stream this please"}]
    ) as stream:
        text = "".join(stream.text_stream)
        final = stream.get_final_message()
    assert text == "echo: stream this please"
    assert final.stop_reason == "end_turn"
    assert final.usage.input_tokens == 3 and final.usage.output_tokens == 4
    assert last_body(FAKE)["inferenceConfig"]["maxTokens"] == 100


def test_throttling_is_a_rate_limit_error() -> None:
    script(FAKE, {"error": 429})
    with pytest.raises(openai.RateLimitError):
        client().chat.completions.create(model=MODEL, messages=[{"role": "user", "content": "hi"}])
