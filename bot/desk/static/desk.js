// Live desk: server-sent nudges trigger a refetch of a server-rendered (and server-escaped) fragment.
// Countdowns tick every second. No customer text is ever built into HTML here.
"use strict";

function formatLeft(ms) {
  const late = ms < 0;
  let s = Math.floor(Math.abs(ms) / 1000);
  const d = Math.floor(s / 86400); s -= d * 86400;
  const h = Math.floor(s / 3600); s -= h * 3600;
  const m = Math.floor(s / 60); s -= m * 60;
  const text = d ? `${d}d ${h}h` : h ? `${h}h ${m}m` : `${m}m ${String(s).padStart(2, "0")}s`;
  return late ? `overdue ${text}` : `${text} left`;
}

function tick() {
  const now = Date.now();
  for (const el of document.querySelectorAll(".countdown[data-deadline]")) {
    const left = Date.parse(el.dataset.deadline) - now;
    el.textContent = formatLeft(left);
    el.closest(".sla, .window")?.classList.toggle("breached", left < 0);
  }
}

// A customer's picture the desk could not fetch (404) is left out rather than shown broken. Errors do not
// bubble: listen while they go down, which also covers the fragments that live updates swap in.
document.addEventListener("error", (event) => {
  if (event.target instanceof HTMLImageElement && event.target.classList.contains("avatar")) {
    event.target.hidden = true;
  }
}, true);

function wireCanned(root) {
  for (const select of root.querySelectorAll("select.canned")) {
    select.addEventListener("change", () => {
      const option = select.selectedOptions[0];
      const area = select.closest("form").querySelector("textarea[name=text]");
      if (option && option.dataset.text && area) { area.value = option.dataset.text; area.focus(); }
    });
  }
}

function wireSuggestions(root) {
  // Agent assist: a suggested reply goes into the reply box as text (never HTML), to edit before sending.
  for (const button of root.querySelectorAll("button.suggestion[data-text]")) {
    button.addEventListener("click", () => {
      const area = button.closest("form").querySelector("textarea[name=text]");
      if (area) { area.value = button.dataset.text; area.focus(); }
    });
  }
}

function keepDrafts(container, html) {
  // Pages with many reply boxes (engagement): each draft goes back to the box of the same item.
  const drafts = new Map();
  for (const area of container.querySelectorAll("textarea[data-draft]")) drafts.set(area.dataset.draft, area.value);
  const focused = document.activeElement && document.activeElement.dataset && document.activeElement.dataset.draft;
  container.innerHTML = html;
  for (const area of container.querySelectorAll("textarea[data-draft]")) {
    if (drafts.has(area.dataset.draft)) area.value = drafts.get(area.dataset.draft);
    if (focused && area.dataset.draft === focused) area.focus();
  }
}

function keepDraft(container, html) {
  // Keep what the agent is typing when the fragment is replaced.
  if (container.querySelector("textarea[data-draft]")) { keepDrafts(container, html); return; }
  const area = container.querySelector("textarea[name=text]");
  const note = container.querySelector("textarea[name=body]");
  const draft = area ? area.value : null;
  const noteDraft = note ? note.value : null;
  const focused = document.activeElement && document.activeElement.name;
  container.innerHTML = html;
  const newArea = container.querySelector("textarea[name=text]");
  const newNote = container.querySelector("textarea[name=body]");
  if (newArea && draft) newArea.value = draft;
  if (newNote && noteDraft) newNote.value = noteDraft;
  if (focused === "text" && newArea) newArea.focus();
  if (focused === "body" && newNote) newNote.focus();
}

function scrollToEnd(container) {
  const lines = container.querySelector("#lines");
  if (lines) lines.lastElementChild?.scrollIntoView({ block: "end" });
}

// The assigner gave this agent a conversation: every live page but the queue (which lists it) says so,
// with a link; the event carries only the ticket's number.
function announceAssigned(event) {
  const ticket = Number(JSON.parse(event.data).ticket);
  if (!Number.isInteger(ticket) || ticket <= 0) return;
  const link = document.createElement("a");
  link.href = `/tickets/${ticket}`;
  link.textContent = `Open conversation #${ticket}`;
  let banner = document.getElementById("assigned");
  if (!banner) {
    banner = document.createElement("div");
    banner.id = "assigned";
    banner.setAttribute("role", "status");
    document.querySelector("main")?.prepend(banner);
  }
  banner.replaceChildren("A new conversation was assigned to you. ", link);
}

function live(container) {
  let pending = false;
  const refresh = async () => {
    if (pending) return;
    pending = true;
    try {
      const response = await fetch(container.dataset.live, { credentials: "same-origin" });
      if (response.status === 401) { window.location = "/login"; return; }
      if (response.ok) {
        keepDraft(container, await response.text());
        wireCanned(container);
        wireSuggestions(container);
        tick();
        scrollToEnd(container);
        document.body.dataset.refreshed = String(Date.now());
      }
    } finally {
      pending = false;
    }
  };
  const source = new EventSource(container.dataset.stream);
  source.addEventListener("queue", refresh);
  source.addEventListener("conversation", refresh);
  if (container.id !== "queue") source.addEventListener("assigned", announceAssigned);
  source.addEventListener("open", () => { document.body.dataset.live = "connected"; });
  source.addEventListener("error", () => { document.body.dataset.live = "reconnecting"; });
}

document.addEventListener("DOMContentLoaded", () => {
  wireCanned(document);
  wireSuggestions(document);
  tick();
  setInterval(tick, 1000);
  const container = document.querySelector("[data-live]");
  if (container) { live(container); scrollToEnd(container); }
});
