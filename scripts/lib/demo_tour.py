"""The tour scripts/demo prints once the gateway serves: ready-to-paste commands per route."""

ACCEPT = "-H 'content-type: application/json' -H 'accept: application/json, text/event-stream'"


def mcp_lines(base: str, admin: int, openapi: bool) -> str:
    """The /mcp endpoint: curl with the session header, an OpenAPI tool, the SDK client."""
    openapi_call = f"""
    an OpenAPI operation as a tool (clinic_getPet → GET /pets/{{pet_id}} on the REST API):
      curl -s {ACCEPT} -H "Mcp-Session-Id: $SID" -H 'MCP-Protocol-Version: 2025-11-25' {base}/mcp \\
        -d '{{"jsonrpc":"2.0","id":4,"method":"tools/call","params":{{"name":"clinic_getPet",
            "arguments":{{"pet_id":1}}}}}}'""" if openapi else ""
    return f"""    initialize (prints the gateway's Mcp-Session-Id):
      SID=$(curl -s -D - -o /dev/null {ACCEPT} {base}/mcp \\
        -d '{{"jsonrpc":"2.0","id":1,"method":"initialize","params":{{"protocolVersion":"2025-11-25",
            "capabilities":{{}},"clientInfo":{{"name":"curl","version":"1"}}}}}}' \\
        | tr -d '\\r' | awk -F': ' 'tolower($1)=="mcp-session-id"{{print $2}}'); echo "$SID"
    tools/list:
      curl -s {ACCEPT} -H "Mcp-Session-Id: $SID" -H 'MCP-Protocol-Version: 2025-11-25' {base}/mcp \\
        -d '{{"jsonrpc":"2.0","id":2,"method":"tools/list"}}'
    tools/call:
      curl -s {ACCEPT} -H "Mcp-Session-Id: $SID" -H 'MCP-Protocol-Version: 2025-11-25' {base}/mcp \\
        -d '{{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{{"name":"session_add",
            "arguments":{{"a":2,"b":3}}}}}}'{openapi_call}
    Python `mcp` SDK client (paste as is). It speaks 2026-07-28 (the gateway bridges it to the
    session-based server-everything); add mode="legacy" for the session-based protocol:
.venv/bin/python - <<'PY'
import asyncio
from mcp import Client
async def main():
    async with Client("{base}/mcp") as client:
        print([tool.name for tool in (await client.list_tools()).tools])
        print((await client.call_tool("everything_echo", {{"message": "hi"}})).content)
asyncio.run(main())
PY
    metrics:   curl -s http://127.0.0.1:{admin}/stats/prometheus | grep mcp_
"""


def llm_lines(base: str, admin: int, providers: dict[str, str]) -> str:
    """The LLM endpoints: both client APIs, each to both providers."""
    chat = "-H 'content-type: application/json'"
    return f"""  LLM          {base}/v1/chat/completions (OpenAI API), {base}/v1/messages (Anthropic API)
    providers: OpenAI {providers["openai"]}; Anthropic {providers["anthropic"]}
               (claude-* models go to Anthropic, every other model to OpenAI; the gateway holds the keys)
    OpenAI client → Anthropic (translated):
      curl -s {chat} {base}/v1/chat/completions \\
        -d '{{"model":"claude-haiku-4-5","max_tokens":64,"messages":[{{"role":"user","content":"Hello"}}]}}'
    OpenAI client → OpenAI:
      curl -s {chat} {base}/v1/chat/completions \\
        -d '{{"model":"gpt-4o-mini","messages":[{{"role":"user","content":"Hello"}}]}}'
    Anthropic client → Anthropic:
      curl -s {chat} -H 'anthropic-version: 2023-06-01' {base}/v1/messages \\
        -d '{{"model":"claude-haiku-4-5","max_tokens":64,"messages":[{{"role":"user","content":"Hello"}}]}}'
    Anthropic client → OpenAI (translated), streamed:
      curl -sN {chat} -H 'anthropic-version: 2023-06-01' {base}/v1/messages \\
        -d '{{"model":"gpt-4o-mini","max_tokens":64,"stream":true,"messages":[{{"role":"user","content":"Hello"}}]}}'
    metrics:   curl -s http://127.0.0.1:{admin}/stats/prometheus | grep -E 'llm_|gen_ai_'
"""


def inference_lines(base: str, admin: int, epp: str, servers: list[str]) -> str:
    """The inference route: ext_proc asks the fake EPP, the inference filter checks its pick."""
    return f"""  Inference    {base}/inference/v1/…   (pool "demo": model servers {", ".join(servers)};
               fake endpoint picker {epp} picks the first; the answer's x-served-by says who served)
    completion:
      curl -si -H 'content-type: application/json' {base}/inference/v1/chat/completions \\
        -d '{{"model":"llama-3","messages":[{{"role":"user","content":"Hello"}}]}}'
    metrics:   curl -s http://127.0.0.1:{admin}/stats/prometheus | grep inference_
"""


def a2a_lines(base: str, admin: int, agent_port: int) -> str:
    """The A2A agent route."""
    return f"""  A2A agent    {base}/a2a/demo/   (a2a-sdk echo agent on 127.0.0.1:{agent_port})
    card:      curl {base}/a2a/demo/.well-known/agent-card.json
    message:   curl -H 'content-type: application/json' -H 'A2A-Version: 1.0' {base}/a2a/demo/ \\
                 -d '{{"jsonrpc":"2.0","id":1,"method":"SendMessage","params":{{"message":
                 {{"messageId":"m1","role":"ROLE_USER","parts":[{{"text":"hello gateway"}}]}}}}}}'
    metrics:   curl -s http://127.0.0.1:{admin}/stats/prometheus | grep a2a_
"""


def authz_lines(base: str, admin: int, idp: dict) -> str:
    """The authz filter in front of every route: tokens optional, a sent token must verify."""
    return f"""  Auth         authz filter in front of every route: no token passes (anonymous), a token sent
               must verify against the demo IdP's keys ({idp["jwksUrl"]}); its `sub` goes upstream as x-user
    metadata:  curl -s {base}/.well-known/oauth-protected-resource/mcp
    bad token: curl -si -H 'authorization: Bearer not-a-jwt' {base}/a2a/demo/.well-known/agent-card.json
    demo token (valid for a day):
      TOKEN={idp["token"]}
      curl -s -H "authorization: Bearer $TOKEN" {base}/a2a/demo/.well-known/agent-card.json
    metrics:   curl -s http://127.0.0.1:{admin}/stats/prometheus | grep authz_
"""
