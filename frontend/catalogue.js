// The catalogue (home page, public): every solution as a card, grouped by family — the apps first for a visitor
// without pools (or signed out) — with, once signed in, how many the user has and the unfinished wizards to resume
// or abandon. Deploying a card signed out goes through sign-in and comes back to that app's wizard.

import { api, leaveIfSignedOut } from "./api.js";
import { $, h, confirmDialog, publicUrl, urlLink } from "./dom.js";

const FAMILIES = [
  ["advanced", "Advanced", "On capacity you already bought (your pools) and in your own networks."],
  ["apps", "Apps", "Guided: answer a few questions, pay, and get the app on its own domain."],
];

/** Pools are owned by the pools service: their "My solutions" is the pools page, their count its list. */
const isPools = (type) => type === "pools";

/** The wizard's SVG icon (shipped under /icons/); a letter when it has none (emoji are not used: without a
 * colour-emoji font they render as empty boxes). The icon is asked for beside this script: under its versioned,
 * cached-for-a-year path when the proxy serves one (deploy/frontend_build.py), else at /icons/ itself. */
function icon(chatflow) {
  const value = String(chatflow.icon || "");
  if (/^\/icons\/[a-z0-9_-]+\.svg$/.test(value)) {
    const src = new URL(`.${value}`, import.meta.url).pathname;
    return h("img", { className: "card-icon", src, alt: "", width: 40, height: 40 });
  }
  return h("span", { className: "card-icon", "aria-hidden": "true", text: chatflow.title.slice(0, 1).toUpperCase() });
}

function countText(n) {
  if (n === undefined) return "";
  return n === 0 ? "You have none yet." : `You have ${n}.`;
}

const URLS_SHOWN = 3;

/** The public addresses of the user's deployed solutions of one type (those on a gateway), a few of them. */
function urlList(chatflow, urls) {
  if (!urls.length) return null;
  const more = urls.length - URLS_SHOWN;
  return h("ul", { className: "card-urls", "aria-label": `Your ${chatflow.title} addresses` },
    urls.slice(0, URLS_SHOWN).map(([name, url]) => h("li", {}, urlLink(url, `Open ${name} at ${url}`))),
    more > 0 ? h("li", { className: "muted", text: `and ${more} more` }) : null);
}

function card(chatflow, count, urls = []) {
  const type = encodeURIComponent(chatflow.type);
  const mine = isPools(chatflow.type) ? "/pools.html" : `/solutions.html?type=${type}`;
  const titleId = `card-${chatflow.type}`;
  return h("li", { className: "card", "aria-labelledby": titleId },
    h("div", { className: "card-head" }, icon(chatflow), h("h3", { id: titleId, text: chatflow.title })),
    h("p", { text: chatflow.description }),
    h("p", { className: "muted count", text: countText(count) }),
    urlList(chatflow, urls),
    h("p", { className: "actions" },
      h("a", { className: "button primary", href: `/wizard.html?type=${type}`, "aria-label": `Deploy ${chatflow.title}`,
               text: "Deploy" }),
      // Signed out there is nothing of one's own to show (no count was asked).
      count === undefined ? null : " ",
      count === undefined ? null
        : h("a", { className: "button", href: mine, "aria-label": `My ${chatflow.title} solutions${count ? ` (${count})` : ""}` },
          "My solutions", count ? h("span", { className: "pill", text: String(count) }) : null)));
}

async function loadCatalogue(signedIn) {
  const target = $("catalogue");
  try {
    const [{ chatflows }, counts, pools, listed] = await Promise.all([
      api("/api/chatflows"),
      signedIn ? api("/api/solutions/count").catch(() => ({})) : {},
      signedIn ? api("/api/pools").catch(() => null) : null,
      signedIn ? api("/api/solutions").catch(() => ({ solutions: [] })) : { solutions: [] },
    ]);
    const countOf = (type) => (isPools(type) && pools ? pools.pools.length : counts[type]);
    const urlsOf = (type) => listed.solutions
      .filter((s) => s.type === type && s.status === "deployed" && publicUrl(s))
      .map((s) => [s.Name ?? s.name ?? s.id, publicUrl(s)]);
    // Someone with no capacity yet is best served by the guided apps (they buy their own pool).
    const families = pools?.pools?.length ? FAMILIES : [...FAMILIES].reverse();
    const sections = families.map(([family, title, intro]) => {
      const items = chatflows.filter((c) => c.family === family);
      if (!items.length) return null;
      return h("section", { "aria-labelledby": `family-${family}` },
        h("h2", { id: `family-${family}`, text: title }),
        h("p", { className: "muted", text: intro }),
        h("ul", { className: "cards" }, items.map((c) => card(c, countOf(c.type), urlsOf(c.type)))));
    });
    target.replaceChildren(...sections.filter(Boolean));
  } catch (error) {
    if (leaveIfSignedOut(error)) return;
    target.replaceChildren();
    $("catalogue-error").textContent = `The catalogue could not be loaded: ${error.message}`;
  } finally {
    target.setAttribute("aria-busy", "false");
  }
}

/** One unfinished wizard: a session view, or the summary the sessions list gives (no step, `updated`). */
function resumeItem(session) {
  const { step } = session;
  const what = session.name ? `${session.title} “${session.name}”` : session.title;
  const when = session.updated ? ` · last changed ${new Date(session.updated).toLocaleString()}` : "";
  const abandon = h("button", { type: "button", "aria-label": `Abandon the ${what} wizard`, text: "Abandon" });
  const item = h("li", {},
    h("span", {}, h("strong", { text: what }),
      step ? ` — step ${step.index} of ${step.count}: ${step.title}` : "",
      h("span", { className: "muted", text: when })),
    " ",
    h("span", { className: "actions" },
      h("a", { className: "button", href: `/wizard.html?session=${encodeURIComponent(session.id)}`,
               "aria-label": `Resume the ${what} wizard`, text: "Resume" }),
      " ", abandon));
  abandon.addEventListener("click", async () => {
    const ok = await confirmDialog({ title: `Abandon the ${what} wizard?`,
                                     message: "Its answers are deleted. Nothing was deployed yet.",
                                     confirmLabel: "Abandon", danger: true });
    if (!ok) {
      abandon.focus();
      return;
    }
    try {
      await api(`/api/chatflows/sessions/${encodeURIComponent(session.id)}`, { method: "DELETE" });
      const list = item.parentElement;
      item.remove();
      $("resume-section").hidden = !list.children.length;
      $("resume-title").focus();
    } catch (error) {
      if (!leaveIfSignedOut(error)) $("catalogue-error").textContent = `Could not abandon it: ${error.message}`;
    }
  });
  return item;
}

async function loadResume() {
  try {
    const { sessions } = await api("/api/chatflows/sessions");
    const open = sessions.filter((s) => s.status === "active");
    $("resume").replaceChildren(...open.map(resumeItem));
    $("resume-section").hidden = open.length === 0;
  } catch (error) {
    leaveIfSignedOut(error);
  }
}

$("resume-title").tabIndex = -1;
window.marketplace.ready.then(({ me }) => {
  $("signed-in-links").hidden = !me;
  return Promise.all([loadCatalogue(Boolean(me)), me ? loadResume() : null]);
});
