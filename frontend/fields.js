// One wizard field (services/chatflow/API.md "Field") as accessible form controls: every control has a <label for>
// (groups a <fieldset> + <legend>), help and error text are tied to it with aria-describedby, and values go back
// to the API in the shape the contract asks for. Secrets are never pre-filled from earlier answers.

import { api, poll } from "./api.js";
import { h, displayValue, keyValueList, publicUrl, statusBadge, SETTLED, urlLink } from "./dom.js";
import { renderMarkdown, safeHref } from "./markdown.js";
import { isWireguardLink, wireguardDownload } from "./wireguard.js";

/** A problem found before sending (e.g. a file that is too large): shown next to its field like a 422. */
export class FieldProblem extends Error {}

const DISPLAY_ONLY = new Set(["info", "confirm", "qr", "payment", "download", "progress"]);
const POLL_MS = 2000;

const slug = (name) => String(name).replace(/[^A-Za-z0-9_-]/g, "_");

/** Text the user can read for a number of bytes. */
function sizeText(bytes) {
  if (bytes >= 1024 * 1024) return `${(bytes / 1024 / 1024).toFixed(1)} MB`;
  if (bytes >= 1024) return `${Math.round(bytes / 1024)} KB`;
  return `${bytes} bytes`;
}

/** A moment as <input type=datetime-local> wants it: local time, to the minute ("2026-12-01T10:00"). */
function localInput(date) {
  const d = new Date(date.getTime() - date.getTimezoneOffset() * 60000);
  return d.toISOString().slice(0, 16);
}

/** The input's local time with this browser's UTC offset ("2026-12-01T10:00+01:00"), so the server reads the
 * moment the user meant whatever its own time zone. */
function withOffset(local) {
  const offset = -new Date(local).getTimezoneOffset();
  const sign = offset >= 0 ? "+" : "-";
  const pad = (n) => String(Math.floor(Math.abs(n))).padStart(2, "0");
  return `${local}${sign}${pad(offset / 60)}:${pad(offset % 60)}`;
}

/**
 * Build the view of one field.
 *
 * ctx: { answers, stepTitle, block(name, blocked) — Next waits while a field is blocked,
 *        settled(status) — a progress field reached a final deployment state }.
 * Returns { field, element, answers (bool), value() → Promise<answer>, setError(text), focus(), destroy() }.
 */
export function renderField(field, ctx) {
  const id = `f-${slug(field.name)}`;
  const ids = { id, help: `${id}-help`, error: `${id}-error` };
  const previous = ctx.answers?.[field.name];
  const initial = field.kind === "secret" ? field.default : (previous ?? field.default);
  const builder = BUILDERS[field.kind] || BUILDERS.unknown;
  const view = builder(field, ids, initial, ctx);

  const help = field.help ? h("p", { className: "help", id: ids.help, text: field.help }) : null;
  const error = h("p", { className: "field-error", id: ids.error, hidden: true });
  const controls = view.controls || [];
  // Help and (when shown) the error describe every control of the field; a group's legend names them together.
  const describe = (withError) => {
    const value = [help && ids.help, withError && ids.error].filter(Boolean).join(" ");
    for (const control of controls) {
      if (value) control.setAttribute("aria-describedby", value);
      else control.removeAttribute("aria-describedby");
      if (withError) control.setAttribute("aria-invalid", "true");
      else control.removeAttribute("aria-invalid");
    }
  };
  describe(false);
  const element = view.group
    ? h("fieldset", { className: `field field-${field.kind}`, dataset: { field: field.name, kind: field.kind } },
        h("legend", {}, field.label, requiredMark(field)), help, error, view.body)
    : h("div", { className: `field field-${field.kind}`, dataset: { field: field.name, kind: field.kind } },
        // Display-only fields have nothing to label: their label is a heading (when it adds anything).
        view.label !== false ? h("label", { for: ids.id }, field.label, requiredMark(field))
          : view.heading && field.label ? h("h3", { text: field.label }) : null,
        help, view.body, error);

  return {
    field,
    element,
    answers: !DISPLAY_ONLY.has(field.kind),
    value: view.value || (async () => undefined),
    setError(text) {
      error.textContent = text || "";
      error.hidden = !text;
      describe(Boolean(text));
    },
    focus() { controls[0]?.focus(); },
    destroy() { view.destroy?.(); },
  };
}

/** Most fields are required (and say so to assistive technology with aria-required); the others are marked. */
function requiredMark(field) {
  return !field.required && !DISPLAY_ONLY.has(field.kind) ? h("span", { className: "optional", text: " (optional)" }) : null;
}

function common(field, ids) {
  return { id: ids.id, name: field.name, required: Boolean(field.required), "aria-required": field.required ? "true" : null };
}

const BUILDERS = {
  string(field, ids, initial) {
    const input = h("input", { ...common(field, ids), type: "text", autocomplete: "off", spellcheck: "false",
                               minlength: field.min_length, maxlength: field.max_length });
    input.value = initial ?? "";
    return { controls: [input], body: input, value: async () => input.value };
  },

  secret(field, ids, initial) {
    const input = h("input", { ...common(field, ids), type: "password", autocomplete: "new-password",
                               minlength: field.min_length, maxlength: field.max_length });
    input.value = initial ?? "";
    const toggle = h("button", { type: "button", className: "inline", "aria-pressed": "false", "aria-controls": ids.id,
                                 text: "Show" });
    toggle.addEventListener("click", () => {
      const show = input.type === "password";
      input.type = show ? "text" : "password";
      toggle.setAttribute("aria-pressed", String(show));
      toggle.textContent = show ? "Hide" : "Show";
    });
    return { controls: [input], body: h("div", { className: "with-button" }, input, toggle), value: async () => input.value };
  },

  integer(field, ids, initial) {
    const input = h("input", { ...common(field, ids), type: "number", inputmode: "numeric", step: 1,
                               min: field.min, max: field.max });
    input.value = initial ?? "";
    const value = async () => {
      if (input.value === "") {
        if (input.validity.badInput) throw new FieldProblem("Enter a whole number.");
        return null;
      }
      const number = Number(input.value);
      if (!Number.isInteger(number)) throw new FieldProblem("Enter a whole number.");
      return number;
    };
    return { controls: [input], body: input, value };
  },

  text(field, ids, initial) {
    const area = h("textarea", { ...common(field, ids), rows: 5, spellcheck: "false",
                                 minlength: field.min_length, maxlength: field.max_length });
    area.value = initial ?? "";
    return { controls: [area], body: area, value: async () => area.value };
  },

  choice(field, ids, initial) {
    const choices = field.choices || [];
    const radios = choices.map((choice, i) => h("input", { type: "radio", id: `${ids.id}-${i}`, name: field.name,
                                                          value: String(i), required: Boolean(field.required) }));
    const selected = choices.findIndex((c) => initial !== null && initial !== undefined && String(c.value) === String(initial));
    if (selected >= 0) radios[selected].checked = true;
    const body = h("div", { className: "options" }, choices.map((choice, i) =>
      h("div", { className: "option" }, radios[i], h("label", { for: radios[i].id, text: choice.label }))));
    const value = async () => {
      const checked = radios.findIndex((r) => r.checked);
      return checked >= 0 ? choices[checked].value : null;
    };
    return { group: true, controls: radios, body, value };
  },

  dropdown(field, ids, initial) {
    const choices = field.choices || [];
    const select = h("select", common(field, ids));
    const initialIndex = choices.findIndex((c) => initial !== null && initial !== undefined && String(c.value) === String(initial));
    // Rebuild the options from the filter text, keeping the selection when it still matches, else the first match.
    const fill = (query) => {
      const previous = select.value;
      const wanted = query.trim().toLowerCase();
      const visible = choices.map((c, i) => [c, i]).filter(([c]) => !wanted || String(c.label).toLowerCase().includes(wanted));
      const options = visible.map(([c, i]) => h("option", { value: String(i), text: c.label }));
      if (!field.required) options.unshift(h("option", { value: "", text: "— none —" }));
      select.replaceChildren(...options);
      if (visible.some(([, i]) => String(i) === previous)) select.value = previous;
      else if (visible.length && (wanted || field.required)) select.value = String(visible[0][1]);
      else select.value = "";
      return visible.length;
    };
    fill("");
    if (initialIndex >= 0) select.value = String(initialIndex);
    const parts = [select];
    if (field.searchable) {
      const filterId = `${ids.id}-filter`;
      const count = h("span", { className: "muted", id: `${filterId}-count`, "aria-live": "polite" });
      const filter = h("input", { type: "search", id: filterId, autocomplete: "off", "aria-controls": ids.id,
                                  "aria-describedby": `${filterId}-count` });
      filter.addEventListener("input", () => {
        const shown = fill(filter.value);
        count.textContent = filter.value ? `${shown} of ${choices.length} shown` : "";
      });
      parts.unshift(h("div", { className: "filter" },
        h("label", { for: filterId, className: "small", text: `Filter the ${field.label} list` }),
        filter, " ", count));
    }
    const value = async () => (select.value === "" ? null : choices[Number(select.value)].value);
    return { controls: [select], body: h("div", { className: "dropdown" }, ...parts), value };
  },

  multi_choice(field, ids, initial) {
    const choices = field.choices || [];
    const chosen = new Set((Array.isArray(initial) ? initial : []).map(String));
    const boxes = choices.map((choice, i) => h("input", { type: "checkbox", id: `${ids.id}-${i}`, name: field.name,
                                                         value: String(i), checked: chosen.has(String(choice.value)) }));
    const body = h("div", { className: "options" }, choices.map((choice, i) =>
      h("div", { className: "option" }, boxes[i], h("label", { for: boxes[i].id, text: choice.label }))));
    const value = async () => choices.filter((_, i) => boxes[i].checked).map((c) => c.value);
    return { group: true, controls: boxes, body, value };
  },

  datetime(field, ids, initial) {
    const input = h("input", { ...common(field, ids), type: "datetime-local",
                               min: field.future_only ? localInput(new Date()) : null });
    const earlier = typeof initial === "string" ? new Date(initial) : null;
    if (earlier && !Number.isNaN(earlier.getTime())) input.value = localInput(earlier);
    const value = async () => {
      if (input.validity.badInput) throw new FieldProblem("Enter a complete date and time.");
      return input.value ? withOffset(input.value) : null;
    };
    return { controls: [input], body: input, value };
  },

  file(field, ids, initial) {
    const input = h("input", { ...common(field, ids), type: "file", accept: field.accept });
    // Going back to this step: the earlier upload (its content; the filename when the server kept it) is reused
    // unless another file is chosen.
    const kept = typeof initial === "string" && initial ? { filename: "", content: initial }
      : initial && typeof initial === "object" && typeof initial.content === "string" ? initial : null;
    const keptName = kept?.filename || "the file uploaded earlier";
    const note = kept ? h("p", { className: "help", text: `Current: ${keptName} — choose another file to replace it.` }) : null;
    if (kept) input.required = false;
    const value = async () => {
      const file = input.files[0];
      if (!file) return kept;
      if (field.max_size && file.size > field.max_size) {
        throw new FieldProblem(`${file.name} is ${sizeText(file.size)}; the largest file accepted is ${sizeText(field.max_size)}.`);
      }
      return { filename: file.name, content: await readText(file) };
    };
    return { controls: [input], body: h("div", {}, input, note), value };
  },

  info(field, ids, initial, ctx) {
    const heading = field.label !== ctx.stepTitle; // no second heading saying what the page heading says
    return { label: false, heading, body: h("div", { className: "markdown" }, renderMarkdown(field.markdown)) };
  },

  confirm(field) {
    const table = h("table", { className: "confirm-table" },
      field.label ? h("caption", { text: field.label }) : null,
      h("tbody", {}, (field.rows || []).map(([key, value]) =>
        h("tr", {}, h("th", { scope: "row", text: key }), h("td", { text: displayValue(value) })))));
    return { label: false, body: table };
  },

  qr(field) {
    const figure = h("figure", { className: "qr" },
      h("img", { src: safeHref(field.image), alt: `QR code of: ${field.data ?? field.label}`, width: 200, height: 200 }),
      field.data ? h("figcaption", {}, h("code", { text: field.data })) : null);
    return { label: false, heading: true, body: h("div", {}, figure, keyValueList(field.rows || [])) };
  },

  payment(field, ids, initial, ctx) {
    const status = h("p", { className: "payment-status", role: "status", text: "Waiting for the payment…" });
    const say = (state, text) => status.replaceChildren(statusBadge(state), ` ${text}`);
    const sentence = (text) => (text ? `${text[0].toUpperCase()}${text.slice(1)}.` : "");
    ctx.block(field.name, true);
    // Next waits for the pool to be active (API.md). An extension's pool is active all along: its own payment is
    // then followed until credited, without holding the user back; so is a payment the wizard stopped waiting for.
    const poller = poll(async () => {
      const { pool, payment } = await api(`/api/pools/${encodeURIComponent(field.pool_id)}`);
      const id = pool.grid_pool_id ?? field.pool_id;
      if (pool.state === "expired" || pool.state === "failed") {
        say(pool.state, sentence(payment?.message || pool.state_reason || "the payment did not arrive"));
        return true;
      }
      const pending = payment && (payment.state === "awaiting_payment" || payment.state === "submitting");
      if (pool.state === "active" && !pending) {
        if (payment && payment.state !== "paid") say(payment.state, sentence(payment.message));
        else say("active", `Pool ${id} is ready.`);
        ctx.block(field.name, false);
        return true;
      }
      if (pool.state === "active") {
        say("awaiting_payment", `Pool ${id} is active; waiting for the payment of the added capacity…`);
        ctx.block(field.name, false);
      } else {
        say("awaiting_payment", sentence(payment?.message || "waiting for the payment"));
        if (payment?.wait_over) ctx.block(field.name, false);
      }
      return false;
    }, POLL_MS);
    const body = h("div", { className: "payment" },
      h("img", { src: safeHref(field.image), alt: "Payment QR code", width: 200, height: 200 }),
      // The flow's help usually says how to pay; this is the fallback.
      field.help ? null : h("p", {}, "Scan the code with the 3Bot Connect app ",
        h("strong", { text: "without changing the message" }), ", or pay manually with these details:"),
      keyValueList(field.rows || []),
      status);
    return { label: false, heading: true, body, destroy: () => poller.stop() };
  },

  download(field) {
    const link = h("a", { href: safeHref(field.url), download: field.filename || true, className: "button" },
      `Download ${field.filename || field.label}`);
    const note = h("p", { className: "help", text: "Keep the file: it may be downloadable only once." });
    return { label: false, heading: true, body: h("div", {}, link, note) };
  },

  progress(field, ids, initial, ctx) {
    return progressView(field, ctx);
  },

  unknown(field) {
    return { label: false, body: h("p", { className: "muted", text: `${field.label} (this page cannot show a “${field.kind}” field yet)` }) };
  },
};

function readText(file) {
  return new Promise((resolve, reject) => {
    const reader = new FileReader();
    reader.addEventListener("load", () => resolve(String(reader.result)));
    reader.addEventListener("error", () => reject(new FieldProblem(`${file.name} could not be read.`)));
    reader.readAsText(file);
  });
}

/** A deployment's live progress: status, events, outputs, and the one-time WireGuard download. */
function progressView(field, ctx) {
  const id = field.solution_id;
  const status = h("p", { className: "progress-status", role: "status", text: "Starting…" });
  const failure = h("p", { role: "alert" });
  const address = h("p", { className: "progress-url" });  // a deployed solution's https:// address, as a link
  const events = h("ol", { className: "events", "aria-label": "Progress" });
  const outputs = h("div", { className: "outputs" });
  const wireguard = h("div");
  let downloaded = false;
  ctx.block(field.name, true);

  const showWireguard = (available) => {
    if (downloaded) return;
    if (!available) {
      // Not while a download is on its way: the server erased it a moment ago, and the box shows how it went.
      if (!wireguard.querySelector("button:disabled")) wireguard.replaceChildren();
      return;
    }
    if (!wireguard.firstChild) wireguard.replaceChildren(wireguardDownload(id, () => { downloaded = true; }, field.filename || ""));
  };

  const poller = poll(async () => {
    const sol = await api(`/api/solutions/${encodeURIComponent(id)}`);
    const last = sol.events?.length ? sol.events[sol.events.length - 1].message : "";
    status.replaceChildren(statusBadge(sol.status), last && last !== sol.status ? ` ${last}` : "");
    failure.textContent = sol.error || "";
    const url = sol.status === "deployed" ? publicUrl(sol) : null;
    address.replaceChildren(...(url ? ["Open it at ", urlLink(url, `Open ${sol.Name ?? sol.name} at ${url}`)] : []));
    events.replaceChildren(...(sol.events || []).map((e) =>
      h("li", { className: e.level === "error" ? "event-error" : null },
        h("time", { datetime: e.at, text: new Date(e.at).toLocaleTimeString() }), " ", e.message)));
    // Saved under another name (apps.conf), the deployer's sentence naming its own file would mislead.
    const shown = Object.entries(sol.outputs || {})
      .filter(([k, v]) => !isWireguardLink(v) && !(field.filename && k === "WireGuard config"));
    outputs.replaceChildren(...(shown.length ? [h("h3", { text: "Details" }), keyValueList(shown)] : []));
    showWireguard(field.offers_file !== false && sol.wireguard_config === "available");
    // A deployed hosted 3Bot still "initialising" (its /admin not answering yet) is watched until it is up or not.
    if (SETTLED.has(sol.status) && sol.outputs?.Status !== "initialising") {
      ctx.block(field.name, false);
      ctx.settled?.(sol.status);
      return true;
    }
    return false;
  }, POLL_MS);

  const body = h("div", { className: "progress" },
    status, address, failure, wireguard, outputs, h("details", { open: true }, h("summary", { text: "Every step" }), events));
  return { label: false, heading: true, body, destroy: () => poller.stop() };
}
