"""Scripting and inspecting the harness's LLM provider fakes (test-harness/src/llm_fake) from
Python tests: every fake serves /_fake/script and /_fake/requests next to its provider API."""

import httpx


def script(fake_url: str, answer: dict) -> None:
    """Queues the fake's answer to the next valid request, e.g. {"text": "hi"},
    {"tool_call": {"name": "f", "arguments": {}}}, {"error": 429, "retry_after": 7},
    optionally with "cut_after": n or "reset_after": n (stream frames sent before the cut)."""
    httpx.post(f"{fake_url}/_fake/script", json=answer, timeout=10).raise_for_status()


def received(fake_url: str) -> list[dict]:
    """Every request the fake received: method, path, headers (lower-case names), JSON body."""
    response = httpx.get(f"{fake_url}/_fake/requests", timeout=10)
    response.raise_for_status()
    return response.json()


def last_body(fake_url: str) -> dict:
    """The JSON body of the last request the fake received."""
    return received(fake_url)[-1]["body"]
