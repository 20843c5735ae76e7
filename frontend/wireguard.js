// The one-time WireGuard download of a network or access point (SOLUTIONS §3.2). The configuration holds the
// laptop's private key and the marketplace erases it once handed out, so it is fetched with a POST (a link or a
// prefetch would use it up) and saved from the response; a failed attempt leaves it on the server to try again.

import { fetchFile, leaveIfSignedOut } from "./api.js";
import { h, saveBlob } from "./dom.js";

/** True for an output that is the old download link (solutions deployed before the download became a POST). */
export const isWireguardLink = (value) => String(value).endsWith("/wireguard");

const instructions = (filename) => {
  const name = filename.replace(/\.conf$/, "");
  return `Copy ${filename} to /etc/wireguard/ and run wg-quick up ${name}.`;
};

/**
 * The warning and the download button for solution `id`. `onGone()` runs once the configuration is no longer
 * on the server (downloaded here, or earlier: a 410), so the caller stops offering it. `saveAs` names the saved
 * file (the apps network's `apps.conf`); empty: the name the server gives.
 */
export function wireguardDownload(id, onGone = () => {}, saveAs = "") {
  const button = h("button", { type: "button", className: "primary" }, "Download the WireGuard configuration");
  // Hidden while empty, like every field error: an empty alert is still an error box to a reader (and a driver).
  const problem = h("p", { role: "alert", className: "field-error", hidden: true });
  const box = h("div", { className: "wireguard" },
    h("p", { className: "warning" }, h("strong", { text: "It can be downloaded once only: " }),
      "it holds your laptop's private key, which the marketplace does not keep."),
    button, problem);
  button.addEventListener("click", async () => {
    button.disabled = true;
    problem.textContent = "";
    problem.hidden = true;
    try {
      const fetched = await fetchFile(`/api/solutions/${encodeURIComponent(id)}/wireguard`,
        `wg-${String(id).slice(0, 8)}.conf`);
      const { blob } = fetched;
      const filename = saveAs || fetched.filename;
      saveBlob(blob, filename);
      box.replaceChildren(h("p", { role: "status", text: `The WireGuard configuration was downloaded. ${instructions(filename)}` }));
      onGone();
    } catch (error) {
      if (leaveIfSignedOut(error)) return;
      if (error.status === 410) {
        box.replaceChildren(h("p", { role: "status", text: error.message }));
        onGone();
        return;
      }
      problem.textContent = `The configuration could not be downloaded: ${error.message} Nothing was used up; try again.`;
      problem.hidden = false;
      button.disabled = false;
    }
  });
  return box;
}
