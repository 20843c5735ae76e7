// Shared by every page: who is signed in (user menu + sign out), and the terms gate — until the current terms
// are accepted every page sends the user to /terms.html. Identity always comes from the server session.
const json = (r) => (r.ok ? r.json() : Promise.reject(r));

async function post(path) {
  const r = await fetch(path, {
    method: "POST",
    headers: { "Content-Type": "application/json", Accept: "application/json" },
    body: "{}",
  });
  return json(r);
}

async function signOut() {
  await post("/auth/logout").catch(() => {});
  window.location.assign("/auth/login");
}

// The account menu is built here once for every page (name, e-mail, sign out).
function renderUserMenu(me) {
  const header = document.querySelector("header");
  if (!header) return;
  const menu = document.createElement("nav");
  menu.setAttribute("aria-label", "Account");
  const name = document.createElement("span");
  name.textContent = me.username;
  const email = document.createElement("span");
  email.className = "muted";
  email.textContent = me.email;
  const button = document.createElement("button");
  button.type = "button";
  button.textContent = "Sign out";
  button.addEventListener("click", signOut);
  menu.append(name, " ", email, " ", button);
  header.appendChild(menu);
}

// Pages written as modules may load after the event fired: they wait on this promise instead.
let markReady;
const ready = new Promise((resolve) => { markReady = resolve; });

// A public page (<body data-public>, the catalogue) is shown signed out too, with a "Sign in" link instead of the
// account menu; every other page sends a signed-out visitor to sign in and back.
function renderSignIn() {
  const header = document.querySelector("header");
  if (!header) return;
  const link = document.createElement("a");
  link.className = "button primary";
  link.href = `/auth/login?next=${encodeURIComponent(window.location.pathname + window.location.search)}`;
  link.textContent = "Sign in";
  const menu = document.createElement("nav");
  menu.setAttribute("aria-label", "Account");
  menu.append(link);
  header.appendChild(menu);
}

async function boot() {
  let me;
  try {
    me = await json(await fetch("/auth/me", { headers: { Accept: "application/json" } }));
  } catch {
    if (document.body.dataset.public !== undefined) {
      renderSignIn();
      markReady({ me: null, terms: null });
      return;
    }
    const next = window.location.pathname + window.location.search;
    window.location.assign(`/auth/login?next=${encodeURIComponent(next)}`);
    return;
  }
  renderUserMenu(me);
  const terms = await json(await fetch("/auth/terms", { headers: { Accept: "application/json" } }));
  const onTermsPage = window.location.pathname === "/terms.html";
  if (!terms.accepted && !onTermsPage) {
    const next = window.location.pathname + window.location.search;
    window.location.assign(`/terms.html?next=${encodeURIComponent(next)}`);
    return;
  }
  markReady({ me, terms });
  document.dispatchEvent(new CustomEvent("marketplace:ready", { detail: { me, terms } }));
}

// Only a path of this site, by the server's rule (services/auth/service.py safe_next, LOGIN_PROTOCOL §7.2):
// anything else is "/". Browsers drop tabs and newlines from URLs, so "/\t/evil.example" would be "//evil.example".
function safeNext(value) {
  if (!value || !value.startsWith("/") || value.startsWith("//") || value.startsWith("/\\")) return "/";
  if (/[\\\r\n\t]/.test(value) || value.split("?")[0].includes(":") || [...value].length > 512) return "/";
  return value;
}

window.marketplace = { post, signOut, ready, safeNext };
boot();
