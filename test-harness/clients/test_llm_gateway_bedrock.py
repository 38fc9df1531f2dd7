"""The official `openai` SDK, unchanged, pointed at the gateway and reaching the Bedrock fake
(Converse / ConverseStream, SigV4-signed by the gateway, eventstream decoded by it).

Run by test-harness/tests/llm_gateway.rs (env: GATEWAY_URL, CLIENT_KEY, BEDROCK_FAKE_URL,
BEDROCK_ALIAS: the model alias the gateway sends to Bedrock).
"""

import os

import openai
import pytest

from llm_fake_control import received

GATEWAY_URL = os.environ.get("GATEWAY_URL", "")
CLIENT_KEY = os.environ.get("CLIENT_KEY", "")
FAKE = os.environ.get("BEDROCK_FAKE_URL", "")
MODEL = os.environ.get("BEDROCK_ALIAS", "")

pytestmark = pytest.mark.skipif(not (GATEWAY_URL and FAKE), reason="GATEWAY_URL is not set")


def client() -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{GATEWAY_URL}/v1", api_key=CLIENT_KEY, max_retries=0)


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
