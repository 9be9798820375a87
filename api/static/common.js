/* Shared helpers for the pages: DOM building without innerHTML, the API client, the API-key prompt.
   Text from the server is only ever set with textContent, so no answer can inject markup. */
"use strict";

window.PAM = (function () {
  const KEY_STORE = "pam-assistant-api-key";
  const authRequired = document.body.dataset.auth === "required";

  /** el("p", {class: "x"}, "text", child...) -> element; attributes go through setAttribute. */
  function el(tag, attrs, ...children) {
    const svg = ["svg", "g", "rect", "line", "path", "text", "circle", "title", "polyline"].includes(tag);
    const node = svg ? document.createElementNS("http://www.w3.org/2000/svg", tag) : document.createElement(tag);
    for (const [name, value] of Object.entries(attrs || {})) {
      if (value === null || value === undefined || value === false) continue;
      if (name.startsWith("on") && typeof value === "function") node.addEventListener(name.slice(2), value);
      else node.setAttribute(name, value === true ? "" : String(value));
    }
    for (const child of children.flat()) {
      if (child === null || child === undefined || child === false) continue;
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
  }

  function clear(node) { while (node.firstChild) node.removeChild(node.firstChild); return node; }

  // A share as a percentage. With ``bounds`` (targets, red-flag thresholds) more digits are shown
  // where rounding would put it on a bound it is not on: 0.6996 is "69.96%", not "70%" beside
  // "below target".
  function pct(value, digits = 0, bounds = []) {
    if (value === null || value === undefined) return "—";
    let shown = digits;
    const onBound = (d) => bounds.some((b) => Math.abs(Number((value * 100).toFixed(d)) / 100 - b) < 1e-9 &&
                                            Math.abs(value - b) > 1e-9);
    while (shown < 3 && onBound(shown)) shown += 1;
    return (value * 100).toFixed(shown) + "%";
  }

  function when(iso) {
    if (!iso) return "—";
    const d = new Date(iso);
    return isNaN(d) ? iso : d.toLocaleString([], { dateStyle: "medium", timeStyle: "short" });
  }

  function embedded(id) {
    const node = document.getElementById(id);
    if (!node) return null;
    try { return JSON.parse(node.textContent); } catch (e) { return null; }
  }

  // -- the API key: asked once per browser session, kept in sessionStorage --------------
  function storedKey() {
    try { return sessionStorage.getItem(KEY_STORE) || ""; } catch (e) { return ""; }
  }

  function askForKey(message) {
    const dialog = document.getElementById("key-dialog");
    if (!dialog) return Promise.resolve("");
    const input = dialog.querySelector("input");
    const note = dialog.querySelector(".key-error");
    if (note) { note.textContent = message || ""; note.hidden = !message; }
    input.value = "";
    return new Promise((resolve, reject) => {
      const form = dialog.querySelector("form");
      const stop = () => {
        form.removeEventListener("submit", done);
        dialog.removeEventListener("cancel", cancelled);
      };
      const done = (event) => {
        event.preventDefault();
        const key = input.value.trim();
        if (!key) { input.focus(); return; }
        try { sessionStorage.setItem(KEY_STORE, key); } catch (e) { /* private mode: keep for this page */ }
        stop();
        dialog.close();
        resolve(key);
      };
      // Escape closes the dialog: the call fails with a message instead of waiting for ever.
      const cancelled = () => {
        stop();
        reject(new ApiError(401, "unauthorized", "No API key was given. Choose the action again to enter one."));
      };
      form.addEventListener("submit", done);
      dialog.addEventListener("cancel", cancelled);
      if (typeof dialog.showModal === "function") dialog.showModal(); else dialog.setAttribute("open", "");
      input.focus();
    });
  }

  async function ensureKey() {
    if (!authRequired) return "";
    return storedKey() || askForKey("");
  }

  class ApiError extends Error {
    constructor(status, code, message, field) {
      super(message);
      this.status = status; this.code = code; this.field = field;
    }
  }

  /** JSON request to the API; resolves with the body, rejects with ApiError (status 0: no connection). */
  async function api(path, options = {}) {
    const headers = { Accept: "application/json" };
    if (options.body !== undefined) headers["Content-Type"] = "application/json";
    const needsKey = authRequired && !options.public;
    for (let attempt = 0; attempt < 3; attempt++) {
      if (needsKey) headers.Authorization = "Bearer " + (await ensureKey());
      let response;
      try {
        response = await fetch(path, {
          method: options.method || (options.body !== undefined ? "POST" : "GET"),
          headers,
          body: options.body !== undefined ? JSON.stringify(options.body) : undefined,
        });
      } catch (e) {
        throw new ApiError(0, "network", "Cannot reach the server. Check your connection and try again.");
      }
      let data = null;
      try { data = await response.json(); } catch (e) { data = null; }
      if (response.ok) return data;
      const err = (data && data.error) || {};
      if (response.status === 401 && needsKey) {
        try { sessionStorage.removeItem(KEY_STORE); } catch (e) { /* nothing stored */ }
        await askForKey(storedKey() ? "" : "That key was not accepted. Please check it and try again.");
        continue;
      }
      throw new ApiError(response.status, err.code || "http_" + response.status,
                         err.message || "The server answered " + response.status + ".", err.field);
    }
    throw new ApiError(401, "unauthorized", "No valid API key was given.");
  }

  /** A short, human sentence for an ApiError, for the page's error areas. */
  function describe(error) {
    if (!(error instanceof ApiError)) return "Something went wrong: " + (error && error.message ? error.message : error);
    if (error.status === 0) return error.message;
    if (error.status === 429) return "Too many requests just now. Please wait a minute and try again.";
    if (error.code === "index_missing") return "The assistant is not ready: its knowledge base is not loaded yet. " + error.message;
    if (error.status >= 500) return "The server could not do that right now (" + error.message + ").";
    return error.message;
  }

  return { el, clear, pct, when, embedded, api, ApiError, describe, authRequired };
})();
