// The chat view: the conversation list, a conversation's messages (markdown answers, tool calls
// folded open/closed, approval requests with Approve/Deny), and the composer that streams a turn
// from `POST /api/chat` as server-sent events. Stopping aborts the stream, which stops the turn.

import { api, apiText, events } from "./api.js";
import { when } from "./format.js";
import { escapeHtml, renderMarkdown } from "./markdown.js";

const $ = (id) => document.getElementById(id);

function pretty(value) {
  if (typeof value === "string") {
    try {
      return JSON.stringify(JSON.parse(value), null, 2);
    } catch {
      return value;
    }
  }
  return JSON.stringify(value, null, 2);
}

/** A tool result as the model saw it, without the data marker around it. */
function unwrapOutput(text) {
  return text.replace(/^<tool_output tool="[^"]*">\n?/, "").replace(/\n?<\/tool_output>$/, "");
}

function textOf(content) {
  if (typeof content === "string") return content;
  if (!Array.isArray(content)) return "";
  return content.filter((part) => part && part.type === "text").map((part) => part.text).join("");
}

export class Chat {
  constructor({ onNavigate }) {
    this.onNavigate = onNavigate;
    this.sessionId = null;
    this.sessions = [];
    this.streaming = null; // AbortController of the turn in flight
    this.defaultModel = "";
    this.messages = $("messages");
    this.prompt = $("prompt");
    this.bind();
  }

  bind() {
    $("composer").addEventListener("submit", (event) => {
      event.preventDefault();
      this.send(this.prompt.value);
    });
    this.prompt.addEventListener("keydown", (event) => {
      if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
        event.preventDefault();
        this.send(this.prompt.value);
      }
    });
    this.prompt.addEventListener("input", () => this.fitPrompt());
    document.addEventListener("keydown", (event) => {
      if (event.key === "Escape" && this.streaming) {
        event.preventDefault();
        this.stop();
      }
    });
    $("stop").addEventListener("click", () => this.stop());
    this.messages.addEventListener("click", (event) => this.onMessageClick(event));
    $("rename-session").addEventListener("click", () => this.startRename());
    $("rename-cancel").addEventListener("click", () => this.endRename());
    $("rename-form").addEventListener("submit", (event) => {
      event.preventDefault();
      this.rename($("rename-input").value);
    });
    $("rename-input").addEventListener("keydown", (event) => {
      if (event.key === "Escape") {
        event.stopPropagation();
        this.endRename();
      }
    });
    $("export-session").addEventListener("click", () => this.exportSession());
    $("delete-session").addEventListener("click", () => this.deleteSession());
    $("model-select").addEventListener("change", (event) => {
      sessionStorage.setItem(this.modelKey(), event.target.value);
    });
  }

  fitPrompt() {
    this.prompt.style.height = "auto";
    this.prompt.style.height = Math.min(this.prompt.scrollHeight, 240) + "px";
  }

  modelKey() {
    return `localgpt.model.${this.sessionId || "new"}`;
  }

  /** Fills the model menu with the models the daemon lists (the default first); returns the default. */
  async loadModels() {
    const select = $("model-select");
    let names = [];
    try {
      const listed = await api("/v1/models");
      names = (listed.data || []).map((model) => model.id);
    } catch (error) {
      console.warn("models", error);
    }
    const defaultModel = names[0] || "";
    this.defaultModel = defaultModel;
    select.replaceChildren();
    const add = (value, label) => {
      const option = document.createElement("option");
      option.value = value;
      option.textContent = label;
      select.append(option);
    };
    add("", `${defaultModel || "default model"} (default)`);
    for (const name of names) if (name !== defaultModel) add(name, name);
    this.showModelChoice();
    return defaultModel;
  }

  showModelChoice() {
    const select = $("model-select");
    const wanted = sessionStorage.getItem(this.modelKey()) || "";
    select.value = [...select.options].some((option) => option.value === wanted) ? wanted : "";
  }

  async refreshSessions() {
    try {
      this.sessions = await api("/api/sessions");
    } catch (error) {
      this.sessions = [];
      console.warn("sessions", error);
    }
    const list = $("session-list");
    list.replaceChildren();
    for (const session of this.sessions) {
      const item = document.createElement("li");
      const link = document.createElement("a");
      link.href = `#/chat/${encodeURIComponent(session.id)}`;
      link.className = "session-link";
      link.dataset.id = session.id;
      if (session.id === this.sessionId) link.setAttribute("aria-current", "page");
      if (session.origin) link.classList.add("background");
      link.innerHTML =
        `<span class="session-title">${escapeHtml(session.title)}</span>` +
        `<span class="session-meta">${escapeHtml(when(session.started))}` +
        `${session.model ? " · " + escapeHtml(session.model) : ""}` +
        `${session.origin ? ` <span class="origin">${escapeHtml(session.origin)}</span>` : ""}</span>`;
      item.append(link);
      list.append(item);
    }
    $("sessions-empty").hidden = this.sessions.length > 0;
    this.showTitle();
  }

  showTitle() {
    const current = this.sessions.find((session) => session.id === this.sessionId);
    $("chat-title").textContent = current ? current.title : this.sessionId ? "Conversation" : "New chat";
    document.title = current ? `${current.title} · LocalGPT` : "LocalGPT";
    for (const id of ["rename-session", "export-session", "delete-session"]) $(id).disabled = !this.sessionId;
  }

  /** Shows the conversation `id`, or an empty new one. */
  async open(id) {
    if (this.streaming && id !== this.sessionId) this.stop();
    this.endRename();
    this.sessionId = id || null;
    this.messages.replaceChildren();
    this.showModelChoice();
    for (const link of document.querySelectorAll(".session-link")) {
      if (link.dataset.id === this.sessionId) link.setAttribute("aria-current", "page");
      else link.removeAttribute("aria-current");
    }
    this.showTitle();
    if (!id) {
      this.messages.append(welcome());
      this.prompt.focus();
      return;
    }
    try {
      const session = await api(`/api/sessions/${encodeURIComponent(id)}`);
      if (this.sessionId !== id) return;
      this.renderTranscript(session.messages || []);
    } catch (error) {
      this.showError(error.message, null);
    }
    this.scrollDown(true);
  }

  renderTranscript(messages) {
    const tools = new Map();
    let turn = null;
    let spent = { input_tokens: 0, output_tokens: 0 };
    const closeTurn = () => {
      if (turn) turn.usage(spent);
      spent = { input_tokens: 0, output_tokens: 0 };
    };
    for (const message of messages) {
      if (message.role === "user") {
        closeTurn();
        this.addUser(textOf(message.content));
        turn = null;
      } else if (message.role === "assistant") {
        turn = turn || this.addAssistant();
        spent.input_tokens += message.usage?.input || 0;
        spent.output_tokens += message.usage?.output || 0;
        for (const part of message.content || []) {
          if (part.type === "text" && part.text) turn.addText(part.text);
          if (part.type === "toolCall") tools.set(part.id, turn.addTool(part.name, part.arguments));
        }
        if (message.stopReason === "aborted") turn.note("Stopped.");
        if (message.errorMessage) turn.note(message.errorMessage, true);
        turn.finish();
      } else if (message.role === "toolResult") {
        const tool = tools.get(message.toolCallId);
        if (tool) tool.finish(unwrapOutput(textOf(message.content)), message.isError);
      }
    }
    closeTurn();
  }

  addUser(text) {
    this.messages.querySelector(".welcome")?.remove();
    const element = document.createElement("div");
    element.className = "msg user";
    element.innerHTML = `<div class="bubble">${escapeHtml(text)}</div>`;
    this.messages.append(element);
    return element;
  }

  addAssistant() {
    const element = document.createElement("div");
    element.className = "msg assistant";
    this.messages.append(element);
    return new AssistantMessage(element);
  }

  scrollDown(force = false) {
    const box = this.messages;
    const near = box.scrollHeight - box.scrollTop - box.clientHeight < 120;
    if (force || near) box.scrollTop = box.scrollHeight;
  }

  showError(message, retryText) {
    const element = document.createElement("div");
    element.className = "msg error";
    element.setAttribute("role", "alert");
    // Commands in the message (`localgpt models pull …`) are shown as code to copy.
    element.innerHTML = `<p>${escapeHtml(message).replace(/`([^`<]+)`/g, "<code>$1</code>")}</p>`;
    if (retryText !== null) {
      const retry = document.createElement("button");
      retry.type = "button";
      retry.textContent = "Retry";
      retry.addEventListener("click", () => {
        element.remove();
        this.send(retryText, { echo: false });
      });
      element.append(retry);
    }
    this.messages.append(element);
    this.scrollDown(true);
  }

  setStreaming(controller) {
    this.streaming = controller;
    $("send").hidden = Boolean(controller);
    $("stop").hidden = !controller;
    this.messages.setAttribute("aria-busy", controller ? "true" : "false");
  }

  stop() {
    if (this.streaming) this.streaming.abort();
  }

  /** Sends `text` and streams the answer into the page. */
  async send(text, { echo = true } = {}) {
    text = text.trim();
    if (!text || this.streaming) return;
    if (echo) {
      this.addUser(text);
      this.prompt.value = "";
      this.fitPrompt();
    }
    const controller = new AbortController();
    this.setStreaming(controller);
    const reply = this.addAssistant();
    reply.thinking();
    this.scrollDown(true);
    const model = $("model-select").value || undefined;
    const body = { message: text, session_id: this.sessionId || undefined, model };
    let finished = false;
    let recalled = [];
    try {
      for await (const { event, data } of events("/api/chat", body, controller.signal)) {
        if (event === "session") {
          if (data.session_id !== this.sessionId) this.adopt(data.session_id, model);
        } else if (event === "delta") reply.addText(data.text || "");
        else if (event === "tool_start") reply.addTool(data.name, data.arguments);
        else if (event === "tool_end") reply.finishTool(data.name, data.preview, data.is_error);
        else if (event === "approval") reply.addApproval(data);
        else if (event === "notice") reply.note(data.text || "");
        else if (event === "recall") recalled = data.sources || [];
        else if (event === "done") {
          finished = true;
          reply.finish();
          if (data.artifact) reply.note("Kept for the owner's review.");
          reply.recalled(recalled);
          reply.usage(data.usage);
          if (data.session_id && data.session_id !== this.sessionId) this.adopt(data.session_id, model);
        } else if (event === "error") {
          finished = true;
          reply.finish();
          // A model that is not set up cannot be retried into working: the message names the fix.
          this.showError(data.message || "The turn failed.", data.code === "model_unavailable" ? null : text);
        }
        this.scrollDown();
      }
      if (!finished) {
        reply.finish();
        this.showError("The connection closed before the answer was complete.", text);
      }
    } catch (error) {
      reply.finish();
      if (error.name === "AbortError") reply.note("Stopped.");
      else this.showError(error.message || String(error), text);
    } finally {
      this.setStreaming(null);
      this.refreshSessions();
      this.prompt.focus();
    }
  }

  /** A new conversation got its id: name it in the URL without reloading it. */
  adopt(id, model) {
    this.sessionId = id;
    if (model) sessionStorage.setItem(this.modelKey(), model);
    history.replaceState(null, "", `#/chat/${encodeURIComponent(id)}`);
    this.showTitle();
  }

  onMessageClick(event) {
    const copy = event.target.closest("button.copy");
    if (copy) {
      const code = copy.closest(".code").querySelector("code").textContent;
      copyText(code).then(
        () => flash(copy, "Copied"),
        () => flash(copy, "Copy failed"),
      );
      return;
    }
    const answer = event.target.closest("button[data-approval]");
    if (answer) this.answerApproval(answer);
  }

  async answerApproval(button) {
    const card = button.closest(".approval");
    const approve = button.dataset.approval === "approve";
    for (const other of card.querySelectorAll("button")) other.disabled = true;
    try {
      await api(`/api/approvals/${encodeURIComponent(card.dataset.id)}`, {
        method: "POST",
        body: { approve },
      });
      card.querySelector(".approval-state").textContent = approve ? "Approved" : "Denied";
      card.classList.add(approve ? "approved" : "denied");
    } catch (error) {
      card.querySelector(".approval-state").textContent = `Could not answer: ${error.message}`;
    }
  }

  startRename() {
    if (!this.sessionId) return;
    $("rename-input").value = $("chat-title").textContent;
    $("chat-title").hidden = true;
    $("rename-form").hidden = false;
    $("rename-input").select();
    $("rename-input").focus();
  }

  endRename() {
    $("rename-form").hidden = true;
    $("chat-title").hidden = false;
  }

  async rename(title) {
    title = title.trim();
    if (!title || !this.sessionId) return;
    try {
      await api(`/api/sessions/${encodeURIComponent(this.sessionId)}`, { method: "PATCH", body: { title } });
      this.endRename();
      await this.refreshSessions();
    } catch (error) {
      this.showError(`Renaming failed: ${error.message}`, null);
    }
  }

  async exportSession() {
    if (!this.sessionId) return;
    try {
      const markdown = await apiText(`/api/sessions/${encodeURIComponent(this.sessionId)}/export`);
      const url = URL.createObjectURL(new Blob([markdown], { type: "text/markdown" }));
      const link = document.createElement("a");
      link.href = url;
      link.download = `localgpt-${this.sessionId}.md`;
      document.body.append(link);
      link.click();
      link.remove();
      setTimeout(() => URL.revokeObjectURL(url), 10000);
    } catch (error) {
      this.showError(`Export failed: ${error.message}`, null);
    }
  }

  async deleteSession() {
    if (!this.sessionId) return;
    const title = $("chat-title").textContent;
    if (!confirm(`Delete “${title}”? Its transcript file is removed.`)) return;
    try {
      await api(`/api/sessions/${encodeURIComponent(this.sessionId)}`, { method: "DELETE" });
      sessionStorage.removeItem(this.modelKey());
      this.sessionId = null;
      await this.refreshSessions();
      this.onNavigate("#/chat");
    } catch (error) {
      this.showError(`Deleting failed: ${error.message}`, null);
    }
  }
}

function welcome() {
  const element = document.createElement("div");
  element.className = "welcome";
  element.innerHTML =
    "<h2>What can I help with?</h2>" +
    '<p class="muted">Answers stream in as they are written; tools ask before they run when they need to.</p>';
  return element;
}

async function copyText(text) {
  if (navigator.clipboard && window.isSecureContext) return navigator.clipboard.writeText(text);
  const area = document.createElement("textarea");
  area.value = text;
  area.setAttribute("readonly", "");
  area.style.position = "fixed";
  area.style.opacity = "0";
  document.body.append(area);
  area.select();
  const copied = document.execCommand("copy");
  area.remove();
  if (!copied) throw new Error("copy refused");
}

function flash(button, label) {
  const before = button.textContent;
  button.textContent = label;
  setTimeout(() => (button.textContent = before), 1500);
}

/** One answer: text parts and tool calls in the order they happened. */
class AssistantMessage {
  constructor(element) {
    this.element = element;
    this.text = null; // the text part being written
    this.pending = false;
  }

  thinking() {
    const dots = document.createElement("div");
    dots.className = "thinking";
    dots.setAttribute("aria-label", "Thinking");
    dots.innerHTML = "<span></span><span></span><span></span>";
    this.element.append(dots);
  }

  clearThinking() {
    this.element.querySelector(".thinking")?.remove();
  }

  addText(delta) {
    if (!delta) return;
    this.clearThinking();
    if (!this.text) {
      const node = document.createElement("div");
      node.className = "markdown";
      this.element.append(node);
      this.text = { node, source: "" };
    }
    const first = this.text.source === "";
    this.text.source += delta;
    if (first) this.text.node.innerHTML = renderMarkdown(this.text.source);
    else this.render();
  }

  render() {
    // The first words show at once; after that, repaint at most once a frame.
    if (this.pending) return;
    this.pending = true;
    requestAnimationFrame(() => {
      this.pending = false;
      if (this.text) this.text.node.innerHTML = renderMarkdown(this.text.source);
    });
  }

  flushText() {
    if (this.text) this.text.node.innerHTML = renderMarkdown(this.text.source);
    this.text = null;
  }

  addTool(name, args) {
    this.clearThinking();
    this.flushText();
    const details = document.createElement("details");
    details.className = "tool running";
    details.dataset.name = name;
    details.innerHTML =
      `<summary><span class="tool-name">${escapeHtml(name)}</span>` +
      `<span class="tool-state">running…</span></summary>` +
      `<div class="tool-body"><div class="tool-label">Arguments</div>` +
      `<pre class="tool-args" tabindex="0">${escapeHtml(pretty(args))}</pre></div>`;
    this.element.append(details);
    return {
      finish: (preview, isError) => finishTool(details, preview, isError),
    };
  }

  finishTool(name, preview, isError) {
    const running = [...this.element.querySelectorAll("details.tool.running")].find(
      (details) => details.dataset.name === name,
    );
    if (running) finishTool(running, preview, isError);
  }

  addApproval({ id, tool, arguments: args }) {
    this.clearThinking();
    this.flushText();
    const card = document.createElement("div");
    card.className = "approval";
    card.dataset.id = id;
    card.setAttribute("role", "group");
    card.setAttribute("aria-label", `Approval needed for ${tool}`);
    card.innerHTML =
      `<p><strong>${escapeHtml(tool)}</strong> needs your approval to run:</p>` +
      `<pre tabindex="0">${escapeHtml(pretty(args))}</pre>` +
      `<div class="approval-actions"><button type="button" class="primary" data-approval="approve">Approve</button>` +
      `<button type="button" data-approval="deny">Deny</button>` +
      `<span class="approval-state" role="status"></span></div>`;
    this.element.append(card);
  }

  note(text, isError = false) {
    if (!text) return;
    this.clearThinking();
    this.flushText();
    const note = document.createElement("p");
    note.className = isError ? "note error-text" : "note";
    note.textContent = text;
    this.element.append(note);
  }

  /** The memory notes the answer was given, under it ("from memory: FILE:LINES"). */
  recalled(sources) {
    if (!sources || !sources.length) return;
    const line = document.createElement("p");
    line.className = "recalled";
    line.textContent = `from memory: ${sources.join(", ")}`;
    this.element.append(line);
  }

  /** The turn's token cost, under the answer. */
  usage(usage) {
    if (!usage || !(usage.input_tokens || usage.output_tokens)) return;
    const line = document.createElement("p");
    line.className = "usage";
    const format = (count) => Number(count).toLocaleString();
    line.textContent =
      `${format(usage.input_tokens + usage.output_tokens)} tokens ` +
      `(${format(usage.input_tokens)} in, ${format(usage.output_tokens)} out)`;
    this.element.append(line);
  }

  finish() {
    this.clearThinking();
    this.flushText();
    // An answer that produced nothing (it failed at once) leaves no empty box behind.
    if (!this.element.hasChildNodes()) this.element.remove();
    for (const card of this.element.querySelectorAll(".approval")) {
      for (const button of card.querySelectorAll("button")) button.disabled = true;
      const state = card.querySelector(".approval-state");
      if (!state.textContent) state.textContent = "No longer waiting";
    }
  }
}

function finishTool(details, preview, isError) {
  details.classList.remove("running");
  details.classList.toggle("failed", Boolean(isError));
  details.querySelector(".tool-state").textContent = isError ? "failed" : "done";
  const body = details.querySelector(".tool-body");
  body.insertAdjacentHTML(
    "beforeend",
    `<div class="tool-label">Result</div><pre class="tool-result" tabindex="0">${escapeHtml(preview || "(no output)")}</pre>`,
  );
}
