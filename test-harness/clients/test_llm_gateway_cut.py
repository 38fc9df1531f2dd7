"""Streams cut mid-way by the provider (the body ends before the provider's closing events):
through the gateway, each official SDK must see its API's error event and raise, not hang and
not end quietly as if the answer were whole.

Run by test-harness/tests/llm_gateway.rs (env: GATEWAY_URL, CLIENT_KEY, ANTHROPIC_FAKE_URL,
OPENAI_FAKE_URL, GPT_ON_ANTHROPIC, CLAUDE_ON_OPENAI).
"""

import os

import anthropic
import openai
import pytest

from llm_fake_control import script

GATEWAY_URL = os.environ.get("GATEWAY_URL", "")
CLIENT_KEY = os.environ.get("CLIENT_KEY", "")
ANTHROPIC_FAKE = os.environ.get("ANTHROPIC_FAKE_URL", "")
OPENAI_FAKE = os.environ.get("OPENAI_FAKE_URL", "")
GPT_ON_ANTHROPIC = os.environ.get("GPT_ON_ANTHROPIC", "")
CLAUDE_ON_OPENAI = os.environ.get("CLAUDE_ON_OPENAI", "")

pytestmark = pytest.mark.skipif(not GATEWAY_URL, reason="GATEWAY_URL is not set")


def openai_client() -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{GATEWAY_URL}/v1", api_key=CLIENT_KEY, max_retries=0)


def anthropic_client() -> anthropic.Anthropic:
    return anthropic.Anthropic(base_url=GATEWAY_URL, api_key=CLIENT_KEY, max_retries=0)


def test_openai_sdk_raises_when_the_anthropic_stream_is_cut() -> None:
    script(ANTHROPIC_FAKE, {"text": "a long answer that will not arrive whole", "cut_after": 5})
    stream = openai_client().chat.completions.create(
        model=GPT_ON_ANTHROPIC, messages=[{"role": "user", "content": "hi"}], stream=True
    )
    with pytest.raises(openai.APIError):
        list(stream)


def test_anthropic_sdk_raises_when_the_openai_stream_is_cut() -> None:
    script(OPENAI_FAKE, {"text": "a long answer that will not arrive whole", "cut_after": 5})
    with pytest.raises(anthropic.APIError):
        with anthropic_client().messages.stream(
            model=CLAUDE_ON_OPENAI, max_tokens=100, messages=[{"role": "user", "content": "hi"}]
        ) as stream:
            list(stream)
