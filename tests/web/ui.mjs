// The web UI end to end in headless Chromium, against a real daemon answering through the
// scripted provider server (started by crates/cli/tests/web_ui.rs, which also checks what the
// daemon and the provider saw). The scripted turns, in order:
//   1. a streamed markdown answer with a Rust code block
//   2. a memory_search tool call, 3. its answer
//   4. a bash tool call (needs approval), 5. the answer after it ran
//   6. a slow answer that never ends (stopped with Esc)
//   7. a provider error (shown with Retry), 8. the answer to the retry
//
// Environment: LOCALGPT_URL, LOCALGPT_GUARDED_URL and LOCALGPT_TOKEN (a daemon that requires
// the token), SCREENSHOTS (folder for the screenshots of each view; optional).

import assert from "node:assert/strict";
import { mkdirSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";
import { launch, watch } from "./browser.mjs";

const base = process.env.LOCALGPT_URL;
const guarded = process.env.LOCALGPT_GUARDED_URL;
const token = process.env.LOCALGPT_TOKEN;
const unready = process.env.LOCALGPT_UNREADY_URL;
const screenshots = process.env.SCREENSHOTS;
assert.ok(base && guarded && token, "LOCALGPT_URL, LOCALGPT_GUARDED_URL and LOCALGPT_TOKEN are required");
if (screenshots) mkdirSync(screenshots, { recursive: true });

const log = [];
const TIMEOUT = 15000;

async function shoot(page, name) {
  if (!screenshots) return;
  await page.screenshot({ path: join(screenshots, `${name}.png`) });
}

function step(name) {
  console.log(`- ${name}`);
}

/** A fresh browser with one page; its console errors are collected unless `watched` is false. */
async function openPage(options, watched = true) {
  const { context, close } = await launch(options);
  const page = context.pages()[0] || (await context.newPage());
  page.setDefaultTimeout(TIMEOUT);
  if (watched) watch(page, log);
  return { context, page, close };
}

async function ready(page) {
  await page.waitForSelector("body[data-ready=true]", { timeout: TIMEOUT });
}

async function send(page, text) {
  await page.fill("#prompt", text);
  await page.keyboard.press("Enter");
}

async function desktop() {
  const { context, page, close } = await openPage({ width: 1280, height: 820 });
  try {
    step("the app loads with the default model");
    await page.goto(base);
    await ready(page);
    assert.match(await page.textContent("#model-badge"), /openai\/gpt-test/);
    assert.equal(await page.getAttribute('nav a[data-view="chat"]', "aria-current"), "page");
    assert.equal(await page.getAttribute('nav a[data-view="status"]', "aria-label"), "Status (new reports)");

    step("a streamed answer renders as markdown with a highlighted code block");
    await send(page, "Write hello world in Rust");
    await page.waitForSelector(".msg.user .bubble >> text=Write hello world in Rust");
    await page.waitForSelector(".msg.assistant .code code .tok-keyword");
    // The whole answer has streamed in once Send is back.
    await page.waitForSelector("#send:not([hidden])");
    const answer = page.locator(".msg.assistant .markdown").first();
    assert.equal(await answer.locator("strong").textContent(), "plan");
    assert.match(await answer.locator(".code code").textContent(), /println!\("hi"\);/);
    assert.equal(await answer.locator(".code-head span").textContent(), "rust");
    await page.waitForFunction(() => location.hash.startsWith("#/chat/"));
    const firstSession = decodeURIComponent(await page.evaluate(() => location.hash.slice("#/chat/".length)));
    assert.ok(firstSession.length > 8, firstSession);
    await page.waitForSelector(`.session-link[aria-current=page] >> text=Write hello world in Rust`);

    step("the copy button copies the code");
    await context.grantPermissions(["clipboard-read", "clipboard-write"], { origin: base });
    await answer.locator("button.copy").click();
    await page.waitForSelector("button.copy >> text=Copied");
    assert.match(await page.evaluate(() => navigator.clipboard.readText()), /fn main\(\)/);

    step("a tool call shows inline with its arguments and result");
    await send(page, "Where is the canoe?");
    const tool = page.locator("details.tool").last();
    await tool.locator(".tool-state >> text=done").waitFor();
    assert.equal(await tool.locator(".tool-name").textContent(), "memory_search");
    assert.equal(await tool.getAttribute("open"), null, "tool details start folded");
    await tool.locator("summary").click();
    assert.match(await tool.locator(".tool-args").textContent(), /"query": "canoe"/);
    assert.match(await tool.locator(".tool-result").textContent(), /boathouse/);
    await page.waitForSelector(".msg.assistant >> text=The canoe is in the boathouse.");
    await page.waitForSelector("#send:not([hidden])");
    // What the turn cost: both model calls of it.
    assert.match(await page.locator(".msg.assistant .usage").last().textContent(), /1,2\d\d tokens \(1,2\d\d in, 3\d out\)/);
    await shoot(page, "chat-desktop");

    step("a new chat asks for approval before running bash; approving runs it");
    await page.click("#new-chat");
    await page.waitForFunction(() => location.hash === "#/chat");
    await page.waitForSelector(".welcome");
    await send(page, "Write approved.txt");
    const approval = page.locator(".approval");
    await approval.waitFor();
    assert.match(await approval.textContent(), /bash/);
    assert.match(await approval.locator("pre").textContent(), /echo approved > approved\.txt/);
    await shoot(page, "approval-desktop");
    await approval.locator("button >> text=Approve").click();
    await approval.locator(".approval-state >> text=Approved").waitFor();
    await page.locator("details.tool .tool-state >> text=done").last().waitFor();
    await page.waitForSelector(".msg.assistant >> text=Done: wrote approved.txt.");
    await page.waitForSelector("#send:not([hidden])");
    await page.waitForFunction((first) => location.hash.startsWith("#/chat/") && !location.hash.endsWith(first), firstSession);
    const secondSession = decodeURIComponent(await page.evaluate(() => location.hash.slice("#/chat/".length)));

    step("switching sessions shows each conversation; back and forward work");
    await page.click(`.session-link[data-id="${firstSession}"]`);
    await page.waitForSelector(".msg.user >> text=Where is the canoe?");
    assert.equal(await page.locator(".msg.user >> text=Write approved.txt").count(), 0);
    await page.goBack();
    await page.waitForSelector(".msg.user >> text=Write approved.txt");
    await page.goForward();
    await page.waitForSelector(".msg.user >> text=Where is the canoe?");

    step("reload keeps the session, rendered from its transcript");
    await page.reload();
    await ready(page);
    await page.waitForSelector(".msg.user >> text=Where is the canoe?");
    await page.waitForSelector(".msg.assistant .code code .tok-keyword");
    await page.locator("details.tool .tool-name >> text=memory_search").waitFor();
    assert.match(await page.locator(".msg.assistant .usage").last().textContent(), /1,2\d\d tokens/, "usage from the transcript");
    assert.equal(decodeURIComponent(await page.evaluate(() => location.hash)), `#/chat/${firstSession}`);

    step("rename the session");
    await page.click("#rename-session");
    await page.fill("#rename-input", "Rust and canoes");
    await page.keyboard.press("Enter");
    await page.waitForSelector("#chat-title >> text=Rust and canoes");
    await page.waitForSelector(`.session-link[data-id="${firstSession}"] >> text=Rust and canoes`);

    step("export the session as markdown");
    const [download] = await Promise.all([page.waitForEvent("download"), page.click("#export-session")]);
    assert.equal(download.suggestedFilename(), `localgpt-${firstSession}.md`);
    const exported = await download.path();
    const { readFileSync } = await import("node:fs");
    assert.match(readFileSync(exported, "utf8"), /Where is the canoe\?/);

    step("Esc stops an answer in progress");
    await page.click("#new-chat");
    await page.waitForSelector(".welcome");
    await send(page, "Count slowly");
    await page.waitForSelector(".msg.assistant .markdown >> text=Counting: one");
    await page.keyboard.press("Escape");
    await page.waitForSelector(".msg.assistant .note >> text=Stopped.");
    await page.waitForSelector("#send:not([hidden])");

    step("a failed turn shows the error with Retry; the model picked for the chat is used");
    await page.click("#new-chat");
    await page.waitForSelector(".welcome");
    await page.selectOption("#model-select", "openai/gpt-other");
    await send(page, "Fail once");
    const failure = page.locator(".msg.error");
    await failure.waitFor();
    assert.match(await failure.textContent(), /scripted refusal/);
    // The failed turn's session is named in the URL already; the retry continues it.
    await page.waitForFunction(() => location.hash.startsWith("#/chat/"));
    const failedSession = await page.evaluate(() => location.hash);
    await shoot(page, "error-desktop");
    await failure.locator("button >> text=Retry").click();
    await page.waitForSelector(".msg.assistant >> text=Recovered.");
    assert.equal(await page.locator(".msg.error").count(), 0);
    assert.equal(await page.locator(".msg.user >> text=Fail once").count(), 1, "a retry does not repeat the question");
    await page.waitForSelector("#send:not([hidden])");
    assert.equal(await page.inputValue("#model-select"), "openai/gpt-other");
    assert.equal(await page.evaluate(() => location.hash), failedSession);

    step("delete a session");
    await page.click(`.session-link[data-id="${secondSession}"]`);
    await page.waitForSelector(".msg.user >> text=Write approved.txt");
    page.once("dialog", (dialog) => dialog.accept());
    await page.click("#delete-session");
    await page.waitForFunction(() => location.hash === "#/chat");
    await page.waitForFunction((id) => !document.querySelector(`.session-link[data-id="${id}"]`), secondSession);

    step("memory search shows file, headings and the marked match; a hit opens the file there");
    await page.click('nav a[data-view="memory"]');
    await page.fill("#search-input", "boathouse");
    await page.keyboard.press("Enter");
    const hit = page.locator("button.hit").first();
    await hit.waitFor();
    assert.match(await hit.locator(".hit-path").textContent(), /MEMORY\.md:\d+/);
    assert.equal(await hit.locator("mark").first().textContent(), "boathouse");
    assert.match(page.url(), /#\/memory\?q=boathouse/);
    await page.waitForSelector("#index-stats dd");
    await shoot(page, "memory-desktop");
    await hit.click();
    await page.waitForSelector("#viewer-lines li.hit-line >> text=The canoe is in the boathouse.");
    await shoot(page, "memory-file-desktop");

    step("reindex reports progress and finishes");
    await page.click("#viewer-close");
    await page.click("#reindex");
    await page.waitForSelector("#reindex-status >> text=/^Done: /");

    step("status shows the daemon, heartbeat, jobs, log");
    await page.click('nav a[data-view="status"]');
    await page.waitForSelector("#status-daemon dd >> text=openai/gpt-test");
    await page.waitForSelector("#status-daemon dt >> text=Sandbox");
    await page.waitForSelector("#status-daemon dd >> text=/^auto(, fully enforced| — not enforced: )/");
    await page.waitForSelector("#status-heartbeat dt >> text=Next run");
    await page.waitForSelector("#status-jobs >> text=digest");
    await page.waitForSelector("#status-events >> text=The milk is low.");
    assert.equal(await page.getAttribute('nav a[data-view="status"]', "aria-label"), "Status");
    await page.waitForFunction(() => document.querySelector("#status-log").textContent.length > 20);
    await shoot(page, "status-desktop");
    await page.click('nav a[data-view="chat"]');
    await page.reload();
    await ready(page);
    assert.equal(await page.getAttribute('nav a[data-view="status"]', "aria-label"), "Status", "seen reports stay seen");
  } catch (error) {
    if (screenshots) await page.screenshot({ path: join(screenshots, "failure.png") }).catch(() => {});
    throw error;
  } finally {
    await close();
  }
}

async function phone() {
  const { page, close } = await openPage({ width: 390, height: 844, mobile: true });
  try {
    step("on a phone the conversation list folds away and opens from the menu button");
    await page.goto(base);
    await ready(page);
    assert.equal(await page.isVisible("#sessions-toggle"), true);
    const box = await page.locator("#sessions").boundingBox();
    assert.ok(!box || box.x + box.width <= 1, `the list should be off screen: ${JSON.stringify(box)}`);
    await page.click("#sessions-toggle");
    const link = page.locator(".session-link >> text=Rust and canoes");
    await link.waitFor({ state: "visible" });
    await page.waitForTimeout(250); // the slide-in transition
    await shoot(page, "sessions-phone");
    await link.click();
    await page.waitForSelector(".msg.user >> text=Where is the canoe?");
    await page.waitForTimeout(250); // the slide-out transition
    await shoot(page, "chat-phone");
    const width = await page.evaluate(() => document.documentElement.scrollWidth);
    assert.ok(width <= 390, `no sideways scrolling on a phone (page is ${width}px wide)`);
    await page.click('nav a[data-view="memory"]');
    await page.fill("#search-input", "tomatoes");
    await page.keyboard.press("Enter");
    await page.locator("button.hit").first().waitFor();
    await shoot(page, "memory-phone");
    await page.click('nav a[data-view="status"]');
    await page.waitForSelector("#status-daemon dd >> text=openai/gpt-test");
    await shoot(page, "status-phone");
  } finally {
    await close();
  }
}

async function dark() {
  const { page, close } = await openPage({ width: 1280, height: 820, colorScheme: "dark" });
  try {
    step("the dark theme follows the system setting");
    await page.goto(base);
    await ready(page);
    await page.click(".session-link >> text=Rust and canoes");
    await page.waitForSelector(".msg.assistant .code code .tok-keyword");
    const background = await page.evaluate(() => getComputedStyle(document.body).backgroundColor);
    const [red, green, blue] = background.match(/\d+/g).map(Number);
    assert.ok(red + green + blue < 150, `a dark page background, not ${background}`);
    await shoot(page, "chat-dark");
  } finally {
    await close();
  }
}

/** axe-core's WCAG 2 A/AA and best-practice rules on each view, with content in it. */
async function accessibility(colorScheme) {
  const axe = createRequire(import.meta.url).resolve("axe-core/axe.min.js");
  // axe is injected as a script, which the page's content security policy would refuse.
  const { page, close } = await openPage({ width: 1280, height: 820, bypassCSP: true, colorScheme }, false);
  const audit = async (view) => {
    await page.addScriptTag({ path: axe });
    const result = await page.evaluate(() =>
      window.axe.run(document, { runOnly: ["wcag2a", "wcag2aa", "best-practice"] }),
    );
    const found = result.violations.map(
      (violation) =>
        `${view} (${colorScheme}): ${violation.id} (${violation.impact}) ${violation.help}: ` +
        violation.nodes.map((node) => node.target.join(" ")).join(", "),
    );
    assert.deepEqual(found, [], "accessibility problems");
  };
  try {
    step(`the views pass axe-core's WCAG 2 A/AA and best-practice checks (${colorScheme} theme)`);
    await page.goto(base);
    await ready(page);
    await page.click(".session-link >> text=Rust and canoes");
    await page.waitForSelector(".msg.assistant .code");
    await page.locator("details.tool summary").first().click();
    await audit("chat");
    await page.click('nav a[data-view="memory"]');
    await page.fill("#search-input", "canoe");
    await page.keyboard.press("Enter");
    await page.locator("button.hit").first().waitFor();
    await audit("memory results");
    await page.locator("button.hit").first().click();
    await page.waitForSelector("#viewer-lines li.hit-line");
    await audit("memory file");
    await page.click('nav a[data-view="status"]');
    await page.waitForSelector("#status-daemon dd");
    await page.waitForFunction(() => document.querySelector("#status-log").textContent.length > 20);
    await audit("status");
  } finally {
    await close();
  }
}

async function tokenPrompt() {
  const { page, close } = await openPage({ width: 1024, height: 700 });
  try {
    step("a daemon that requires its token asks for it; a wrong one is refused");
    await page.goto(guarded);
    const dialog = page.locator("#token-dialog");
    await dialog.waitFor({ state: "visible" });
    await shoot(page, "token-desktop");
    await page.fill("#token-input", "wrong-token");
    await page.keyboard.press("Enter");
    await page.waitForSelector("#token-error >> text=That token was not accepted.");
    await page.fill("#token-input", token);
    await page.keyboard.press("Enter");
    await ready(page);
    assert.match(await page.textContent("#model-badge"), /openai\/gpt-test/);
    assert.ok(!page.url().includes(token), "the token never goes into the URL");
    assert.equal(await page.evaluate(() => sessionStorage.getItem("localgpt.token")), token);

    step("the token lasts for the tab: a reload does not ask again");
    await page.reload();
    await ready(page);
    assert.equal(await dialog.isVisible(), false);

    step("what a stranger's message produced waits in Status; opening it shows the text");
    await page.click('nav a[data-view="status"]');
    const artifact = page.locator("#status-artifacts button[data-artifact]");
    await artifact.waitFor();
    assert.match(await artifact.textContent(), /Where is the canoe\? Tell me everything\./);
    await artifact.click();
    await page.waitForSelector("#artifact-view >> text=A stranger asks where the canoe is.");
    await page.waitForSelector("#status-daemon dd >> text=/telegram|not set up/");
  } finally {
    await close();
  }
}

async function modelNotReady() {
  const { page, close } = await openPage({ width: 1024, height: 700 });
  try {
    step("with no model installed, the page works and a chat names the command that fixes it");
    await page.goto(unready);
    await ready(page);
    await send(page, "Where is the canoe?");
    const banner = page.locator(".msg.error");
    await banner.waitFor();
    assert.match(await banner.textContent(), /localgpt models pull smollm2-135m/);
    assert.equal(await banner.locator("code").count() > 0, true, "the command is shown as code");
    assert.equal(await banner.locator("button").count(), 0, "no Retry: retrying cannot help");
    await shoot(page, "model-missing-desktop");

    step("Status says the model is not ready and why");
    await page.click('nav a[data-view="status"]');
    await page.waitForSelector("#status-daemon dd >> text=/not ready: .*models pull smollm2-135m/");

    step("memory search works by keywords without any model");
    await page.click('nav a[data-view="memory"]');
    await page.fill("#search-input", "canoe");
    await page.keyboard.press("Enter");
    await page.waitForSelector("#search-results >> text=MEMORY.md");
  } finally {
    await close();
  }
}

try {
  await modelNotReady();
  await desktop();
  await phone();
  await dark();
  await accessibility("light");
  await accessibility("dark");
  await tokenPrompt();
  const problems = log.filter((line) => !line.includes("401 (Unauthorized)"));
  assert.deepEqual(problems, [], "the pages logged errors");
  console.log("web UI: all steps passed");
} catch (error) {
  console.error(error);
  if (log.length) console.error("browser log:\n" + log.join("\n"));
  process.exit(1);
}
