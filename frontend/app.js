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

function renderUserMenu(me) {
  const menu = document.getElementById("user-menu");
  if (!menu) return;
  menu.hidden = false;
  document.getElementById("user-name").textContent = me.username;
  document.getElementById("user-email").textContent = me.email;
  document.getElementById("sign-out").addEventListener("click", signOut);
}

async function boot() {
  let me;
  try {
    me = await json(await fetch("/auth/me", { headers: { Accept: "application/json" } }));
  } catch {
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
  document.dispatchEvent(new CustomEvent("marketplace:ready", { detail: { me, terms } }));
}

window.marketplace = { post, signOut };
boot();
