// The memory view: hybrid search over the workspace index (file, heading path, snippet with the
// matches marked), opening a hit shows the file with those lines highlighted, and the index's
// statistics with a reindex button that shows its progress.

import { api, events } from "./api.js";
import { bytes, facts } from "./format.js";
import { escapeHtml, markedSnippet } from "./markdown.js";

const $ = (id) => document.getElementById(id);

/** Lines shown around a hit when a file is long. */
const CONTEXT_LINES = 400;

export class Memory {
  constructor({ onNavigate }) {
    this.onNavigate = onNavigate;
    this.query = "";
    this.reindexing = false;
    $("search-form").addEventListener("submit", (event) => {
      event.preventDefault();
      const query = $("search-input").value.trim();
      if (query) this.onNavigate(`#/memory?q=${encodeURIComponent(query)}&mode=${$("search-mode").value}`);
    });
    $("search-results").addEventListener("click", (event) => {
      const hit = event.target.closest("button.hit");
      if (hit) this.openHit(hit.dataset.path, Number(hit.dataset.start), Number(hit.dataset.end));
    });
    $("viewer-close").addEventListener("click", () => {
      $("file-viewer").hidden = true;
      $("search-results").hidden = false;
    });
    $("reindex").addEventListener("click", () => this.reindex());
  }

  /** Shows the view for the URL's query (`q`, `mode`). */
  async show(params) {
    this.loadStats();
    const query = params.get("q") || "";
    const mode = params.get("mode") || "hybrid";
    $("search-input").value = query;
    $("search-mode").value = ["hybrid", "keyword", "vector"].includes(mode) ? mode : "hybrid";
    $("file-viewer").hidden = true;
    $("search-results").hidden = false;
    if (!query) {
      $("search-results").replaceChildren();
      $("search-note").hidden = true;
      $("search-input").focus();
      return;
    }
    await this.search(query, $("search-mode").value);
  }

  async search(query, mode) {
    const list = $("search-results");
    const note = $("search-note");
    list.setAttribute("aria-busy", "true");
    try {
      const found = await api(`/api/memory/search?q=${encodeURIComponent(query)}&mode=${mode}&limit=20`);
      list.replaceChildren();
      const results = found.results || [];
      note.hidden = false;
      note.textContent =
        (results.length ? `${results.length} result${results.length === 1 ? "" : "s"} (${found.mode} search)` : "Nothing found.") +
        (found.note ? ` · ${found.note}` : "");
      for (const hit of results) {
        const item = document.createElement("li");
        const heading = (hit.headings || []).join(" › ");
        item.innerHTML =
          `<button type="button" class="hit" data-path="${escapeHtml(hit.path)}" ` +
          `data-start="${hit.start_line}" data-end="${hit.end_line}">` +
          `<span class="hit-path">${escapeHtml(hit.path)}<span class="muted">:${hit.start_line}–${hit.end_line}</span></span>` +
          (heading ? `<span class="hit-heading">${escapeHtml(heading)}</span>` : "") +
          `<span class="hit-snippet">${markedSnippet(hit.snippet)}</span></button>`;
        list.append(item);
      }
    } catch (error) {
      list.replaceChildren();
      note.hidden = false;
      note.textContent = `Search failed: ${error.message}`;
    } finally {
      list.removeAttribute("aria-busy");
    }
  }

  async openHit(path, start, end) {
    const viewer = $("file-viewer");
    const lines = $("viewer-lines");
    $("viewer-title").textContent = `${path} · lines ${start}–${end}`;
    lines.replaceChildren();
    viewer.hidden = false;
    $("search-results").hidden = true;
    try {
      const file = await api(`/api/memory/file?path=${encodeURIComponent(path)}`);
      const all = file.text.split("\n");
      const from = all.length > CONTEXT_LINES * 2 ? Math.max(1, start - CONTEXT_LINES) : 1;
      const to = all.length > CONTEXT_LINES * 2 ? Math.min(all.length, end + CONTEXT_LINES) : all.length;
      lines.start = from;
      const html = [];
      for (let number = from; number <= to; number++) {
        const hit = number >= start && number <= end;
        html.push(
          `<li${hit ? ' class="hit-line"' : ""} data-line="${number}"><code>${escapeHtml(all[number - 1] || " ")}</code></li>`,
        );
      }
      lines.innerHTML = html.join("");
      lines.querySelector(".hit-line")?.scrollIntoView({ block: "center" });
      $("viewer-close").focus({ preventScroll: true });
    } catch (error) {
      lines.innerHTML = `<li class="error-text">${escapeHtml(error.message)}</li>`;
    }
  }

  async loadStats() {
    try {
      const stats = await api("/api/memory/stats");
      facts($("index-stats"), [
        ["Files", stats.files],
        ["Chunks", stats.chunks],
        ["With vectors", stats.embedded_chunks],
        ["Index size", bytes(stats.index_bytes)],
        ["Embedding model", stats.embedding_model || "none (keywords only)"],
        ["Last indexed", stats.last_indexed ? new Date(stats.last_indexed).toLocaleString() : "never"],
      ]);
    } catch (error) {
      facts($("index-stats"), [["Index", error.message]]);
    }
  }

  async reindex() {
    if (this.reindexing) return;
    this.reindexing = true;
    const button = $("reindex");
    const bar = $("reindex-progress");
    const status = $("reindex-status");
    button.disabled = true;
    bar.hidden = false;
    bar.removeAttribute("value");
    status.textContent = "Looking for changes…";
    try {
      const body = { force: $("reindex-force").checked };
      for await (const { event, data } of events("/api/memory/reindex", body)) {
        if (event === "progress") {
          if (data.phase === "scanned") {
            status.textContent = `${data.total} files, ${data.done} changed`;
          } else if (data.total > 0) {
            bar.max = data.total;
            bar.value = data.done;
            status.textContent = `${data.phase === "files" ? "Indexing files" : "Embedding chunks"}: ${data.done} of ${data.total}`;
          }
        } else if (event === "done") {
          bar.max = 1;
          bar.value = 1;
          status.textContent =
            `Done: ${data.files_indexed} file${data.files_indexed === 1 ? "" : "s"} indexed, ` +
            `${data.files_removed} removed, ${data.embeddings_computed} chunks embedded.`;
        } else if (event === "error") {
          status.textContent = `Reindex failed: ${data.message}`;
        }
      }
    } catch (error) {
      status.textContent = `Reindex failed: ${error.message}`;
    } finally {
      this.reindexing = false;
      button.disabled = false;
      this.loadStats();
    }
  }
}
