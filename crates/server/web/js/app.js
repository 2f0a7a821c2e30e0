// The LocalGPT web app: routes the URL hash to a view (`#/chat/ID`, `#/memory?q=…`,
// `#/status`), so reload and back/forward keep the place; asks for the API token when the daemon
// requires one.

import { api, onTokenNeeded, setToken } from "./api.js";
import { Chat } from "./chat.js";
import { Memory } from "./memory.js";
import { Status } from "./status.js";

const $ = (id) => document.getElementById(id);

let tokenRequest = null;

/** Shows the token dialog; resolves once a token was entered. */
function askForToken(problem) {
  if (tokenRequest) return tokenRequest;
  tokenRequest = new Promise((resolve) => {
    const dialog = $("token-dialog");
    const input = $("token-input");
    const error = $("token-error");
    error.hidden = !problem;
    error.textContent = problem || "";
    input.value = "";
    const submit = (event) => {
      event.preventDefault();
      const value = input.value.trim();
      if (!value) return;
      setToken(value);
      $("token-form").removeEventListener("submit", submit);
      dialog.close();
      tokenRequest = null;
      resolve();
    };
    $("token-form").addEventListener("submit", submit);
    // The app cannot work without the token: Esc does not close the dialog.
    dialog.addEventListener("cancel", (event) => event.preventDefault(), { once: true });
    dialog.showModal();
    input.focus();
  });
  return tokenRequest;
}

function navigate(hash) {
  if (location.hash === hash) route();
  else location.hash = hash;
}

const chat = new Chat({ onNavigate: navigate });
const memory = new Memory({ onNavigate: navigate });
const status = new Status();

const REPORTS_SEEN = "localgpt.reportsSeen";
let newestReport = null;

/** Marks the Status link when the heartbeat or a job reported something not yet seen. */
async function checkReports() {
  try {
    const [newest] = await api("/api/events?limit=1");
    newestReport = newest ? newest.at : null;
  } catch {
    return;
  }
  if (document.body.dataset.view === "status") markReportsSeen();
  const link = document.querySelector('nav a[data-view="status"]');
  const unseen = newestReport && newestReport !== localStorage.getItem(REPORTS_SEEN);
  link.classList.toggle("has-news", Boolean(unseen));
  link.setAttribute("aria-label", unseen ? "Status (new reports)" : "Status");
}

function markReportsSeen() {
  if (newestReport) localStorage.setItem(REPORTS_SEEN, newestReport);
  const link = document.querySelector('nav a[data-view="status"]');
  link.classList.remove("has-news");
  link.setAttribute("aria-label", "Status");
}

function showView(name) {
  for (const view of ["chat", "memory", "status"]) {
    $(`view-${view}`).hidden = view !== name;
  }
  for (const link of document.querySelectorAll("nav a[data-view]")) {
    if (link.dataset.view === name) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
  document.body.dataset.view = name;
  if (name !== "status") status.hide();
  else markReportsSeen();
  closeSessions();
}

async function route() {
  const hash = location.hash.replace(/^#\/?/, "");
  const [path, query = ""] = hash.split("?");
  const [view, ...rest] = path.split("/");
  const params = new URLSearchParams(query);
  if (view === "memory") {
    showView("memory");
    await memory.show(params);
  } else if (view === "status") {
    showView("status");
    status.show();
  } else {
    showView("chat");
    const id = rest.length ? decodeURIComponent(rest.join("/")) : null;
    if (id !== chat.sessionId || !chat.messages.hasChildNodes()) await chat.open(id);
  }
}

function closeSessions() {
  document.body.classList.remove("sessions-open");
  $("sessions-toggle").setAttribute("aria-expanded", "false");
}

$("sessions-toggle").addEventListener("click", () => {
  const open = document.body.classList.toggle("sessions-open");
  $("sessions-toggle").setAttribute("aria-expanded", String(open));
});
$("session-list").addEventListener("click", (event) => {
  if (event.target.closest("a")) closeSessions();
});

async function start() {
  onTokenNeeded(askForToken);
  // Everything the first view needs, at once.
  await Promise.all([
    chat.loadModels().then((defaultModel) => {
      $("model-badge").textContent = defaultModel || "daemon unreachable";
    }),
    chat.refreshSessions(),
    checkReports(),
  ]);
  window.addEventListener("hashchange", route);
  await route();
  setInterval(checkReports, 30000);
  document.body.dataset.ready = "true";
  performance.mark("localgpt-ready");
}

start();
