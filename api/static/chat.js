/* Customer help chat: one message at a time to POST /v1/chat, which never returns staff-only text.
   An escalation shows the assistant's hand-off message, kindly framed, and what happens next. */
"use strict";

(function () {
  const { el, embedded, api, ApiError } = window.PAM;
  const $ = (id) => document.getElementById(id);
  const log = $("log");
  const session = Date.now().toString(36) + Math.random().toString(36).slice(2, 6);
  let turn = 0;
  let busy = false;

  function scrollDown() { log.scrollTop = log.scrollHeight; }

  function add(node) { log.append(node); scrollDown(); return node; }

  function answerBubble(r) {
    const escalated = r.route === "escalate";
    const bubble = el("div", { class: "bubble bot" + (escalated ? " handoff" : ""), "data-route": r.route });
    if (escalated) bubble.append(el("span", { class: "label" }, "A person from our team will take it from here"));
    bubble.append(el("span", { class: "text" }, r.answer || "Thanks for your message. Our team will get back to you."));
    const sources = (r.citations || []).filter((c) => c.audience !== "internal");
    if (!escalated && sources.length) {
      bubble.append(el("div", { class: "sources" },
        el("strong", {}, "Sources"),
        el("ul", {}, sources.map((c) => el("li", {},
          el("details", {}, el("summary", {}, c.title || c.source_id), el("p", {}, c.snippet || "")))))));
    }
    return bubble;
  }

  function failureText(error) {
    if (error instanceof ApiError && error.status === 429)
      return "You're sending messages faster than I can answer. Please wait a minute, then try again.";
    if (error instanceof ApiError && error.status === 0)
      return "I can't reach our server right now. Please check your connection and try again.";
    if (error instanceof ApiError && error.status === 422)
      return "I couldn't read that message: " + error.message;
    return "Sorry, I couldn't answer just now. Please try again in a moment; if it keeps happening, email our support team.";
  }

  async function send(text) {
    if (busy) return;
    text = text.trim();
    $("chat-error").hidden = true;
    if (!text) {
      $("chat-error").textContent = "Write a message first.";
      $("chat-error").hidden = false;
      $("message").focus();
      return;
    }
    busy = true;
    $("send").disabled = true;
    add(el("div", { class: "bubble user" }, text));
    $("message").value = "";
    const typing = add(el("div", { class: "typing", role: "status" }, "PAM help is typing…"));
    try {
      turn += 1;
      const result = await api("/v1/chat", { body: { id: "chat-" + session + "-" + turn, body: text }, public: true });
      typing.remove();
      add(answerBubble(result));
    } catch (error) {
      typing.remove();
      add(el("div", { class: "bubble bot failed" }, failureText(error)));
    } finally {
      busy = false;
      $("send").disabled = false;
      $("message").focus();
    }
  }

  $("chat-form").addEventListener("submit", (event) => { event.preventDefault(); send($("message").value); });
  $("message").addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      send($("message").value);
    }
  });

  const suggestions = (embedded("samples") || []).map((s) => s.body).filter(Boolean).slice(0, 3);
  for (const text of suggestions) {
    $("suggestions").append(el("button", { type: "button", onclick: () => send(text) },
                               text.length > 80 ? text.slice(0, 77) + "…" : text));
  }
  $("suggestions").hidden = suggestions.length === 0;
})();
