// Customer simulator page: the person here plays the customer; the bot's replies are read back from the
// fake Send API's and fake X API's record (/_sim/sends). All text goes in with textContent; nothing is ever
// parsed as HTML. On X, options the bot offers are plain numbered text: the customer just types a number.
"use strict";

const POLL_MS = 1000;
const TYPING_MS = 20000; // Messenger hides typing_on after about 20 s
const $ = (id) => document.getElementById(id);

const state = {
  conversations: new Map(), // "platform:user" -> {items: [], seen: Set of send ids}
  typingTimer: null,
  polling: false,
};

function randomDigits(count) {
  return Array.from(crypto.getRandomValues(new Uint8Array(count)), (b) => b % 10).join("");
}

function randomUserId() {
  // X user ids and Instagram-scoped ids are digits; Messenger's page-scoped ids are opaque strings.
  if (platform() === "twitter") return `3${randomDigits(17)}`;
  return platform() === "instagram" ? `6${randomDigits(15)}` : `sim-${randomDigits(8)}`;
}

function needsDigits() { return platform() !== "messenger"; }

function platform() { return $("platform").value; }
function publicView() { return document.body.dataset.view === "public"; }
function isX() { return platform() === "twitter"; }
function userId() { return $("user-id").value.trim(); }
function key() { return `${platform()}:${userId()}`; }

function conversation() {
  if (!state.conversations.has(key())) state.conversations.set(key(), { items: [], seen: new Set() });
  return state.conversations.get(key());
}

function safeUrl(value) {
  if (typeof value !== "string") return null;
  try {
    const url = new URL(value, window.location.href);
    return url.protocol === "http:" || url.protocol === "https:" ? url.href : null;
  } catch (_err) {
    return null;
  }
}

function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined && text !== null) node.textContent = String(text);
  return node;
}

function showNotice(text, kind) {
  const notice = $("notice");
  notice.textContent = text;
  notice.className = kind === "info" ? "notice info" : "notice";
  notice.hidden = !text;
}

// ---- rendering -------------------------------------------------------------------------------------

function imageNode(url) {
  const safe = safeUrl(url);
  if (!safe) return el("span", null, "[image]");
  const img = el("img");
  img.src = safe;
  img.alt = "image";
  img.loading = "lazy";
  return img;
}

function buttonNodes(buttons) {
  const box = el("div", "buttons");
  for (const button of buttons || []) {
    if (button.type === "web_url") {
      const link = el("a", null, button.title);
      const href = safeUrl(button.url);
      if (href) link.href = href;
      link.target = "_blank";
      link.rel = "noopener noreferrer";
      box.append(link);
    } else {
      const press = el("button", null, button.title);
      press.type = "button";
      press.addEventListener("click", () =>
        sendCustomer({ postback: { title: String(button.title), payload: String(button.payload) } }, button.title));
      box.append(press);
    }
  }
  return box;
}

function cardNode(element) {
  const card = el("div", "card");
  if (element.image_url) card.append(imageNode(element.image_url));
  card.append(el("div", "title", element.title));
  if (element.subtitle) card.append(el("div", "subtitle", element.subtitle));
  if (element.buttons && element.buttons.length) card.append(buttonNodes(element.buttons));
  return card;
}

function attachmentNode(attachment) {
  const payload = attachment.payload || {};
  if (attachment.type === "image") {
    const bubble = el("div", "bubble");
    bubble.append(payload.url ? imageNode(payload.url) : el("span", null, `[image ${payload.attachment_id}]`));
    return bubble;
  }
  if (attachment.type === "template" && payload.template_type === "generic") {
    const carousel = el("div", "carousel");
    for (const element of payload.elements || []) carousel.append(cardNode(element));
    return carousel;
  }
  if (attachment.type === "template" && payload.template_type === "button") {
    const box = el("div");
    box.append(el("div", "bubble", payload.text));
    box.append(buttonNodes(payload.buttons));
    return box;
  }
  const bubble = el("div", "bubble");
  const href = safeUrl(payload.url);
  const link = el("a", null, `[${attachment.type}] ${payload.url || payload.attachment_id || ""}`);
  if (href) { link.href = href; link.target = "_blank"; link.rel = "noopener noreferrer"; }
  bubble.append(link);
  return bubble;
}

function renderCustomer(item) {
  const row = el("div", item.mention ? "row customer mention-row" : "row customer");
  if (item.imageUrl) {
    const bubble = el("div", "bubble");
    bubble.append(imageNode(item.imageUrl));
    row.append(bubble);
  } else {
    row.append(el("div", "bubble", item.text));
  }
  row.append(el("div", "meta", item.meta));
  return row;
}

function renderXMessage(record) {
  // Our DM as sent to POST /2/dm_conversations/with/:id/messages: text (links stay text) and one photo.
  const body = record.body || {};
  const row = el("div", "row bot");
  for (const attachment of body.attachments || []) {
    const bubble = el("div", "bubble");
    bubble.append(imageNode(`/_sim/x/media/${encodeURIComponent(String(attachment.media_id))}`));
    row.append(bubble);
  }
  if (typeof body.text === "string") row.append(el("div", "bubble", body.text));
  row.append(el("div", "meta", "DM"));
  return row;
}

function renderBotMessage(record) {
  if (isX()) return renderXMessage(record);
  const message = record.body.message || {};
  const row = el("div", "row bot");
  if (typeof message.text === "string") row.append(el("div", "bubble", message.text));
  if (message.attachment) row.append(attachmentNode(message.attachment));
  const tag = record.body.tag ? ` · ${record.body.tag}` : "";
  const recipient = record.body.recipient || {};
  const kind = recipient.comment_id ? "private reply to a comment" : record.body.messaging_type || "";
  row.append(el("div", "meta", `${kind}${tag}`));
  return row;
}

function renderRefused(record) {
  const row = el("div", "row bot refused");
  const response = record.response || {};
  if (isX()) {
    const first = (response.errors && response.errors[0]) || {};
    row.append(el("div", "bubble",
      `X refused a DM (HTTP ${record.status}, ${response.title || "?"}): ${first.message || response.detail || "?"}`));
    return row;
  }
  const error = response.error || {};
  row.append(el("div", "bubble",
    `Send API refused a reply (HTTP ${record.status}, code ${error.code}): ${error.message || "?"}`));
  return row;
}

function lastQuickReplies(items) {
  if (isX()) return []; // X DMs carry no quick replies here: options come as numbered text
  for (let i = items.length - 1; i >= 0; i -= 1) {
    const item = items[i];
    if (item.kind === "customer") return [];
    if (item.kind === "bot" && item.record.body.message) return item.record.body.message.quick_replies || [];
  }
  return [];
}

function renderQuickReplies(items) {
  const box = $("quick-replies");
  box.replaceChildren();
  for (const reply of lastQuickReplies(items)) {
    let label = reply.title;
    let send = { text: String(reply.title), quick_reply_payload: String(reply.payload) };
    if (reply.content_type === "user_email") {
      label = "sim.customer@example.com";
      send = { text: label, quick_reply_payload: label };
    } else if (reply.content_type === "user_phone_number") {
      label = "+447700900123";
      send = { text: label, quick_reply_payload: label };
    }
    const chip = el("button", null, label);
    chip.type = "button";
    chip.addEventListener("click", () => sendCustomer(send, label));
    box.append(chip);
  }
}

function render() {
  const { items } = conversation();
  const main = $("conversation");
  main.replaceChildren();
  for (const item of items) {
    if (item.kind === "customer") main.append(renderCustomer(item));
    else if (item.kind === "refused") main.append(renderRefused(item.record));
    else if (item.kind === "bot") main.append(renderBotMessage(item.record));
  }
  renderQuickReplies(items);
  main.scrollTop = main.scrollHeight;
}

function setTyping(on) {
  clearTimeout(state.typingTimer);
  $("typing").hidden = !on;
  if (on) state.typingTimer = setTimeout(() => { $("typing").hidden = true; }, TYPING_MS);
}

// ---- talking to the simulator ---------------------------------------------------------------------

async function postJson(path, body) {
  const response = await fetch(path, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify(body),
  });
  let data = null;
  try { data = await response.json(); } catch (_err) { data = null; }
  return { response, data };
}

function reportDelivery(data) {
  if (!data) { showNotice("The simulator gave no answer."); return; }
  if (data.status === null || data.status === undefined) {
    showNotice(`Our webhook could not be reached: ${data.error || "unknown error"}`);
  } else if (data.status !== 200) {
    showNotice(`Our webhook answered HTTP ${data.status}: ${String(data.body || "").slice(0, 300)}`);
  } else {
    showNotice("");
  }
}

async function sendCustomer(fields, shownText, imageUrl) {
  if (!userId()) { showNotice("Give the customer an id first."); return; }
  const conv = conversation();
  const item = { kind: "customer", text: shownText, imageUrl, meta: "sending…" };
  conv.items.push(item);
  render();
  try {
    const { response, data } = await postJson("/_sim/customer_message",
      { platform: platform(), user_id: userId(), ...fields });
    if (response.status === 400) {
      item.meta = "not sent";
      showNotice(`The simulator refused this: ${(data && data.error) || response.statusText}`);
    } else {
      item.meta = data && data.status === 200 ? "delivered" : `webhook: ${data ? data.status : "?"}`;
      reportDelivery(data);
    }
  } catch (err) {
    item.meta = "not sent";
    showNotice(`Could not reach the simulator: ${err}`);
  }
  render();
}

async function uploadImage(file) {
  // Stores the image in the simulator (its stand-in for the platform's CDN); its URL, or null.
  if (!file) return null;
  const form = new FormData();
  form.append("file", file, file.name);
  try {
    const response = await fetch("/_sim/media", { method: "POST", body: form });
    const data = await response.json();
    if (!response.ok) { showNotice(`Upload refused: ${data.error || response.status}`); return null; }
    return data.url;
  } catch (err) {
    showNotice(`Upload failed: ${err}`);
    return null;
  }
}

async function uploadPhoto(file) {
  const url = await uploadImage(file);
  if (url) await sendCustomer({ image_urls: [url] }, null, url);
}

async function poll() {
  if (state.polling || !userId()) return;
  state.polling = true;
  const pollKey = key();
  try {
    const query = new URLSearchParams({ platform: platform(), recipient: userId() });
    const response = await fetch(`/_sim/sends?${query}`);
    if (!response.ok) throw new Error(`HTTP ${response.status}`);
    const records = await response.json();
    if (pollKey !== key()) return; // the customer changed while we waited
    const conv = conversation();
    let changed = false;
    for (const record of records) {
      if (conv.seen.has(record.id)) continue;
      conv.seen.add(record.id);
      if (isX() && !String(record.endpoint || "").includes("/dm_conversations/")) continue;
      changed = true;
      const action = record.body && record.body.sender_action;
      if (!record.accepted) conv.items.push({ kind: "refused", record });
      else if (action === "typing_on") setTyping(true);
      else if (action === "typing_off") setTyping(false);
      else if (action === "mark_seen") markSeen(conv);
      else { setTyping(false); conv.items.push({ kind: "bot", record }); }
    }
    if (changed) render();
    $("status").textContent = `Polling the fake APIs every second · ${records.length} call(s) for this customer.`;
  } catch (err) {
    $("status").textContent = `Could not poll the simulator: ${err}`;
  } finally {
    state.polling = false;
  }
}

function markSeen(conv) {
  for (let i = conv.items.length - 1; i >= 0; i -= 1) {
    if (conv.items[i].kind === "customer") { conv.items[i].meta = "seen"; return; }
  }
}

// ---- wiring ---------------------------------------------------------------------------------------

async function postMention(text) {
  if (!userId()) { showNotice("Give the customer an id first."); return; }
  const conv = conversation();
  const item = { kind: "customer", mention: true, text, meta: "public post · sending…" };
  conv.items.push(item);
  render();
  try {
    const { response, data } = await postJson("/_sim/x/mention", { user_id: userId(), text });
    if (response.status === 400) {
      item.meta = "public post · not sent";
      showNotice(`The simulator refused this: ${(data && data.error) || response.statusText}`);
    } else {
      if (data && data.webhook) item.text = data.webhook.tweet_create_events[0].text;
      item.meta = data && data.status === 200 ? "public post · delivered" : `public post · webhook: ${data ? data.status : "?"}`;
      reportDelivery(data);
    }
  } catch (err) {
    item.meta = "public post · not sent";
    showNotice(`Could not reach the simulator: ${err}`);
  }
  render();
}

async function loadBrandHandle() {
  try {
    const config = await (await fetch("/_sim/config")).json();
    if (config.x && config.x.screen_name) $("brand-handle").textContent = config.x.screen_name;
  } catch (_err) {
    // the default handle stays
  }
}

function switchConversation() {
  document.body.classList.remove("messenger", "instagram", "twitter");
  document.body.classList.add(platform());
  if (needsDigits() && !/^[0-9]+$/.test(userId())) $("user-id").value = randomUserId();
  $("sticker").hidden = platform() !== "messenger";
  $("mention").hidden = !isX() || publicView();
  $("text").maxLength = { messenger: 2000, instagram: 1000, twitter: 10000 }[platform()];
  setTyping(false);
  showNotice("");
  render();
}

function init() {
  const params = new URLSearchParams(window.location.search);
  if (["instagram", "twitter"].includes(params.get("platform"))) $("platform").value = params.get("platform");
  $("user-id").value = params.get("user") || randomUserId();
  $("platform").addEventListener("change", switchConversation);
  $("user-id").addEventListener("change", switchConversation);
  $("new-customer").addEventListener("click", () => { $("user-id").value = randomUserId(); switchConversation(); });
  $("composer").addEventListener("submit", (event) => {
    event.preventDefault();
    const text = $("text").value;
    if (!text.trim()) return;
    $("text").value = "";
    sendCustomer({ text }, text);
  });
  $("sticker").addEventListener("click", () => sendCustomer({ sticker: true }, "👍"));
  $("mention").addEventListener("submit", (event) => {
    event.preventDefault();
    const text = $("mention-text").value;
    if (!text.trim()) return;
    $("mention-text").value = "";
    postMention(text);
  });
  $("photo").addEventListener("change", (event) => {
    const [file] = event.target.files;
    event.target.value = "";
    uploadPhoto(file);
  });
  switchConversation();
  loadBrandHandle();
  setInterval(poll, POLL_MS);
  poll();
}

document.addEventListener("DOMContentLoaded", init);
