// "My solutions" of one type: a chip per solution (name + live status), a details dialog with every listing key
// (SOLUTIONS.md §6.2), its outputs and progress events, and deleting with a confirmation.

import { api, ApiError, leaveIfSignedOut, poll } from "./api.js";
import { $, h, confirmDialog, displayValue, keyValueList, publicUrl, statusBadge, urlLink, SETTLED } from "./dom.js";
import { isWireguardLink, wireguardDownload } from "./wireguard.js";

const type = new URLSearchParams(window.location.search).get("type") || "";
const LIST_REFRESH_MS = 5000;
const DETAIL_POLL_MS = 2000;
/** Keys of a listing that are shown elsewhere in the dialog (or are internal). */
const NOT_KEYS = new Set(["id", "type", "name", "status", "error", "created", "events", "outputs", "workloads",
                          "wireguard_config"]);

const state = { solutions: [], title: type, listTimer: null, open: null, detailPoller: null };

/** Listing keys are display labels already (SOLUTIONS.md §6.2), but for this one. */
const KEY_LABELS = { wids: "Workload ids" };

const busy = (status) => !SETTLED.has(status);

// ---- the list ----

function chip(solution) {
  const name = solution.Name ?? solution.name ?? solution.id;
  const button = h("button", { type: "button", className: "chip", "aria-haspopup": "dialog", dataset: { id: solution.id } },
    h("span", { className: "chip-name", text: name }), " ", statusBadge(solution.status));
  button.addEventListener("click", () => openDetails(solution.id));
  const url = solution.status === "deployed" ? publicUrl(solution) : null;
  return h("li", {}, button,
    url ? h("p", { className: "chip-url" }, urlLink(url, `Open ${name} at ${url}`)) : null,
    solution.error ? h("p", { className: "chip-error", text: solution.error }) : null);
}

async function loadList() {
  clearTimeout(state.listTimer);
  try {
    const { solutions } = await api(`/api/solutions?type=${encodeURIComponent(type)}`);
    state.solutions = solutions;
    const focused = document.activeElement?.closest?.("#solutions .chip")?.dataset.id;
    $("solutions").replaceChildren(...solutions.map(chip));
    if (focused) $("solutions").querySelector(`.chip[data-id="${CSS.escape(focused)}"]`)?.focus();
    const count = solutions.length
      ? `You have ${solutions.length} ${state.title} solution${solutions.length === 1 ? "" : "s"}.`
      : `You have no ${state.title} solutions.`;
    $("list-status").textContent = count;
    $("list-error").textContent = "";
    if (solutions.some((s) => busy(s.status))) state.listTimer = setTimeout(loadList, LIST_REFRESH_MS);
  } catch (error) {
    if (leaveIfSignedOut(error)) return;
    $("list-status").textContent = "";
    $("list-error").textContent = `Your solutions could not be loaded: ${error.message}`;
    if (error instanceof ApiError && error.retryable) state.listTimer = setTimeout(loadList, LIST_REFRESH_MS);
  }
}

// ---- the details dialog ----

const dialog = $("details");

function fillDetails(solution) {
  const name = solution.Name ?? solution.name ?? solution.id;
  $("details-title").textContent = name;
  $("details-status").replaceChildren("Status: ", statusBadge(solution.status));
  $("details-error").textContent = solution.error || "";
  const pairs = [["Created", solution.created ? new Date(solution.created).toLocaleString() : ""]];
  for (const [key, value] of Object.entries(solution)) {
    if (!NOT_KEYS.has(key)) pairs.push([KEY_LABELS[key] || key, displayValue(value) || "—"]);
  }
  const url = publicUrl(solution);
  const link = url ? [h("dt", { text: "Public URL" }), h("dd", {}, urlLink(url, `Open ${name} at ${url}`))] : [];
  $("details-keys").replaceChildren(...link, ...keyValueList(pairs).childNodes);
  $("details-delete").hidden = solution.status === "cancelling" || solution.status === "cancelled";
  $("details-delete").setAttribute("aria-label", `Delete ${name}`);
}

/** A network's (or access point's) one-time WireGuard download, while the server still has it. */
function fillWireguard(id, available) {
  const box = $("details-wireguard");
  if (box.dataset.done === id) return; // downloaded from this dialog: the instructions stay
  if (!available) {
    if (!box.querySelector("button:disabled")) box.replaceChildren(); // never under a download on its way
    return;
  }
  if (!box.firstChild) box.replaceChildren(wireguardDownload(id, () => { box.dataset.done = id; }));
}

function fillProgress(detail) {
  fillWireguard(detail.id, detail.wireguard_config === "available");
  const outputs = Object.entries(detail.outputs || {}).filter(([, v]) => !isWireguardLink(v));
  $("details-outputs").replaceChildren(...(outputs.length ? [h("h3", { text: "Outputs" }), keyValueList(outputs)] : []));
  $("details-events").replaceChildren(...(detail.events || []).map((e) =>
    h("li", { className: e.level === "error" ? "event-error" : null },
      h("time", { datetime: e.at, text: new Date(e.at).toLocaleString() }), " ", e.message)));
}

function openDetails(id) {
  const solution = state.solutions.find((s) => s.id === id);
  if (!solution) return;
  state.open = id;
  fillDetails(solution);
  $("details-outputs").replaceChildren();
  $("details-wireguard").replaceChildren();
  delete $("details-wireguard").dataset.done;
  $("details-events").replaceChildren(h("li", { className: "muted", text: "Loading…" }));
  dialog.showModal();
  $("details-close").focus();
  watchDetails(id);
}

/** Poll the open solution while it changes; it disappearing (404) or reaching cancelled means it was deleted. */
function watchDetails(id) {
  state.detailPoller?.stop();
  state.detailPoller = poll(async () => {
    if (state.open !== id) return true;
    try {
      const detail = await api(`/api/solutions/${encodeURIComponent(id)}`);
      if (state.open !== id) return true;
      fillDetails(detail);
      fillProgress(detail);
      if (detail.status === "cancelled") return gone(detail.Name ?? detail.name);
      return !busy(detail.status);
    } catch (error) {
      if (error instanceof ApiError && error.status === 404) return gone(null);
      throw error;
    }
  }, DETAIL_POLL_MS);
}

function gone(name) {
  const label = name || $("details-title").textContent;
  state.open = null; // the chip is going away: the close handler leaves focus to the page title
  dialog.close();
  $("list-notice").textContent = `${label} was deleted.`;
  $("page-title").focus();
  loadList();
  return true;
}

dialog.addEventListener("close", () => {
  state.detailPoller?.stop();
  const id = state.open;
  state.open = null;
  if (id) $("solutions").querySelector(`.chip[data-id="${CSS.escape(id)}"]`)?.focus();
});
$("details-close").addEventListener("click", () => dialog.close());

$("details-delete").addEventListener("click", async () => {
  const id = state.open;
  const name = $("details-title").textContent;
  const ok = await confirmDialog({ title: `Delete ${name}?`,
                                   message: "This removes every workload of it from the grid. It cannot be undone.",
                                   confirmLabel: "Delete", danger: true });
  if (!ok || state.open !== id) {
    $("details-delete").focus();
    return;
  }
  try {
    const detail = await api(`/api/solutions/${encodeURIComponent(id)}`, { method: "DELETE" });
    fillDetails(detail);
    fillProgress(detail);
    $("details-close").focus();
    loadList();
    watchDetails(id);
  } catch (error) {
    if (!leaveIfSignedOut(error)) $("details-error").textContent = error.message;
  }
});

// ---- start ----

async function start() {
  if (type === "pools") {
    window.location.replace("/pools.html");
    return;
  }
  $("deploy-another").href = `/wizard.html?type=${encodeURIComponent(type)}`;
  try {
    const { chatflows } = await api("/api/chatflows");
    const chatflow = chatflows.find((c) => c.type === type);
    if (chatflow) state.title = chatflow.title;
    else $("deploy-another").hidden = true;
  } catch {
    // The titles are a nicety; the list still works without them.
  }
  $("page-title").textContent = `My ${state.title} solutions`;
  $("crumb").textContent = `My ${state.title} solutions`;
  $("deploy-another").textContent = `Deploy another ${state.title}`;
  document.title = `My ${state.title} solutions — Marketplace`;
  await loadList();
}

window.marketplace.ready.then(start);
