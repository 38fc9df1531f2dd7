// Drives Debian's chromium (headless, through playwright-core) to a page and reports what the page
// shows as one JSON line on stdout: {status, state, tools, result, console}. Optionally saves a
// screenshot. Usage:
//   node drive.mjs --page <url> [--screenshot <png>] [--timeout-ms <n>]
// The page must end in #status[data-state=done|error] (page.html does). A page that never gets
// there is reported with state "timeout", not as a crash, so the test can show what it saw.
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { chromium } from "playwright-core";

const { values } = parseArgs({
  options: {
    page: { type: "string" },
    screenshot: { type: "string" },
    "timeout-ms": { type: "string", default: "60000" },
  },
});
if (!values.page) {
  console.error("usage: node drive.mjs --page <url> [--screenshot <png>] [--timeout-ms <n>]");
  process.exit(2);
}
const timeout = Number(values["timeout-ms"]);

// Flags this machine needs: no GPU, no sandbox (root in a container), no QUIC or background
// traffic to Google services (there is no network but loopback), a fresh profile per run.
const args = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

const profile = await mkdtemp(join(tmpdir(), "chromium-profile-"));
const messages = [];
let context;
try {
  // A persistent context is how playwright takes a user-data-dir of our choosing.
  context = await chromium.launchPersistentContext(profile, {
    executablePath: "/usr/bin/chromium",
    headless: true,
    args,
    viewport: { width: 900, height: 640 },
    timeout,
  });
  const page = context.pages()[0] ?? (await context.newPage());
  page.on("console", (message) => messages.push(`${message.type()}: ${message.text()}`));
  page.on("pageerror", (error) => messages.push(`pageerror: ${error.message}`));
  page.on("requestfailed", (request) =>
    messages.push(`requestfailed: ${request.method()} ${request.url()} ${request.failure()?.errorText ?? ""}`),
  );
  await page.goto(values.page, { timeout });
  let state = "timeout";
  try {
    await page.waitForSelector('#status[data-state="done"], #status[data-state="error"]', { timeout });
    state = await page.getAttribute("#status", "data-state");
  } catch {
    // Reported below as state "timeout" with whatever the page shows.
  }
  const report = {
    state,
    status: await page.textContent("#status"),
    tools: await page.$$eval("#tools li", (items) => items.map((item) => item.textContent)),
    result: await page.textContent("#result"),
    console: messages,
  };
  if (values.screenshot) await page.screenshot({ path: values.screenshot, fullPage: true });
  console.log(JSON.stringify(report));
} finally {
  await context?.close().catch(() => undefined);
  await rm(profile, { recursive: true, force: true });
}
