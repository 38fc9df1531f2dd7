// The page's MCP client: the TypeScript SDK's Client over StreamableHTTPClientTransport, as a web
// app would use it. It lists the gateway's tools, calls one, and writes both into the page; the
// driver (drive.mjs) reads the page, so every outcome, including a failure, ends in #status.
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";

const query = new URLSearchParams(location.search);

function element(id: string): HTMLElement {
  const found = document.getElementById(id);
  if (!found) throw new Error(`page has no #${id}`);
  return found;
}

function finish(state: "done" | "error", text: string): void {
  const status = element("status");
  status.dataset.state = state;
  status.textContent = text;
}

async function run(): Promise<void> {
  const gateway = query.get("mcp");
  const tool = query.get("tool");
  if (!gateway || !tool) throw new Error("the page needs ?mcp=<url>&tool=<name>");
  const args = JSON.parse(query.get("args") ?? "{}");
  element("origin").textContent = location.origin;
  element("gateway").textContent = gateway;
  element("tool").textContent = tool;

  const client = new Client({ name: "browser-page", version: "1.0.0" });
  const transport = new StreamableHTTPClientTransport(new URL(gateway));
  await client.connect(transport);
  const { tools } = await client.listTools();
  const list = element("tools");
  for (const { name } of tools) {
    const item = document.createElement("li");
    item.textContent = name;
    list.append(item);
  }
  const result = await client.callTool({ name: tool, arguments: args });
  const content = Array.isArray(result.content) ? result.content : [];
  element("result").textContent = content
    .map((part: { type: string; text?: string }) => (part.type === "text" ? part.text : JSON.stringify(part)))
    .join("\n");
  // The session token is long; its start is enough to show the page could read it.
  const session = transport.sessionId ? `${transport.sessionId.slice(0, 16)}…` : "(none)";
  finish("done", `done: ${tools.length} tools, session ${session}`);
  await transport.terminateSession().catch(() => undefined);
  await client.close();
}

run().catch((error: unknown) => finish("error", `error: ${error instanceof Error ? error.message : String(error)}`));
