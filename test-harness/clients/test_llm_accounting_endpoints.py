"""The official `openai` SDK's embeddings and Responses calls through the gateway, passed through
to the OpenAI fake (plain and streamed Responses); the Rust side
(test-harness/tests/llm_accounting.rs) compares Envoy's token counts with the fake's usage.

Env: GATEWAY_URL, CLIENT_KEY, OPENAI_MODEL, EMBEDDING_MODEL.
"""

import os

import openai
import pytest

GATEWAY_URL = os.environ.get("GATEWAY_URL", "")
CLIENT_KEY = os.environ.get("CLIENT_KEY", "")
MODEL = os.environ.get("OPENAI_MODEL", "")
EMBEDDING_MODEL = os.environ.get("EMBEDDING_MODEL", "")

pytestmark = pytest.mark.skipif(not GATEWAY_URL, reason="GATEWAY_URL is not set")


def client() -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{GATEWAY_URL}/v1", api_key=CLIENT_KEY, max_retries=0)


def test_embeddings_report_usage() -> None:
    result = client().embeddings.create(model=EMBEDDING_MODEL, input="The food was delicious")
    assert len(result.data) == 1 and result.data[0].embedding
    assert result.usage.prompt_tokens == 4


def test_responses_report_usage() -> None:
    response = client().responses.create(model=MODEL, input="tell me a short story")
    assert response.output_text == "echo: tell me a short story"
    assert response.usage.input_tokens == 5


def test_streamed_responses_report_usage() -> None:
    stream = client().responses.create(model=MODEL, input="stream a story", stream=True)
    events = list(stream)
    assert events[-1].type == "response.completed"
    assert events[-1].response.usage.total_tokens > 0
