// The terms page: shows the version to accept; Accept records it and returns to the page that sent the user here.
document.addEventListener("marketplace:ready", ({ detail }) => {
  document.getElementById("terms-version").textContent =
    `Version ${detail.terms.version} · ${detail.terms.grid_network}` + (detail.terms.accepted ? " · accepted" : "");
});
document.getElementById("accept").addEventListener("click", async () => {
  try {
    await window.marketplace.post("/auth/terms/accept");
    window.location.assign(window.marketplace.safeNext(new URLSearchParams(window.location.search).get("next")));
  } catch {
    document.getElementById("terms-error").textContent = "Could not record your acceptance; try again.";
  }
});
document.getElementById("decline").addEventListener("click", () => window.marketplace.signOut());
