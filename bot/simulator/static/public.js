// Public view of the customer simulator: the brand's posts with their comment threads, polled from
// /_sim/public. The person here comments as the current customer (/_sim/public_comment), optionally with
// a photo, replies under a comment, and sees the brand's public replies, private replies and "hidden"
// marks appear. Every text goes in with textContent; nothing is ever parsed as HTML. Uses app.js's
// helpers ($, el, imageNode, platform, userId, postJson, reportDelivery, showNotice, uploadImage).
"use strict";

const PUBLIC_PLATFORM = { messenger: "facebook", instagram: "instagram", twitter: "twitter" };
const AUTHOR_FIELD = { facebook: "name", instagram: "username", twitter: "screen_name" };
const COMMENT_MAX = { facebook: 8000, instagram: 2200, twitter: 280 };

const pub = {
  target: null, // {postId, parentId, label}: where the next comment goes; null means the first post
  photoUrl: null, // an uploaded photo waiting for the next comment (Facebook and X)
  shown: "", // the JSON the list was last drawn from, so identical polls redraw nothing
  polling: false,
};

function publicPlatform() { return PUBLIC_PLATFORM[platform()]; }

function authorLabel(author) {
  if (publicPlatform() === "facebook") return author.name || author.id;
  return author.username ? `@${author.username}` : author.name || author.id;
}

// ---- rendering -------------------------------------------------------------------------------------

function badge(text, extra) {
  return el("span", extra ? `badge ${extra}` : "badge", text);
}

function itemNode(item) {
  const box = el("article", item.kind === "comment" ? "item comment" : "item post");
  if (item.from_brand) box.classList.add("from-brand");
  if (item.hidden) box.classList.add("is-hidden");
  const head = el("div", "item-head");
  head.append(el("span", "author", authorLabel(item.author)));
  if (item.from_brand) head.append(badge("brand"));
  if (item.kind === "mention") head.append(badge("mention"));
  if (item.hidden) head.append(badge("hidden", "hidden-badge"));
  if (item.private_reply) head.append(badge("✉ private reply sent"));
  head.append(el("span", "meta", new Date(item.created_time * 1000).toLocaleString()));
  box.append(head);
  if (item.text) box.append(el("div", "item-text", item.text));
  if (item.photo) box.append(imageNode(item.photo));
  const answer = el("button", "link-button", item.kind === "comment" ? "Reply" : "Comment");
  answer.type = "button";
  answer.addEventListener("click", () => setTarget(item));
  box.append(answer);
  if (item.replies.length) {
    const replies = el("div", "replies");
    for (const reply of item.replies) replies.append(itemNode(reply));
    box.append(replies);
  }
  return box;
}

function renderPublic(posts) {
  const main = $("public");
  main.replaceChildren();
  if (!posts.length) main.append(el("p", "meta", "No posts on this platform."));
  for (const post of posts) main.append(itemNode(post));
}

function renderTarget() {
  const box = $("public-target");
  box.replaceChildren();
  box.append(el("span", null, pub.target ? pub.target.label : "Commenting on the brand's first post"));
  if (pub.target) {
    const cancel = el("button", "link-button", "✕");
    cancel.type = "button";
    cancel.title = "Comment on the first post instead";
    cancel.addEventListener("click", () => { pub.target = null; renderTarget(); });
    box.append(cancel);
  }
}

function setTarget(item) {
  const who = authorLabel(item.author);
  if (item.kind === "comment") {
    pub.target = { postId: item.post_id, parentId: item.id, label: `Replying to ${who}` };
  } else {
    pub.target = { postId: item.id, parentId: null, label: `Commenting on ${who}'s ${item.kind}` };
  }
  renderTarget();
  $("public-text").focus();
}

function renderAttachment() {
  const box = $("public-attachment");
  box.replaceChildren();
  box.hidden = !pub.photoUrl;
  if (!pub.photoUrl) return;
  const remove = el("button", "link-button", "📎 photo ✕");
  remove.type = "button";
  remove.title = "Remove the photo";
  remove.addEventListener("click", () => { pub.photoUrl = null; renderAttachment(); });
  box.append(remove);
}

// ---- talking to the simulator ---------------------------------------------------------------------

async function pollPublic() {
  if (pub.polling || !publicView()) return;
  pub.polling = true;
  const wanted = publicPlatform();
  try {
    const response = await fetch(`/_sim/public?${new URLSearchParams({ platform: wanted })}`);
    if (!response.ok) throw new Error(`HTTP ${response.status}`);
    const text = await response.text();
    if (wanted !== publicPlatform() || text === pub.shown) return;
    pub.shown = text;
    renderPublic(JSON.parse(text).posts);
  } catch (err) {
    $("status").textContent = `Could not poll the simulator: ${err}`;
  } finally {
    pub.polling = false;
  }
}

async function postComment(text) {
  if (!userId()) { showNotice("Give the customer an id first."); return; }
  const where = publicPlatform();
  const fields = { platform: where, user_id: userId(), text };
  const name = $("public-name").value.trim();
  if (name) fields[AUTHOR_FIELD[where]] = name;
  if (pub.photoUrl) fields.image_urls = [pub.photoUrl];
  if (pub.target) {
    fields.post_id = pub.target.postId;
    if (pub.target.parentId) fields.parent_id = pub.target.parentId;
  }
  try {
    const { response, data } = await postJson("/_sim/public_comment", fields);
    if (response.status === 400) {
      showNotice(`The simulator refused this: ${(data && data.error) || response.statusText}`);
      return;
    }
    reportDelivery(data);
    $("public-text").value = "";
    pub.photoUrl = null;
    pub.target = null;
    renderAttachment();
    renderTarget();
    pub.shown = "";
    pollPublic();
  } catch (err) {
    showNotice(`Could not reach the simulator: ${err}`);
  }
}

// ---- wiring ---------------------------------------------------------------------------------------

function setView(view) {
  document.body.dataset.view = view;
  $("tab-chat").classList.toggle("active", view === "chat");
  $("tab-public").classList.toggle("active", view === "public");
  $("tab-chat").setAttribute("aria-pressed", String(view === "chat"));
  $("tab-public").setAttribute("aria-pressed", String(view === "public"));
  $("mention").hidden = platform() !== "twitter" || view === "public";
  switchPublicPlatform();
}

function switchPublicPlatform() {
  const where = publicPlatform();
  pub.target = null;
  pub.shown = "";
  $("public-photo-button").hidden = where === "instagram"; // Instagram comments carry no photo
  if (where === "instagram") pub.photoUrl = null;
  $("public-name").placeholder = { facebook: "Name", instagram: "username", twitter: "screen_name" }[where];
  $("public-text").maxLength = COMMENT_MAX[where];
  renderAttachment();
  renderTarget();
  if (publicView()) { $("public").replaceChildren(); pollPublic(); }
}

function initPublic() {
  $("tab-chat").addEventListener("click", () => setView("chat"));
  $("tab-public").addEventListener("click", () => setView("public"));
  $("platform").addEventListener("change", switchPublicPlatform);
  $("public-composer").addEventListener("submit", (event) => {
    event.preventDefault();
    const text = $("public-text").value;
    if (!text.trim() && !pub.photoUrl) return;
    postComment(text);
  });
  $("public-photo").addEventListener("change", async (event) => {
    const [file] = event.target.files;
    event.target.value = "";
    const url = await uploadImage(file);
    if (url) { pub.photoUrl = url; renderAttachment(); }
  });
  setView(new URLSearchParams(window.location.search).get("view") === "public" ? "public" : "chat");
  setInterval(pollPublic, POLL_MS);
}

document.addEventListener("DOMContentLoaded", initPublic);
