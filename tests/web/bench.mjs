// Web UI benchmark: page weight, time to interactive, and the latency from a token reaching the
// daemon to it showing in the page. A small OpenAI-compatible server here streams each answer
// and notes when it sends the first token; the page notes when that token appears in the DOM.
// Both use the machine's clock (performance.timeOrigin + performance.now()).
//
// Usage: node tests/web/bench.mjs [turns]   (LOCALGPT_BIN: the binary, default `localgpt`)

import { execFileSync } from "node:child_process";
import { mkdtempSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { launch } from "./browser.mjs";

const turns = Number(process.argv[2] || 20);
const binary = process.env.LOCALGPT_BIN || "localgpt";
const now = () => performance.timeOrigin + performance.now();

// The provider: waits a little (so the page is surely waiting), then streams three chunks.
const sentAt = [];
const provider = createServer((request, response) => {
  let body = "";
  request.on("data", (chunk) => (body += chunk));
  request.on("end", async () => {
    const chunk = (delta, finish = null) =>
      `data: ${JSON.stringify({
        id: "bench",
        object: "chat.completion.chunk",
        created: 0,
        model: "bench",
        choices: [{ index: 0, delta, finish_reason: finish }],
      })}\n\n`;
    response.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache" });
    await new Promise((resolve) => setTimeout(resolve, 150));
    sentAt.push(now());
    response.write(chunk({ role: "assistant", content: "Token" }));
    await new Promise((resolve) => setTimeout(resolve, 20));
    response.write(chunk({ content: " two" }));
    response.write(chunk({}, "stop"));
    response.end("data: [DONE]\n\n");
  });
});
await new Promise((resolve) => provider.listen(0, "127.0.0.1", resolve));
const providerUrl = `http://127.0.0.1:${provider.address().port}/v1`;

const home = mkdtempSync(join(tmpdir(), "localgpt-bench-"));
mkdirSync(join(home, "workspace"), { recursive: true });
writeFileSync(
  join(home, "config.toml"),
  `[agent]\ndefault_model = "openai/bench"\n\n[providers.openai]\nbase_url = "${providerUrl}"\napi_key = "sk-bench"\n\n` +
    `[memory]\nembedding = "none"\n\n[heartbeat]\nenabled = false\n\n[server]\nport = 0\n`,
);
const env = { ...process.env, LOCALGPT_HOME: home, HOME: home };
execFileSync(binary, ["daemon", "start"], { env, stdio: "inherit" });
const base = `http://${readFileSync(join(home, "state/daemon.pid"), "utf8").split("\n")[1]}`;

function stats(values) {
  const sorted = [...values].sort((a, b) => a - b);
  const at = (q) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
  return { p50: at(0.5), p90: at(0.9), min: sorted[0], max: sorted[sorted.length - 1] };
}

const { context, close } = await launch({ width: 1280, height: 800 });
try {
  // Page weight and time to interactive, cold (a fresh cache each time).
  const weights = [];
  const ready = [];
  for (let run = 0; run < 10; run++) {
    const page = await context.newPage();
    const cdp = await context.newCDPSession(page);
    await cdp.send("Network.enable");
    await cdp.send("Network.setCacheDisabled", { cacheDisabled: true });
    let transferred = 0;
    cdp.on("Network.loadingFinished", (event) => (transferred += event.encodedDataLength));
    await page.goto(base);
    await page.waitForSelector("body[data-ready=true]");
    ready.push(await page.evaluate(() => performance.getEntriesByName("localgpt-ready")[0].startTime));
    await page.waitForLoadState("networkidle");
    weights.push(transferred);
    await page.close();
  }

  // First token: provider → daemon → SSE → page.
  const page = await context.newPage();
  await page.goto(base);
  await page.waitForSelector("body[data-ready=true]");
  const latencies = [];
  for (let turn = 0; turn < turns; turn++) {
    await page.evaluate(() => {
      window.__tokenSeenAt = null;
      const log = document.getElementById("messages");
      const earlier = log.querySelectorAll(".msg.assistant .markdown").length;
      const observer = new MutationObserver(() => {
        const answers = log.querySelectorAll(".msg.assistant .markdown");
        const last = answers.length > earlier ? answers[answers.length - 1] : null;
        if (last && last.textContent.includes("Token") && !window.__tokenSeenAt) {
          window.__tokenSeenAt = performance.timeOrigin + performance.now();
          observer.disconnect();
        }
      });
      observer.observe(log, { childList: true, subtree: true, characterData: true });
    });
    const before = sentAt.length;
    await page.fill("#prompt", `Question ${turn}`);
    await page.keyboard.press("Enter");
    await page.waitForFunction(() => window.__tokenSeenAt !== null);
    await page.waitForSelector("#send:not([hidden])");
    const seen = await page.evaluate(() => window.__tokenSeenAt);
    latencies.push(seen - sentAt[before]);
  }
  const weight = stats(weights);
  const tti = stats(ready);
  const latency = stats(latencies);
  console.log(`page weight (bytes transferred, gzip, cold): median ${weight.p50} (min ${weight.min}, max ${weight.max})`);
  console.log(`time to interactive (navigation to app ready, cold cache, 10 loads): p50 ${tti.p50.toFixed(1)} ms, p90 ${tti.p90.toFixed(1)} ms`);
  console.log(
    `first token, provider send → visible in page (${turns} turns): p50 ${latency.p50.toFixed(1)} ms, p90 ${latency.p90.toFixed(1)} ms, min ${latency.min.toFixed(1)} ms, max ${latency.max.toFixed(1)} ms`,
  );
} finally {
  await close();
  execFileSync(binary, ["daemon", "stop"], { env, stdio: "inherit" });
  provider.close();
  rmSync(home, { recursive: true, force: true });
}
