"""Token accounting through the gateway with the official SDKs, unchanged: the `openai` SDK
(plain, streaming with and without usage) and the `anthropic` SDK (plain, streaming), each on a
model of its own API (passed through) and on one the gateway translates. The Rust side
(test-harness/tests/llm_accounting.rs) then compares Envoy's token metrics with the usage the
fakes reported.

A streaming OpenAI client that did not ask for usage must see exactly what it asked for: no
usage-only chunk and no `usage` field, although the gateway asked the provider for it.

Env: GATEWAY_URL, CLIENT_KEY, OPENAI_MODEL (OpenAI, passed through), GPT_ON_ANTHROPIC (OpenAI
client, Anthropic provider), ANTHROPIC_MODEL (Anthropic, passed through), CLAUDE_ON_OPENAI
(Anthropic client, OpenAI provider), OPENAI_FAKE_URL.
"""

import os

import anthropic
import openai
import pytest

from llm_fake_control import last_body

GATEWAY_URL = os.environ.get("GATEWAY_URL", "")
CLIENT_KEY = os.environ.get("CLIENT_KEY", "")
OPENAI_MODELS = [os.environ.get("OPENAI_MODEL", ""), os.environ.get("GPT_ON_ANTHROPIC", "")]
ANTHROPIC_MODELS = [
    os.environ.get("ANTHROPIC_MODEL", ""),
    os.environ.get("CLAUDE_ON_OPENAI", ""),
]
OPENAI_FAKE = os.environ.get("OPENAI_FAKE_URL", "")

pytestmark = pytest.mark.skipif(not GATEWAY_URL, reason="GATEWAY_URL is not set")


def openai_client() -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{GATEWAY_URL}/v1", api_key=CLIENT_KEY, max_retries=0)


def anthropic_client() -> anthropic.Anthropic:
    return anthropic.Anthropic(base_url=GATEWAY_URL, api_key=CLIENT_KEY, max_retries=0)


@pytest.mark.parametrize("model", OPENAI_MODELS)
def test_openai_plain_reports_usage(model: str) -> None:
    completion = openai_client().chat.completions.create(
        model=model, messages=[{"role": "user", "content": "count my tokens please"}]
    )
    assert completion.usage is not None
    assert completion.usage.prompt_tokens > 0
    assert completion.usage.completion_tokens > 0


@pytest.mark.parametrize("model", OPENAI_MODELS)
def test_openai_stream_with_usage_asked(model: str) -> None:
    stream = openai_client().chat.completions.create(
        model=model,
        messages=[{"role": "user", "content": "stream and count these tokens"}],
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(stream)
    usage = [c.usage for c in chunks if c.usage is not None]
    assert len(usage) == 1 and usage[0].completion_tokens > 0, chunks[-3:]


@pytest.mark.parametrize("model", OPENAI_MODELS)
def test_openai_stream_without_usage_sees_none(model: str) -> None:
    stream = openai_client().chat.completions.create(
        model=model,
        messages=[{"role": "user", "content": "stream without asking for usage"}],
        stream=True,
    )
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text, chunks
    assert all(c.usage is None for c in chunks), chunks
    assert all(c.choices for c in chunks), "no usage-only chunk"
    # Every chunk as the client received it: no `usage` key at all.
    assert all("usage" not in c.model_dump(exclude_unset=True) for c in chunks), chunks
    if model == OPENAI_MODELS[0]:
        # ... although the gateway asked the provider for it.
        assert last_body(OPENAI_FAKE)["stream_options"] == {"include_usage": True}


@pytest.mark.parametrize("model", ANTHROPIC_MODELS)
def test_anthropic_plain_reports_usage(model: str) -> None:
    message = anthropic_client().messages.create(
        model=model,
        max_tokens=200,
        messages=[{"role": "user", "content": "count my tokens please"}],
    )
    assert message.usage.input_tokens > 0
    assert message.usage.output_tokens > 0


@pytest.mark.parametrize("model", ANTHROPIC_MODELS)
def test_anthropic_stream_reports_usage(model: str) -> None:
    with anthropic_client().messages.stream(
        model=model,
        max_tokens=200,
        messages=[{"role": "user", "content": "stream and count these tokens"}],
    ) as stream:
        for _ in stream:
            pass
        final = stream.get_final_message()
    assert final.usage.input_tokens > 0
    assert final.usage.output_tokens > 0
