// A deliberately small Markdown renderer for the wizard's info fields. It builds DOM nodes (text is never parsed
// as HTML), and supports: paragraphs, "#" headings, "- " / "* " and "1. " lists, ``` code blocks, **bold**,
// `code` and [links](url) whose target is http(s) or a relative path (anything else renders as plain text), and
// backslash escapes of those characters.

import { h } from "./dom.js";

// A backslash before a special character keeps it literal (the server escapes text it did not write this way:
// services/chatflow/questions.py literal); line starts like "\#" or "\-" then match no block pattern either.
const INLINE = /\\([\\`*[\]()#.!_>+-])|`([^`]+)`|\*\*(.+?)\*\*|\[([^\]]+)\]\(([^)\s]+)\)/g;

/** A link target we are willing to follow: http(s), absolute or relative; never javascript:, data:, … */
export function safeHref(url) {
  try {
    const parsed = new URL(url, window.location.href);
    return parsed.protocol === "http:" || parsed.protocol === "https:" ? url : null;
  } catch {
    return null;
  }
}

/** Inline Markdown of one line as a list of nodes. */
export function inline(text) {
  const nodes = [];
  let last = 0;
  for (const match of text.matchAll(INLINE)) {
    if (match.index > last) nodes.push(text.slice(last, match.index));
    const [whole, escaped, code, bold, label, url] = match;
    if (escaped !== undefined) nodes.push(escaped);
    else if (code !== undefined) nodes.push(h("code", { text: code }));
    else if (bold !== undefined) nodes.push(h("strong", {}, inline(bold)));
    else {
      const href = safeHref(url);
      const external = href && /^https?:/i.test(href);
      nodes.push(href ? h("a", { href, rel: external ? "noopener noreferrer" : null }, inline(label)) : whole);
    }
    last = match.index + whole.length;
  }
  if (last < text.length) nodes.push(text.slice(last));
  return nodes;
}

const BULLET = /^\s*[-*]\s+(.*)$/;
const NUMBERED = /^\s*\d+[.)]\s+(.*)$/;
const HEADING = /^(#{1,6})\s+(.*)$/;
const FENCE = /^\s*```/;

/** Render Markdown source as a DocumentFragment. Headings start at <h3> (the page owns h1/h2). */
export function renderMarkdown(source) {
  const out = document.createDocumentFragment();
  const lines = String(source ?? "").replace(/\r\n?/g, "\n").split("\n");
  let i = 0;
  while (i < lines.length) {
    const line = lines[i];
    if (!line.trim()) {
      i += 1;
    } else if (FENCE.test(line)) {
      const body = [];
      for (i += 1; i < lines.length && !FENCE.test(lines[i]); i += 1) body.push(lines[i]);
      i += 1; // the closing fence
      out.append(h("pre", {}, h("code", { text: body.join("\n") })));
    } else if (HEADING.test(line)) {
      const [, marks, text] = line.match(HEADING);
      out.append(h(`h${Math.min(marks.length + 2, 6)}`, {}, inline(text)));
      i += 1;
    } else if (BULLET.test(line) || NUMBERED.test(line)) {
      const pattern = BULLET.test(line) ? BULLET : NUMBERED;
      const list = h(pattern === BULLET ? "ul" : "ol");
      for (; i < lines.length && pattern.test(lines[i]); i += 1) list.append(h("li", {}, inline(lines[i].match(pattern)[1])));
      out.append(list);
    } else {
      const text = [];
      for (; i < lines.length && lines[i].trim() && !FENCE.test(lines[i]) && !HEADING.test(lines[i])
             && !BULLET.test(lines[i]) && !NUMBERED.test(lines[i]); i += 1) text.push(lines[i].trim());
      out.append(h("p", {}, inline(text.join(" "))));
    }
  }
  return out;
}
