// JSON calls to the marketplace API, with the error shape every service uses:
// {"message", "errors": [{"code", "field", "description"}], "request_id"}.

export class ApiError extends Error {
  constructor(status, body) {
    super(body?.message || `The request failed (HTTP ${status}).`);
    this.status = status;
    this.body = body || {};
  }

  get errors() {
    return Array.isArray(this.body.errors) ? this.body.errors : [];
  }

  /** Worth trying again: the service (or something it needs) is down, or the network dropped. */
  get retryable() {
    return this.status === 0 || this.status === 502 || this.status === 503 || this.status === 504;
  }
}

/** Call the API; resolves with the parsed JSON (null for 204), rejects with an ApiError. */
export async function api(path, { method = "GET", body } = {}) {
  const init = { method, headers: { Accept: "application/json" }, credentials: "same-origin" };
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  let response;
  try {
    response = await fetch(path, init);
  } catch {
    throw new ApiError(0, { message: "The marketplace cannot be reached right now; check your connection and retry." });
  }
  if (response.status === 204) return null;
  const data = await response.json().catch(() => ({}));
  if (!response.ok) throw new ApiError(response.status, data);
  return data;
}

/**
 * POST for a file the server hands out (e.g. a one-time WireGuard configuration); resolves with {blob, filename}
 * (the name from Content-Disposition, else `fallbackName`), rejects with an ApiError carrying the JSON error.
 * A POST, not a link: fetching it changes state on the server, and a same-origin fetch carries the Origin header
 * the API checks.
 */
export async function fetchFile(path, fallbackName = "download") {
  let response;
  try {
    response = await fetch(path, { method: "POST", headers: { Accept: "text/plain, application/json" },
                                   credentials: "same-origin" });
  } catch {
    throw new ApiError(0, { message: "The marketplace cannot be reached right now; check your connection and retry." });
  }
  if (!response.ok) throw new ApiError(response.status, await response.json().catch(() => ({})));
  const named = /filename="([^"\\/]+)"/.exec(response.headers.get("Content-Disposition") || "");
  return { blob: await response.blob(), filename: named ? named[1] : fallbackName };
}

const here = () => window.location.pathname + window.location.search;

/**
 * Leave the page when the error means the session is gone (401 → sign in) or the terms are not accepted
 * (403 → terms page; only a refused cross-site request is a 403 of another kind), coming back here afterwards.
 * Returns true when it navigated away.
 */
export function leaveIfSignedOut(error) {
  if (!(error instanceof ApiError)) return false;
  if (error.status === 401) {
    window.location.assign(`/auth/login?next=${encodeURIComponent(here())}`);
    return true;
  }
  if (error.status === 403 && !error.errors.some((e) => e.code === "cross_site_request")) {
    window.location.assign(`/terms.html?next=${encodeURIComponent(here())}`);
    return true;
  }
  return false;
}

/** Repeat `task` every `ms` until it returns true or stop() is called; one call at a time, never overlapping. */
export function poll(task, ms) {
  let timer = null;
  let stopped = false;
  const run = async () => {
    if (stopped) return;
    let done = false;
    try {
      done = await task();
    } catch (error) {
      if (leaveIfSignedOut(error)) done = true;
    }
    if (!done && !stopped) timer = setTimeout(run, ms);
  };
  run();
  return { stop() { stopped = true; clearTimeout(timer); } };
}
