// Shows whether every service behind the proxy is ready (its /readyz through Caddy).
const services = {
  auth: "/auth/readyz",
  chatflow: "/api/chatflows/readyz",
  deployer: "/api/solutions/readyz",
  pools: "/api/pools/readyz",
  backup: "/api/backup/readyz",
};
const list = document.getElementById("status");
for (const [name, url] of Object.entries(services)) {
  const item = document.createElement("li");
  item.textContent = `${name}: checking…`;
  list.appendChild(item);
  fetch(url, { headers: { Accept: "application/json" } })
    .then((r) => r.json().then((body) => ({ ok: r.ok, body })))
    .then(({ ok, body }) => {
      item.className = ok ? "ok" : "down";
      item.textContent = `${name}: ${ok ? "ready" : body.status || "not ready"}`;
    })
    .catch(() => {
      item.className = "down";
      item.textContent = `${name}: unreachable`;
    });
}
