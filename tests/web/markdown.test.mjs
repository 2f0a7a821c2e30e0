// The web UI's markdown renderer (crates/server/web/js/markdown.js): what it renders, and that no
// text — from a model or a file it quotes — can put markup or script into the page.
// Run: node --test tests/web/

import assert from "node:assert/strict";
import { test } from "node:test";
import { highlight, inline, markedSnippet, renderMarkdown } from "../../crates/server/web/js/markdown.js";

test("raw HTML is shown as text, never as markup", () => {
  const html = renderMarkdown('<script>alert(1)</script> <img src=x onerror="alert(2)">');
  assert.ok(!html.includes("<script"), html);
  assert.ok(!html.includes("<img"), html);
  assert.match(html, /&lt;script&gt;alert\(1\)&lt;\/script&gt;/);
});

test("only http(s) and mailto links become links", () => {
  assert.match(inline("[docs](https://example.org/a?b=1&c=2)"), /<a href="https:\/\/example.org\/a\?b=1&amp;c=2" target="_blank" rel="noopener noreferrer">docs<\/a>/);
  assert.match(inline("[mail](mailto:me@example.org)"), /href="mailto:me@example.org"/);
  for (const bad of ["javascript:alert(1)", "data:text/html,hi", "vbscript:x", "JaVaScRiPt:alert(1)"]) {
    const html = inline(`[click](${bad})`);
    assert.ok(!html.includes("<a"), html);
  }
});

test("link text and urls cannot break out of the attribute", () => {
  const html = inline('[x](https://e.org/"onmouseover="alert(1))');
  // The quotes stay inside the href, escaped: the tag has exactly its three attributes.
  assert.match(html, /^<a href="[^"<>]*" target="_blank" rel="noopener noreferrer">x<\/a>/);
  assert.match(html, /&quot;onmouseover=&quot;/);
  const auto = inline('see https://e.org/"><script>x</script>');
  assert.ok(!auto.includes("<script"), auto);
});

test("code blocks keep their text exactly, escaped and highlighted", () => {
  const html = renderMarkdown("```rust\nfn main() { let s = \"<b>\"; } // done\n```");
  assert.match(html, /<span class="code-head"|<div class="code-head"><span>rust<\/span>/);
  assert.match(html, /<span class="tok-keyword">fn<\/span>/);
  assert.match(html, /<span class="tok-string">&quot;&lt;b&gt;&quot;<\/span>/);
  assert.match(html, /<span class="tok-comment">\/\/ done<\/span>/);
  assert.match(html, /<button type="button" class="copy"/);
});

test("an unclosed fence renders as code while an answer streams", () => {
  const html = renderMarkdown("Look:\n\n```python\nprint('hi')");
  assert.match(html, /<p>Look:<\/p><div class="code">/);
  assert.match(html, /<span class="tok-string">&#39;hi&#39;<\/span>/);
});

test("hash comments in shell-like languages", () => {
  assert.match(highlight("echo hi # note", "bash"), /<span class="tok-comment"># note<\/span>/);
  assert.ok(!highlight("a # b", "rust").includes("tok-comment"));
});

test("headings, emphasis, lists, tasks, quotes, tables and rules", () => {
  const html = renderMarkdown(
    [
      "# Title",
      "Some **bold**, *italic*, ~~gone~~ and `co<de>`.",
      "",
      "- one",
      "- two",
      "  - nested",
      "- [x] done",
      "",
      "3. three",
      "4. four",
      "",
      "> quoted **text**",
      "",
      "| a | b |",
      "|---|--:|",
      "| 1 | 2 |",
      "",
      "---",
    ].join("\n"),
  );
  assert.match(html, /<h1>Title<\/h1>/);
  assert.match(html, /<strong>bold<\/strong>, <em>italic<\/em>, <del>gone<\/del> and <code>co&lt;de&gt;<\/code>/);
  assert.match(html, /<ul><li>one<\/li><li>two<ul><li>nested<\/li><\/ul><\/li><li><input type="checkbox" disabled checked> done<\/li><\/ul>/);
  assert.match(html, /<ol start="3"><li>three<\/li><li>four<\/li><\/ol>/);
  assert.match(html, /<blockquote><p>quoted <strong>text<\/strong><\/p><\/blockquote>/);
  assert.match(html, /<th>a<\/th><th style="text-align:right">b<\/th>/);
  assert.match(html, /<td>1<\/td><td style="text-align:right">2<\/td>/);
  assert.match(html, /<hr>$/);
});

test("snake_case and arithmetic are not emphasis", () => {
  assert.equal(inline("my_var_name and 2*3*4"), "my_var_name and 2*3*4");
});

test("search snippets mark the matches and escape the rest", () => {
  assert.equal(markedSnippet("the **canoe** <b>"), "the <mark>canoe</mark> &lt;b&gt;");
});
