// The wizard page: starts (?type=) or resumes (?session=) a chatflow session and renders its current step
// (services/chatflow/API.md). The session id stays in the URL so a reload resumes; answers are never stored in the
// browser — the server keeps them and sends the non-secret ones back for pre-filling.

import { api, ApiError, leaveIfSignedOut } from "./api.js";
import { $, h, confirmDialog } from "./dom.js";
import { FieldProblem, renderField } from "./fields.js";

const state = {
  session: null,
  views: [],          // the rendered fields of the current step
  blocked: new Set(), // fields that keep Next disabled (a payment or a deployment still running)
  busy: false,
  retry: null,        // the last request, to repeat after a 503
};

const form = $("step-form");
const nextButton = $("next");
const backButton = $("back");
const restartButton = $("restart");
const sessionPath = (suffix = "") => `/api/chatflows/sessions/${encodeURIComponent(state.session.id)}${suffix}`;

// ---- requests ----

/** Run a request that answers a session view; show the view, or the problem. */
async function act(request) {
  state.retry = request;
  setBusy(true);
  hideProblem();
  try {
    show(await request());
  } catch (error) {
    handleError(error);
  } finally {
    setBusy(false);
  }
}

function handleError(error) {
  if (leaveIfSignedOut(error)) return;
  if (!(error instanceof ApiError)) {
    showProblem("Something went wrong in this page; reload it to continue.");
    console.error(error);
    return;
  }
  if (error.status === 422 && state.views.length) {
    showFieldErrors(error.errors.map((e) => [e.field, e.description || e.code]), error.message);
  } else if (error.retryable) {
    showProblem(`${error.message} Your answers are kept; retry when you are ready.`,
      h("button", { type: "button", className: "primary", text: "Retry", on: { click: () => act(state.retry) } }));
  } else if (error.status === 404 && !state.session) {
    const params = new URLSearchParams(window.location.search);
    $("step-name").textContent = "Wizard";
    showProblem(params.get("session") ? "This wizard no longer exists: it was finished, abandoned or it expired."
      : `There is no solution called “${params.get("type")}” to deploy.`,
    h("a", { href: "/", text: "Back to the catalogue" }));
  } else {
    showProblem(error.message);
  }
}

// ---- the step ----

function show(session) {
  for (const view of state.views) view.destroy();
  state.session = session;
  state.blocked.clear();
  const url = new URL(window.location.href);
  url.search = `?session=${encodeURIComponent(session.id)}`;
  window.history.replaceState(null, "", url);

  const { step } = session;
  document.title = `${step.title} — ${session.title} — Marketplace`;
  $("wizard-solution").textContent = session.title;
  $("step-count").replaceChildren(`${session.title} · Step ${step.index} of ${step.count}`,
    h("span", { className: "visually-hidden", text: ": " }));
  $("step-name").textContent = step.title;
  $("step-bar").max = step.count;
  $("step-bar").value = step.index;

  const ctx = { answers: session.answers || {}, stepTitle: step.title, block, settled };
  state.views = step.fields.map((field) => renderField(field, ctx));
  $("step-fields").replaceChildren(...state.views.map((v) => v.element));

  const answering = session.status === "active";
  form.hidden = false;
  backButton.hidden = !step.can_back || !answering;
  restartButton.hidden = !answering;
  nextButton.hidden = !answering;
  $("wizard-actions").hidden = !answering;
  nextButton.textContent = step.final ? "Deploy" : step.index >= step.count ? "Finish" : "Next";
  $("wizard-done").hidden = true;
  if (session.status === "finished") settled("finished");
  if (session.status === "abandoned") showProblem("This wizard was abandoned.", h("a", { href: "/", text: "Back to the catalogue" }));
  updateNext();
  $("step-title").focus();
}

/** A field asks Next to wait (payment not yet received, deployment still running) or releases it. */
function block(name, blocked) {
  if (blocked) state.blocked.add(name);
  else state.blocked.delete(name);
  updateNext();
}

/** The wizard is over (a deployment reached a final state, or a flow without deployment finished). */
function settled(status) {
  if (state.session?.status === "active") return;
  const type = encodeURIComponent(state.session.type);
  $("done-solutions").href = state.session.type === "pools" ? "/pools.html" : `/solutions.html?type=${type}`;
  $("done-again").href = `/wizard.html?type=${type}`;
  $("done-solutions").parentElement.hidden = status === "cancelled";
  $("wizard-done").hidden = false;
}

function updateNext() {
  nextButton.disabled = state.busy || state.blocked.size > 0;
}

function setBusy(busy) {
  state.busy = busy;
  form.setAttribute("aria-busy", String(busy));
  backButton.disabled = busy;
  restartButton.disabled = busy;
  updateNext();
}

// ---- problems ----

function showProblem(text, ...actions) {
  $("wizard-problem-text").textContent = text;
  $("wizard-problem-actions").replaceChildren(...actions.filter(Boolean));
  $("wizard-problem").hidden = false;
  const focusable = $("wizard-problem-actions").querySelector("button, a");
  if (focusable) focusable.focus();
}

function hideProblem() {
  $("wizard-problem").hidden = true;
  for (const view of state.views) view.setError(null);
}

/** Errors next to their fields (aria-invalid + aria-describedby); the rest above the form. Focus the first. */
function showFieldErrors(errors, summary) {
  const byName = new Map(state.views.map((v) => [v.field.name, v]));
  const loose = [];
  let first = null;
  for (const [name, text] of errors) {
    const view = byName.get(name);
    if (view) {
      view.setError(text);
      first ??= view;
    } else {
      loose.push(name ? `${name}: ${text}` : text);
    }
  }
  if (loose.length || !first) showProblem([summary, ...loose].filter(Boolean).join(" — "));
  first?.focus();
}

// ---- events ----

async function collectAnswers() {
  const answers = {};
  const problems = [];
  for (const view of state.views) {
    if (!view.answers) continue;
    try {
      const value = await view.value();
      if (value !== undefined) answers[view.field.name] = value;
    } catch (error) {
      if (!(error instanceof FieldProblem)) throw error;
      problems.push([view.field.name, error.message]);
    }
  }
  return { answers, problems };
}

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  if (state.busy || state.blocked.size || state.session?.status !== "active") return;
  hideProblem();
  const { answers, problems } = await collectAnswers();
  if (problems.length) {
    showFieldErrors(problems);
    return;
  }
  await act(() => api(sessionPath("/answer"), { method: "POST", body: { answers } }));
});

// Enter in any single-line control (text, number, date, a radio, a checkbox, a select) submits the step.
form.addEventListener("keydown", (event) => {
  if (event.key !== "Enter" || event.isComposing || event.defaultPrevented) return;
  const target = event.target;
  const submits = (target.tagName === "INPUT" && !["file", "button", "submit", "reset"].includes(target.type))
    || target.tagName === "SELECT";
  if (!submits) return;
  event.preventDefault();
  form.requestSubmit();
});

backButton.addEventListener("click", () => act(() => api(sessionPath("/back"), { method: "POST", body: {} })));

restartButton.addEventListener("click", async () => {
  const ok = await confirmDialog({ title: "Start over?", message: "Every answer in this wizard is cleared.",
                                   confirmLabel: "Start over" });
  if (ok) await act(() => api(sessionPath("/restart"), { method: "POST", body: {} }));
  else restartButton.focus();
});

async function start() {
  const params = new URLSearchParams(window.location.search);
  const sessionId = params.get("session");
  const type = params.get("type");
  if (sessionId) {
    await act(() => api(`/api/chatflows/sessions/${encodeURIComponent(sessionId)}`));
  } else if (type) {
    await act(() => api(`/api/chatflows/${encodeURIComponent(type)}`, { method: "POST", body: {} }));
  } else {
    $("step-name").textContent = "Choose a solution";
    showProblem("Pick what to deploy in the catalogue.", h("a", { href: "/", text: "Open the catalogue" }));
  }
}

window.marketplace.ready.then(start);
