// Small DOM helpers shared by the pages. Text always goes in through textContent / text nodes, never as HTML.

/**
 * Build an element: h("a", { href: "/x", className: "card", on: { click: fn } }, "text", child, ...).
 * Props: className, text, hidden, on (event map), dataset (map); anything else becomes an attribute
 * (false / null / undefined skip it, true sets it empty).
 */
export function h(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (key === "className") node.className = value;
    else if (key === "text") node.textContent = value;
    else if (key === "hidden") node.hidden = Boolean(value);
    else if (key === "on") for (const [type, fn] of Object.entries(value)) node.addEventListener(type, fn);
    else if (key === "dataset") Object.assign(node.dataset, value);
    else if (value === true) node.setAttribute(key, "");
    else if (value !== false && value !== null && value !== undefined) node.setAttribute(key, String(value));
  }
  append(node, children);
  return node;
}

function append(node, children) {
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

export const $ = (id) => document.getElementById(id);

/** A value from the API as display text: lists joined, maps as "key: value", null as an empty string. */
export function displayValue(value) {
  if (value === null || value === undefined) return "";
  if (Array.isArray(value)) return value.map(displayValue).join(", ");
  if (typeof value === "object") return Object.entries(value).map(([k, v]) => `${k}: ${displayValue(v)}`).join(", ");
  return String(value);
}

// A DNS name as the deployer stores it (SOLUTIONS §1.9): nothing else becomes a link's address.
const HOSTNAME = /^(?=.{1,253}$)[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)+$/i;

/** The public address of a listed solution on a gateway (its `Domain`, SOLUTIONS §6.2): `https://<domain>`, or null. */
export function publicUrl(solution) {
  const domain = typeof solution?.Domain === "string" ? solution.Domain : "";
  return HOSTNAME.test(domain) ? `https://${domain}` : null;
}

/** A link to a solution's public address, opened in a new tab that gets no handle on this page. */
export function urlLink(url, label) {
  return h("a", { className: "public-url", href: url, target: "_blank", rel: "noopener noreferrer",
                  "aria-label": label, text: url });
}

/** A <dl> of [key, value] pairs. */
export function keyValueList(pairs, className = "kv") {
  return h("dl", { className }, pairs.flatMap(([k, v]) => [h("dt", { text: k }), h("dd", { text: displayValue(v) })]));
}

const STATUS_TONE = {
  deployed: "good", active: "good", paid: "good",
  failed: "bad", rolled_back: "bad", expired: "bad",
  cancelling: "quiet", cancelled: "quiet", abandoned: "quiet",
};

/** A status badge ("rolled_back" reads "rolled back"); the tone is a class, the text says it all. */
export function statusBadge(status) {
  const tone = STATUS_TONE[status] || "busy";
  return h("span", { className: `badge badge-${tone}`, text: String(status).replaceAll("_", " ") });
}

/** Hand `blob` to the browser as a file download named `filename` (no navigation, nothing left behind). */
export function saveBlob(blob, filename) {
  const url = URL.createObjectURL(blob);
  const link = h("a", { href: url, download: filename, hidden: true });
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 60_000);  // the download has started long before
}

/** Deployment states after which nothing changes any more on its own. */
export const SETTLED = new Set(["deployed", "rolled_back", "cancelled"]);

/**
 * Ask a yes/no question in a modal <dialog> (keyboard: Tab between the buttons, Escape cancels).
 * Resolves true when confirmed.
 */
export function confirmDialog({ title, message, confirmLabel = "Confirm", danger = false }) {
  return new Promise((resolve) => {
    const titleId = `confirm-title-${Math.random().toString(36).slice(2)}`;
    const cancel = h("button", { type: "button", text: "Cancel", value: "cancel" });
    const confirm = h("button", { type: "submit", className: danger ? "danger" : "primary", text: confirmLabel,
                                  value: "confirm" });
    const dialog = h("dialog", { className: "confirm", "aria-labelledby": titleId },
      h("form", { method: "dialog" },
        h("h2", { id: titleId, text: title }),
        message ? h("p", { text: message }) : null,
        h("p", { className: "actions" }, cancel, " ", confirm)));
    cancel.addEventListener("click", () => dialog.close("cancel"));
    dialog.addEventListener("close", () => {
      dialog.remove();
      resolve(dialog.returnValue === "confirm");
    });
    document.body.append(dialog);
    dialog.showModal();
    cancel.focus();
  });
}
