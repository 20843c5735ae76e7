// Pools page: the user's pools (from /api/pools), buying capacity, and the payment details with live status.
const $ = (id) => document.getElementById(id);
const api = async (path, options = {}) => {
  const r = await fetch(path, { headers: { Accept: "application/json", "Content-Type": "application/json" }, ...options });
  const body = await r.json().catch(() => ({}));
  if (!r.ok) throw Object.assign(new Error(body.message || `HTTP ${r.status}`), { body });
  return body;
};
const hours = (left, bought) => `${left ?? "?"} / ${bought}`;

function row(pool) {
  const tr = document.createElement("tr");
  const cells = [
    pool.grid_pool_id ?? "—", pool.farm, pool.state.replace("_", " "),
    hours(pool.cu_hours_left, pool.cu_hours_bought), hours(pool.su_hours_left, pool.su_hours_bought),
    pool.empty_at ? new Date(pool.empty_at).toLocaleDateString() : (pool.live ? "not burning" : "?"),
  ];
  for (const text of cells) {
    const td = document.createElement("td");
    td.textContent = text;
    tr.appendChild(td);
  }
  const td = document.createElement("td");
  if (pool.state === "awaiting_payment") {
    const b = document.createElement("button");
    b.type = "button";
    b.textContent = "Payment details";
    b.addEventListener("click", () => showPayment(pool.id));
    td.appendChild(b);
  }
  tr.appendChild(td);
  return tr;
}

async function loadPools() {
  try {
    const { pools } = await api("/api/pools");
    const body = $("pools").querySelector("tbody");
    body.replaceChildren(...pools.map(row));
    $("no-pools").hidden = pools.length > 0;
  } catch (e) {
    $("pools-error").textContent = e.message;
  }
}

async function loadFarms() {
  const select = $("buy-farm");
  try {
    const { farms } = await api(`/api/pools/farms?currency=${encodeURIComponent($("buy-currency").value)}`);
    select.replaceChildren(...farms.map((f) => {
      const o = document.createElement("option");
      o.value = f.id;
      o.textContent = `${f.name} — ${f.location} — free cru ${f.free.cru} mru ${f.free.mru} sru ${f.free.sru} hru ${f.free.hru}`;
      return o;
    }));
  } catch (e) {
    $("buy-error").textContent = e.message;
  }
}

let polling = null;
async function showPayment(poolId) {
  clearTimeout(polling);
  const pay = await api(`/api/pools/${poolId}/payment`);
  $("payment").hidden = false;
  $("pay-pool").textContent = pay.reservation_id;
  $("pay-qr").src = `/api/pools/${poolId}/payment.png?r=${pay.reservation_id}`;
  $("pay-address").textContent = pay.address;
  $("pay-currency").textContent = pay.currency;
  $("pay-memo").textContent = pay.memo;
  $("pay-amount").textContent = `${pay.amount} ${pay.currency}`;
  $("pay-status").textContent = pay.message;
  if (pay.state === "awaiting_payment" && !pay.wait_over) polling = setTimeout(() => showPayment(poolId), 5000);
  else loadPools();
}

$("buy-currency").addEventListener("change", loadFarms);
$("buy").addEventListener("submit", async (event) => {
  event.preventDefault();
  $("buy-error").textContent = "";
  const form = new FormData(event.target);
  const body = { currency: form.get("currency"), farm_id: Number(form.get("farm_id")), cu: Number(form.get("cu")),
                 su: Number(form.get("su")), days: Number(form.get("days")), idempotency_key: crypto.randomUUID() };
  try {
    const { pool } = await api("/api/pools", { method: "POST", body: JSON.stringify(body) });
    await loadPools();
    await showPayment(pool.id);
  } catch (e) {
    const fields = (e.body?.errors || []).map((x) => `${x.field ?? ""} ${x.description}`.trim());
    $("buy-error").textContent = [e.message, ...fields].join(" — ");
  }
});

document.addEventListener("marketplace:ready", () => { loadPools(); loadFarms(); });
