// The status view: the daemon (model, uptime, queue, index), the heartbeat (last run, outcome,
// next run, tokens spent), background cost (today's and this month's spend against the caps, by
// origin and model), jobs and their last runs, tool calls waiting for approval, what
// untrusted sources produced, the reports of the heartbeat and jobs, and the log's last lines.
// It refreshes itself while it is shown.

import { api } from "./api.js";
import { duration, facts, when } from "./format.js";
import { escapeHtml } from "./markdown.js";

const $ = (id) => document.getElementById(id);
const REFRESH_MS = 10000;

function outcome(value) {
  if (!value) return "–";
  if (typeof value === "string") return value;
  switch (value.kind) {
    case "skipped":
      return `skipped: ${value.reason}`;
    case "ok":
      return "HEARTBEAT_OK (nothing to report)";
    case "delivered":
      return `reported: ${value.reply}`;
    case "duplicate":
      return "same report as before; not repeated";
    case "failed":
      return `failed: ${value.message}`;
    default:
      return value.kind || JSON.stringify(value);
  }
}

/** Tokens and dollars of a period against its caps. */
function spend(period, tokenCap, usdCap) {
  if (!period) return "–";
  const usd = (period.usd ?? 0).toFixed(2);
  return `${period.input_tokens + period.output_tokens} of ${tokenCap} tokens, $${usd} of $${Number(usdCap).toFixed(2)} (${period.calls} calls)`;
}

/** A map of name → spend as one line each, largest first. */
function spenders(map) {
  const entries = Object.entries(map || {}).sort(
    ([, a], [, b]) => b.input_tokens + b.output_tokens - (a.input_tokens + a.output_tokens),
  );
  if (!entries.length) return "none";
  return entries
    .map(([name, s]) => `${name}: ${s.input_tokens + s.output_tokens} tokens, $${(s.usd ?? 0).toFixed(2)}`)
    .join("; ");
}

function telegramState(telegram) {
  if (!telegram) return "not set up";
  const owners = `${telegram.owners} owner id${telegram.owners === 1 ? "" : "s"}`;
  return telegram.error ? `${telegram.state}: ${telegram.error}` : `${telegram.state}, ${owners}`;
}

/** The sandbox's level and what this machine does not enforce of it. */
function sandboxState(sandbox) {
  if (!sandbox) return "–";
  const gaps = sandbox.not_enforced || [];
  if (!gaps.length) return `${sandbox.level}, fully enforced`;
  const refused = sandbox.commands_run === false ? ", shell commands refused" : "";
  return `${sandbox.level}${refused} — not enforced: ${gaps.join("; ")}`;
}

function rows(list, items, render, empty) {
  list.replaceChildren();
  if (!items.length) {
    const item = document.createElement("li");
    item.className = "muted";
    item.textContent = empty;
    list.append(item);
    return;
  }
  for (const entry of items) {
    const item = document.createElement("li");
    item.innerHTML = render(entry);
    list.append(item);
  }
}

export class Status {
  constructor() {
    this.timer = null;
    $("status-artifacts").addEventListener("click", (event) => {
      const button = event.target.closest("button[data-artifact]");
      if (button) this.showArtifact(button.dataset.artifact);
    });
    $("status-approvals").addEventListener("click", (event) => {
      const button = event.target.closest("button[data-approve]");
      if (button) this.answer(button.dataset.id, button.dataset.approve === "true");
    });
  }

  show() {
    this.refresh();
    clearInterval(this.timer);
    this.timer = setInterval(() => this.refresh(), REFRESH_MS);
  }

  hide() {
    clearInterval(this.timer);
    this.timer = null;
  }

  async refresh() {
    await Promise.allSettled([this.daemon(), this.approvals(), this.artifacts(), this.reports(), this.log()]);
  }

  async daemon() {
    const status = await api("/api/status");
    const index = status.index || {};
    facts($("status-daemon"), [
      ["Model", status.model_problem ? `${status.model} — not ready: ${status.model_problem}` : status.model],
      ["Version", status.version],
      ["Up for", duration(status.uptime_seconds)],
      ["Process", status.pid],
      ["Queued turns", status.queue_depth],
      ["Memory", index.files != null ? `${index.files} files, ${index.chunks} chunks` : "–"],
      ["Telegram", telegramState(status.telegram)],
      ["Sandbox", sandboxState(status.sandbox)],
    ]);
    const heartbeat = status.heartbeat || {};
    facts($("status-heartbeat"), [
      ["Enabled", heartbeat.enabled ? "yes" : "no"],
      ["Last run", heartbeat.last_run ? when(heartbeat.last_run) : "never"],
      ["Outcome", outcome(heartbeat.last_outcome)],
      ["Next run", heartbeat.enabled ? when(heartbeat.next_run) : "–"],
      ["Tokens", `${heartbeat.last_tokens ?? 0} last run, ${heartbeat.total_tokens ?? 0} in all`],
    ]);
    const usage = status.usage;
    const caps = (usage && usage.caps) || {};
    facts(
      $("status-usage"),
      usage
        ? [
            ["Today", spend(usage.today, caps.daily_tokens, caps.daily_usd)],
            ["This month", spend(usage.month, caps.monthly_tokens, caps.monthly_usd)],
            ["Background work", usage.paused ? `paused: ${usage.paused.report}` : "runs (no cap reached)"],
            ["By origin (month)", spenders(usage.origins)],
            ["By model (month)", spenders(usage.models)],
          ]
        : [["Usage", "not reported by this daemon (see `localgpt usage`)"]],
    );
    rows(
      $("status-jobs"),
      status.jobs || [],
      (job) =>
        `<strong>${escapeHtml(job.name)}</strong> <span class="muted">${escapeHtml(job.describe || job.schedule)}</span>` +
        `<br><span class="small">last ${escapeHtml(job.last_run ? when(job.last_run) : "never")}` +
        `${job.last_outcome ? " · " + escapeHtml(job.last_outcome) : ""}` +
        `${job.model ? " · " + escapeHtml(job.model) : ""}` +
        `${job.skipped_runs ? " · " + escapeHtml(`${job.skipped_runs} runs without a model call`) : ""}` +
        ` · next ${escapeHtml(job.next_run ? when(job.next_run) : "–")}</span>`,
      "No jobs. Add [[jobs]] to config.toml.",
    );
  }

  async approvals() {
    const pending = await api("/api/approvals");
    rows(
      $("status-approvals"),
      pending,
      (request) =>
        `<strong>${escapeHtml(request.tool)}</strong> <span class="muted small">${escapeHtml(when(request.asked_at))}</span>` +
        `<pre>${escapeHtml(JSON.stringify(request.arguments, null, 2))}</pre>` +
        `<button type="button" class="primary" data-id="${escapeHtml(request.id)}" data-approve="true">Approve</button> ` +
        `<button type="button" data-id="${escapeHtml(request.id)}" data-approve="false">Deny</button>`,
      "Nothing is waiting for approval.",
    );
  }

  async answer(id, approve) {
    try {
      await api(`/api/approvals/${encodeURIComponent(id)}`, { method: "POST", body: { approve } });
    } finally {
      this.approvals();
    }
  }

  async artifacts() {
    const records = await api("/api/artifacts?limit=20");
    rows(
      $("status-artifacts"),
      records,
      (record) =>
        `<button type="button" class="link" data-artifact="${escapeHtml(record.id)}">${escapeHtml(record.title || record.id.slice(0, 12))}</button>` +
        `<br><span class="small muted">${escapeHtml(record.source)} · ${escapeHtml(when(record.stored_at))} · ${record.bytes} B</span>`,
      "Nothing from untrusted sources.",
    );
  }

  async showArtifact(id) {
    const view = $("artifact-view");
    view.hidden = false;
    try {
      const artifact = await api(`/api/artifacts/${encodeURIComponent(id)}`);
      view.textContent = artifact.content;
    } catch (error) {
      view.textContent = error.message;
    }
  }

  async reports() {
    const events = await api("/api/events?limit=20");
    rows(
      $("status-events"),
      events,
      (event) =>
        `<span class="small muted">${escapeHtml(when(event.at))} · ${escapeHtml(event.source)} · ${escapeHtml(event.kind)}</span>` +
        `<br>${escapeHtml(event.text)}`,
      "No reports yet.",
    );
  }

  async log() {
    const { lines } = await api("/api/logs?lines=60");
    const box = $("status-log");
    box.textContent = lines.length ? lines.join("\n") : "(the log is empty)";
    box.scrollTop = box.scrollHeight;
  }
}
