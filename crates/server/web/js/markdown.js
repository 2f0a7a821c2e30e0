// A small markdown renderer for model answers. Every piece of text is HTML-escaped before any
// markup is added, links are kept only for http(s) and mailto, and no raw HTML passes through:
// a model (or a file it quotes) cannot inject script or markup into the page. Code blocks get a
// light syntax highlighter and a copy button. An unclosed fence renders as code, so a streaming
// answer looks right while it arrives.

const ESCAPES = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" };

export function escapeHtml(text) {
  return String(text).replace(/[&<>"']/g, (c) => ESCAPES[c]);
}

const FENCE = /^\s{0,3}(`{3,}|~{3,})\s*([\w+#.-]*)/;
const HEADING = /^\s{0,3}(#{1,6})\s+(.*?)\s*#*\s*$/;
const RULE = /^\s{0,3}([-*_])(\s*\1){2,}\s*$/;
const QUOTE = /^\s{0,3}>\s?/;
const ITEM = /^(\s*)([-*+]|\d{1,9}[.)])\s+(.*)$/;
const TABLE_RULE = /^\s*\|?\s*:?-{2,}:?\s*(\|\s*:?-{2,}:?\s*)*\|?\s*$/;

/** Markdown text as safe HTML. */
export function renderMarkdown(text) {
  return blocks(String(text).replace(/\r\n?/g, "\n").split("\n"));
}

function blocks(lines) {
  const out = [];
  let paragraph = [];
  const flush = () => {
    if (paragraph.length) out.push(`<p>${inline(paragraph.join("\n")).replace(/\n/g, "<br>")}</p>`);
    paragraph = [];
  };
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i];
    const fence = line.match(FENCE);
    if (fence) {
      flush();
      const code = [];
      const closing = new RegExp(`^\\s{0,3}${fence[1][0]}{${fence[1].length},}\\s*$`);
      for (i++; i < lines.length && !closing.test(lines[i]); i++) code.push(lines[i]);
      out.push(codeBlock(code.join("\n"), fence[2]));
      continue;
    }
    if (!line.trim()) {
      flush();
      continue;
    }
    const heading = line.match(HEADING);
    if (heading) {
      flush();
      const level = heading[1].length;
      out.push(`<h${level}>${inline(heading[2])}</h${level}>`);
      continue;
    }
    if (RULE.test(line)) {
      flush();
      out.push("<hr>");
      continue;
    }
    if (QUOTE.test(line)) {
      flush();
      const quoted = [];
      for (; i < lines.length && QUOTE.test(lines[i]); i++) quoted.push(lines[i].replace(QUOTE, ""));
      i--;
      out.push(`<blockquote>${blocks(quoted)}</blockquote>`);
      continue;
    }
    if (ITEM.test(line) && (paragraph.length === 0 || !/^\s/.test(line))) {
      flush();
      i = list(lines, i, out) - 1;
      continue;
    }
    if (line.includes("|") && i + 1 < lines.length && TABLE_RULE.test(lines[i + 1])) {
      flush();
      i = table(lines, i, out) - 1;
      continue;
    }
    paragraph.push(line);
  }
  flush();
  return out.join("");
}

/** Renders the list starting at `start`; returns the index of the first line after it. */
function list(lines, start, out) {
  const first = lines[start].match(ITEM);
  const indent = first[1].length;
  const ordered = /\d/.test(first[2]);
  const items = [];
  let i = start;
  while (i < lines.length) {
    const match = lines[i].match(ITEM);
    if (!match || match[1].length !== indent) break;
    const body = [match[3]];
    for (i++; i < lines.length; i++) {
      const next = lines[i];
      if (!next.trim()) {
        // A blank line continues the item only when indented content follows.
        if (i + 1 < lines.length && lines[i + 1].match(/^(\s*)/)[1].length > indent && lines[i + 1].trim()) {
          body.push("");
          continue;
        }
        break;
      }
      const nested = next.match(ITEM);
      if (nested && nested[1].length <= indent) break;
      if (!nested && !/^\s/.test(next)) {
        body.push(next);
        continue;
      }
      body.push(next.slice(Math.min(indent + 2, next.match(/^(\s*)/)[1].length)));
    }
    items.push(body);
  }
  const tag = ordered ? "ol" : "ul";
  const startAttr = ordered && parseInt(first[2], 10) !== 1 ? ` start="${parseInt(first[2], 10)}"` : "";
  const rendered = items.map((body) => {
    const task = body[0].match(/^\[([ xX])\]\s+(.*)$/);
    let head = body[0];
    let box = "";
    if (task) {
      box = `<input type="checkbox" disabled${task[1] === " " ? "" : " checked"}> `;
      head = task[2];
    }
    const rest = body.slice(1);
    const inner = rest.some((line) => line.trim())
      ? inline(head) + blocks(rest)
      : inline(head);
    return `<li>${box}${inner}</li>`;
  });
  out.push(`<${tag}${startAttr}>${rendered.join("")}</${tag}>`);
  return i;
}

function cells(line) {
  return line.trim().replace(/^\|/, "").replace(/\|$/, "").split("|").map((cell) => cell.trim());
}

function table(lines, start, out) {
  const head = cells(lines[start]);
  const aligns = cells(lines[start + 1]).map((rule) =>
    rule.startsWith(":") && rule.endsWith(":") ? "center" : rule.endsWith(":") ? "right" : "",
  );
  const style = (index) => (aligns[index] ? ` style="text-align:${aligns[index]}"` : "");
  let i = start + 2;
  const rows = [];
  for (; i < lines.length && lines[i].includes("|") && lines[i].trim(); i++) rows.push(cells(lines[i]));
  const th = head.map((cell, index) => `<th${style(index)}>${inline(cell)}</th>`).join("");
  const body = rows
    .map((row) => `<tr>${head.map((_, index) => `<td${style(index)}>${inline(row[index] || "")}</td>`).join("")}</tr>`)
    .join("");
  out.push(`<div class="table-wrap"><table><thead><tr>${th}</tr></thead><tbody>${body}</tbody></table></div>`);
  return i;
}

function codeBlock(code, language) {
  const label = language ? escapeHtml(language) : "text";
  return (
    `<div class="code"><div class="code-head"><span>${label}</span>` +
    `<button type="button" class="copy" aria-label="Copy code">Copy</button></div>` +
    `<pre tabindex="0"><code>${highlight(code, language)}</code></pre></div>`
  );
}

function safeUrl(url) {
  const decoded = url.replace(/&amp;/g, "&");
  return /^(https?:|mailto:)/i.test(decoded) ? url : null;
}

/** Inline markdown (code, links, bold, italic, strikethrough) as safe HTML. */
export function inline(text) {
  const parts = String(text).split(/(`+)([^`]|[^`][\s\S]*?[^`])\1(?!`)/);
  let html = "";
  // split() with two groups yields [text, ticks, code, text, ticks, code, …].
  for (let i = 0; i < parts.length; i += 3) {
    html += emphasis(escapeHtml(parts[i]));
    if (i + 2 < parts.length) html += `<code>${escapeHtml(parts[i + 2].trim())}</code>`;
  }
  return html;
}

function emphasis(escaped) {
  const kept = [];
  const keep = (html) => `\u0000${kept.push(html) - 1}\u0000`;
  let text = escaped.replace(/\[([^\]\n]+)\]\(([^)\s]+)\)/g, (whole, label, url) => {
    const safe = safeUrl(url);
    return safe ? keep(`<a href="${safe}" target="_blank" rel="noopener noreferrer">${label}</a>`) : whole;
  });
  text = text.replace(/\bhttps?:\/\/[^\s<]+[^\s<.,;:!?)\]'"]/g, (url) =>
    keep(`<a href="${url}" target="_blank" rel="noopener noreferrer">${url}</a>`),
  );
  text = text
    .replace(/\*\*(?=\S)([\s\S]*?\S)\*\*/g, "<strong>$1</strong>")
    .replace(/__(?=\S)([\s\S]*?\S)__/g, "<strong>$1</strong>")
    .replace(/(^|[^*\w])\*(?=\S)([^*\n]*?\S)\*(?![*\w])/g, "$1<em>$2</em>")
    .replace(/(^|[^\w])_(?=\S)([^_\n]*?\S)_(?!\w)/g, "$1<em>$2</em>")
    .replace(/~~(?=\S)([\s\S]*?\S)~~/g, "<del>$1</del>");
  return text.replace(/\u0000(\d+)\u0000/g, (_, index) => kept[Number(index)]);
}

/** A search snippet whose matches are in `**bold**`, with the matches marked. */
export function markedSnippet(snippet) {
  return escapeHtml(snippet).replace(/\*\*([\s\S]+?)\*\*/g, "<mark>$1</mark>");
}

const KEYWORDS = new Set(
  (
    "as async await break case catch class const continue crate def default del do elif else enum " +
    "except export extends false final finally fn for from func function go if impl import in " +
    "interface is lambda let loop match mod move mut new nil none not null or pass pub raise ref " +
    "return self static struct super switch then this throw trait true try type typeof use var " +
    "void where while with yield True False None and echo fi done esac local"
  ).split(" "),
);
const HASH_COMMENTS = /^(py|python|sh|bash|shell|zsh|toml|yaml|yml|rb|ruby|r|perl|conf|ini|dockerfile|make|makefile)$/i;

/** Code as HTML with comments, strings, numbers and keywords in spans. */
export function highlight(code, language = "") {
  const hash = HASH_COMMENTS.test(language);
  const pattern = hash
    ? /(#[^\n]*)|("(?:[^"\\\n]|\\.)*"|'(?:[^'\\\n]|\\.)*')|(\b\d[\d_.]*(?:e[+-]?\d+)?\b)|([A-Za-z_][\w]*)/g
    : /(\/\/[^\n]*|\/\*[\s\S]*?\*\/|<!--[\s\S]*?-->)|("(?:[^"\\\n]|\\.)*"|'(?:[^'\\\n]|\\.)*'|`(?:[^`\\]|\\.)*`)|(\b\d[\d_.]*(?:e[+-]?\d+)?\b)|([A-Za-z_][\w]*)/g;
  let html = "";
  let last = 0;
  for (const match of code.matchAll(pattern)) {
    html += escapeHtml(code.slice(last, match.index));
    last = match.index + match[0].length;
    const text = escapeHtml(match[0]);
    if (match[1]) html += `<span class="tok-comment">${text}</span>`;
    else if (match[2]) html += `<span class="tok-string">${text}</span>`;
    else if (match[3]) html += `<span class="tok-number">${text}</span>`;
    else if (KEYWORDS.has(match[4])) html += `<span class="tok-keyword">${text}</span>`;
    else html += text;
  }
  return html + escapeHtml(code.slice(last));
}
