// Talking to the daemon: JSON requests with the owner token (kept in session storage, never in
// the URL), a prompt for the token when the API answers 401, and server-sent events read from a
// POST response (EventSource can only GET).

const TOKEN_KEY = "localgpt.token";

/** An error answer of the API: `{error: {code, message}}` with its HTTP status. */
export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

let askForToken = null;

/** Sets the function that asks the user for a token; it resolves once one was entered. */
export function onTokenNeeded(handler) {
  askForToken = handler;
}

export function token() {
  return sessionStorage.getItem(TOKEN_KEY) || "";
}

export function setToken(value) {
  if (value) sessionStorage.setItem(TOKEN_KEY, value);
  else sessionStorage.removeItem(TOKEN_KEY);
}

function headers(extra = {}) {
  const result = { ...extra };
  const current = token();
  if (current) result.authorization = `Bearer ${current}`;
  return result;
}

/** fetch() that asks for the token on 401 and tries again with it. */
async function authorizedFetch(path, init) {
  for (;;) {
    const response = await fetch(path, { ...init, headers: headers(init.headers) });
    if (response.status !== 401 || !askForToken) return response;
    await askForToken(token() ? "That token was not accepted." : "");
  }
}

async function errorOf(response) {
  let code = "http_" + response.status;
  let message = response.statusText || "request failed";
  try {
    const body = await response.json();
    if (body && body.error) {
      code = body.error.code || code;
      message = body.error.message || message;
    }
  } catch {
    // Not JSON: keep the status text.
  }
  return new ApiError(response.status, code, message);
}

/** A JSON request; resolves to the parsed answer or throws an ApiError. */
export async function api(path, { method = "GET", body, signal } = {}) {
  const init = { method, signal, headers: {} };
  if (body !== undefined) {
    init.headers["content-type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  const response = await authorizedFetch(path, init);
  if (!response.ok) throw await errorOf(response);
  return response.json();
}

/** The answer as text (for downloads). */
export async function apiText(path) {
  const response = await authorizedFetch(path, { method: "GET", headers: {} });
  if (!response.ok) throw await errorOf(response);
  return response.text();
}

/**
 * POSTs `body` and yields each server-sent event as `{event, data}` (data parsed as JSON).
 * Aborting `signal` closes the stream, which stops the turn on the server.
 */
export async function* events(path, body, signal) {
  const response = await authorizedFetch(path, {
    method: "POST",
    signal,
    headers: { "content-type": "application/json", accept: "text/event-stream" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (!response.ok) throw await errorOf(response);
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer += value.replace(/\r\n/g, "\n");
    let end;
    while ((end = buffer.indexOf("\n\n")) >= 0) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      const parsed = parseEvent(block);
      if (parsed) yield parsed;
    }
  }
}

function parseEvent(block) {
  let event = "message";
  const data = [];
  for (const line of block.split("\n")) {
    if (line.startsWith(":")) continue; // keep-alive comment
    const colon = line.indexOf(":");
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? "" : line.slice(colon + 1);
    if (value.startsWith(" ")) value = value.slice(1);
    if (field === "event") event = value;
    else if (field === "data") data.push(value);
  }
  if (data.length === 0) return null;
  const text = data.join("\n");
  try {
    return { event, data: JSON.parse(text) };
  } catch {
    return { event, data: text };
  }
}
