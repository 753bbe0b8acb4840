// Public view of the customer simulator: the brand's posts with their comment threads, polled from
// /_sim/public. The person here comments as the current customer (/_sim/public_comment), optionally with
// a photo, replies under a comment, and sees the brand's public replies, private replies and "hidden"
// marks appear. On Instagram they can also @mention the brand: in a photo post of their own, or in a
// comment on another account's post (the simulator makes that post up). Every text goes in with
// textContent; nothing is ever parsed as HTML. Uses app.js's helpers ($, el, imageNode, platform,
// userId, postJson, reportDelivery, showNotice, uploadImage).
"use strict";

const PUBLIC_PLATFORM = { messenger: "facebook", instagram: "instagram", twitter: "twitter" };
const AUTHOR_FIELD = { facebook: "name", instagram: "username", twitter: "screen_name" };
const COMMENT_MAX = { facebook: 8000, instagram: 2200, twitter: 280 };
// The Instagram composer's modes that make a mention, and what /_sim/public_comment calls them.
const MENTION_MODES = { caption: "caption", "comment-mention": "comment" };
const PLACEHOLDERS = {
  caption: "Caption of your post (@loomandco is added if you leave it out)…",
  comment: "Your comment on their post (@loomandco is added if you leave it out)…",
};

const pub = {
  target: null, // {postId, parentId, label}: where the next comment goes; null means the first post
  photoUrl: null, // an uploaded photo waiting for the next comment (Facebook and X)
  shown: "", // the JSON the list was last drawn from, so identical polls redraw nothing
  polling: false,
};

function publicPlatform() { return PUBLIC_PLATFORM[platform()]; }

// "caption" or "comment" when the Instagram composer makes a mention; null for a plain comment.
function mentionMode() {
  return publicPlatform() === "instagram" ? MENTION_MODES[$("public-mode").value] || null : null;
}

function authorLabel(author) {
  if (publicPlatform() === "facebook") return author.name || author.id;
  return author.username ? `@${author.username}` : author.name || author.id;
}

// ---- rendering -------------------------------------------------------------------------------------

function badge(text, extra) {
  return el("span", extra ? `badge ${extra}` : "badge", text);
}

// `open`: whether the customer can comment here through the simulator (the brand's posts, X mentions;
// not an Instagram mention's post, whose comments Meta does not send to the brand).
function itemNode(item, open) {
  const isComment = item.kind === "comment" || (item.kind === "mention" && item.parent_id);
  const box = el("article", isComment ? "item comment" : "item post");
  if (item.from_brand) box.classList.add("from-brand");
  if (item.hidden) box.classList.add("is-hidden");
  const head = el("div", "item-head");
  head.append(el("span", "author", authorLabel(item.author)));
  if (item.from_brand) head.append(badge("brand"));
  if (item.kind === "mention") head.append(badge("mention"));
  if (item.kind === "post" && !item.from_brand) head.append(badge("another account's post"));
  if (item.hidden) head.append(badge("hidden", "hidden-badge"));
  if (item.private_reply) head.append(badge("✉ private reply sent"));
  head.append(el("span", "meta", new Date(item.created_time * 1000).toLocaleString()));
  box.append(head);
  if (item.text) box.append(el("div", "item-text", item.text));
  if (item.photo) box.append(imageNode(item.photo));
  if (open) {
    const answer = el("button", "link-button", item.kind === "comment" ? "Reply" : "Comment");
    answer.type = "button";
    answer.addEventListener("click", () => setTarget(item));
    box.append(answer);
  }
  if (item.replies.length) {
    const replies = el("div", "replies");
    for (const reply of item.replies) replies.append(itemNode(reply, open));
    box.append(replies);
  }
  return box;
}

function renderPublic(posts) {
  const main = $("public");
  main.replaceChildren();
  if (!posts.length) main.append(el("p", "meta", "No posts on this platform."));
  for (const post of posts) {
    const open = post.kind === "mention" ? publicPlatform() === "twitter" : post.from_brand;
    main.append(itemNode(post, open));
  }
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
  $("public-mode").value = "comment";
  renderMode();
  const who = authorLabel(item.author);
  if (item.kind === "comment") {
    pub.target = { postId: item.post_id, parentId: item.id, label: `Replying to ${who}` };
  } else {
    pub.target = { postId: item.id, parentId: null, label: `Commenting on ${who}'s ${item.kind}` };
  }
  renderTarget();
  $("public-text").focus();
}

// The composer as the Instagram mode wants it: photos only with mentions, no target for a mention.
function renderMode() {
  const instagram = publicPlatform() === "instagram";
  const mention = mentionMode();
  $("public-mode-row").hidden = !instagram;
  $("public-photo-button").hidden = instagram && !mention; // Instagram comments carry no photo
  if (instagram && !mention) pub.photoUrl = null;
  $("public-photo-button").title = {
    caption: "The photo of your post (required)",
    comment: "A photo for the other account's post (optional)",
  }[mention] || "Add a photo to the comment";
  $("public-target").hidden = Boolean(mention);
  $("public-text").placeholder = PLACEHOLDERS[mention] || "Write a public comment…";
  renderAttachment();
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
  const mention = mentionMode();
  if (mention === "caption" && !pub.photoUrl) {
    showNotice("A post of your own needs a photo: add one with 📷 first.");
    return;
  }
  const fields = { platform: where, user_id: userId(), text };
  if (mention) fields.mention = mention;
  const name = $("public-name").value.trim();
  if (name) fields[AUTHOR_FIELD[where]] = name;
  if (pub.photoUrl) fields.image_urls = [pub.photoUrl];
  if (pub.target && !mention) {
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
  $("public-mode").value = "comment";
  $("public-name").placeholder = { facebook: "Name", instagram: "username", twitter: "screen_name" }[where];
  $("public-text").maxLength = COMMENT_MAX[where];
  renderMode();
  renderTarget();
  if (publicView()) { $("public").replaceChildren(); pollPublic(); }
}

function initPublic() {
  $("tab-chat").addEventListener("click", () => setView("chat"));
  $("tab-public").addEventListener("click", () => setView("public"));
  $("platform").addEventListener("change", switchPublicPlatform);
  $("public-mode").addEventListener("change", () => { pub.target = null; renderMode(); renderTarget(); });
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
