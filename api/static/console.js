/* OPS console: triage a request, read the suggestion and its sources, then accept, edit or escalate it.
   Every decision goes back to the decision log through POST /v1/feedback. */
"use strict";

(function () {
  const { el, clear, pct, when, embedded, api, describe } = window.PAM;
  const $ = (id) => document.getElementById(id);
  const samples = embedded("samples") || [];
  const REASON_TEXT = {
    low_confidence: "low confidence", not_covered: "not covered by the runbooks", out_of_scope: "out of scope",
    risky_topic: "risky topic", security_incident: "security incident", pii_detected: "personal data",
    prompt_injection: "prompt injection", internal_only_source: "only staff-only sources",
    llm_unavailable: "model unavailable",
  };

  let current = null;    // the result on screen
  let original = "";     // its suggested reply, to tell an edit from an accept
  let editing = false;

  // -- the request form ---------------------------------------------------------
  samples.forEach((s, i) => {
    const label = (s.id ? s.id + " · " : "") + s.channel + " · " + (s.subject || s.body).slice(0, 70);
    $("sample").append(el("option", { value: String(i) }, label));
  });
  const chosen = () => samples[Number($("sample").value)] || null;
  $("sample").addEventListener("change", () => {
    const s = $("sample").value === "" ? null : chosen();
    if (!s) return;
    $("subject").value = s.subject;
    $("body").value = s.body;
    const radio = document.querySelector(`input[name="channel"][value="${s.channel === "chat" ? "chat" : "email"}"]`);
    radio.checked = true;
  });

  function requestId() {
    // Unique per triage, so feedback attaches to this decision and no other.
    const s = $("sample").value === "" ? null : chosen();
    const base = (s && s.id) || "OPS";
    return base + "-" + Date.now().toString(36) + Math.random().toString(36).slice(2, 5);
  }

  function showFormError(message) {
    $("form-error").textContent = message;
    $("form-error").hidden = !message;
  }

  $("request-form").addEventListener("reset", () => {
    showFormError("");
    setTimeout(() => $("subject").focus(), 0);
  });

  $("request-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    showFormError("");
    const subject = $("subject").value.trim();
    const body = $("body").value.trim();
    if (!subject && !body) {
      showFormError("Write a subject or a body first.");
      $("body").focus();
      return;
    }
    const channel = document.querySelector('input[name="channel"]:checked').value;
    const payload = { id: requestId(), channel, subject, body };
    $("submit").disabled = true;
    $("result-panel").setAttribute("aria-busy", "true");
    $("result-loading").hidden = false;
    $("result-empty").hidden = true;
    try {
      const result = await api("/v1/ask", { body: payload });
      render(result);
      loadRecent();
    } catch (error) {
      showFormError(describe(error));
      if (!current) $("result-empty").hidden = false;
    } finally {
      $("submit").disabled = false;
      $("result-loading").hidden = true;
      $("result-panel").setAttribute("aria-busy", "false");
    }
  });

  // -- the result ---------------------------------------------------------------
  function render(r) {
    current = r;
    original = r.answer || "";
    editing = false;
    $("result").hidden = false;
    $("r-id").textContent = r.id || "—";
    $("r-category").textContent = r.category;
    $("r-confidence-meter").value = r.category_confidence;
    $("r-confidence").textContent = pct(r.category_confidence) + " confidence";
    $("r-priority").textContent = r.priority;
    $("r-priority").className = "badge " + r.priority.toLowerCase();
    $("r-route").textContent = r.route === "answer" ? "answer" : "escalate";
    $("r-route").className = "badge " + (r.route === "answer" ? "ok" : "warn");
    $("r-queue").textContent = r.queue;
    $("r-due").textContent = r.due_by ? when(r.due_by) : "—";
    const reasons = clear($("r-reasons"));
    if (!r.reasons || !r.reasons.length) reasons.append(el("span", { class: "empty" }, "none"));
    for (const reason of r.reasons || []) {
      reasons.append(el("span", { class: "badge warn", title: reason }, REASON_TEXT[reason] || reason));
    }
    $("reply").value = original;
    $("reply").readOnly = true;
    $("reply-hint").textContent = "Read-only until you choose Edit.";
    renderCitations(r.citations || []);
    renderHandoff(r.handoff, r.route === "escalate");
    $("rationale-box").hidden = !r.rationale;
    $("rationale").textContent = r.rationale || "";
    setDecided(false);
    $("edit").setAttribute("aria-pressed", "false");
    $("edit").textContent = "Edit";
    $("accept").textContent = "Accept";
    $("escalate-form").hidden = true;
    $("escalate").setAttribute("aria-expanded", "false");
    $("feedback-status").textContent = "";
    $("feedback-status").className = "";
    $("result-heading").focus();
  }

  function renderCitations(citations) {
    const list = clear($("citations"));
    $("citations-empty").hidden = citations.length > 0;
    citations.forEach((c, i) => {
      const snippetId = "snippet-" + i;
      const snippet = el("p", { class: "snippet", id: snippetId, hidden: true }, c.snippet || "(no snippet)");
      const toggle = el("button", { type: "button", "aria-expanded": "false", "aria-controls": snippetId,
                                    class: "citation-toggle" },
        el("span", { class: "title" }, c.title || c.source_id),
        el("span", { class: "mono" }, c.source_id),
        c.audience === "internal" ? el("span", { class: "badge warn" }, "staff only") : null,
        c.kind === "ticket" ? el("span", { class: "badge" }, "past ticket") : null,
        el("span", { class: "badge" }, "score " + Number(c.score).toFixed(2)));
      toggle.addEventListener("click", () => {
        const open = toggle.getAttribute("aria-expanded") === "true";
        toggle.setAttribute("aria-expanded", String(!open));
        snippet.hidden = open;
      });
      list.append(el("li", { class: "citation" }, toggle, snippet));
    });
  }

  // Staff only: the chat page never receives a handoff (the API strips it from /v1/chat).
  function renderHandoff(h, escalated) {
    const box = $("handoff-box");
    box.hidden = !h;
    if (!h) return;
    box.open = Boolean(escalated);  // an escalation's note is what the queue reads first
    const dl = clear($("handoff"));
    const rows = [["Summary", h.summary], ["Impact", h.impact], ["Evidence", h.evidence], ["Checked", h.checked],
                  ["Needed", h.needed], ["Missing (ask the customer)", h.missing]];
    const always = ["Summary", "Evidence", "Checked", "Needed", "Missing (ask the customer)"];
    for (const [name, value] of rows) {
      const none = !value || (Array.isArray(value) && !value.length);
      if (none && !always.includes(name)) continue;  // the queue always sees what is not there
      dl.append(el("dt", {}, name));
      dl.append(el("dd", {}, none ? el("span", { class: "empty" }, "none")
        : Array.isArray(value) ? el("ul", {}, value.map((v) => el("li", {}, v))) : value));
    }
  }

  function setDecided(done) {
    for (const id of ["accept", "edit", "escalate", "escalate-confirm"]) $(id).disabled = done;
  }

  async function sendFeedback(feedback, doneText) {
    setDecided(true);
    $("feedback-status").className = "";
    $("feedback-status").textContent = "Saving…";
    try {
      await api("/v1/feedback", { body: { id: current.id, ...feedback } });
      $("feedback-status").className = "success";
      $("feedback-status").textContent = doneText;
      $("reply").readOnly = true;
      loadRecent();
    } catch (error) {
      setDecided(false);
      $("feedback-status").className = "error";
      $("feedback-status").textContent = "Not saved: " + describe(error);
    }
  }

  $("accept").addEventListener("click", () => {
    const text = $("reply").value.trim();
    if (text !== original.trim()) {  // edited, even if "Stop editing" was chosen after
      if (!text) {
        $("feedback-status").className = "error";
        $("feedback-status").textContent = "The edited reply is empty.";
        $("reply").focus();
        return;
      }
      sendFeedback({ outcome: "edited", resolved_tier: 1, final_text: text },
                   "Recorded: edited and accepted (resolved by Tier 1).");
    } else {
      sendFeedback({ outcome: "accepted", resolved_tier: 1 }, "Recorded: accepted (resolved by Tier 1).");
    }
  });

  $("edit").addEventListener("click", () => {
    editing = !editing;
    $("reply").readOnly = !editing;
    $("edit").setAttribute("aria-pressed", String(editing));
    $("edit").textContent = editing ? "Stop editing" : "Edit";
    $("accept").textContent = editing ? "Accept edited reply" : "Accept";
    $("reply-hint").textContent = editing ? "Edit the reply, then choose Accept edited reply." : "Read-only until you choose Edit.";
    if (editing) $("reply").focus();
  });

  $("escalate").addEventListener("click", () => {
    const open = $("escalate-form").hidden;
    $("escalate-form").hidden = !open;
    $("escalate").setAttribute("aria-expanded", String(open));
    if (open) $("escalate-note").focus();
  });
  $("escalate-cancel").addEventListener("click", () => {
    $("escalate-form").hidden = true;
    $("escalate").setAttribute("aria-expanded", "false");
    $("escalate").focus();
  });
  $("escalate-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const tier = Number($("escalate-tier").value);
    const note = $("escalate-note").value.trim();
    sendFeedback({ outcome: "escalated", resolved_tier: tier, ...(note ? { note } : {}) },
                 `Recorded: escalated to Tier ${tier}.`);
    $("escalate-form").hidden = true;
  });

  // -- recent decisions -----------------------------------------------------------
  async function loadRecent() {
    $("recent-error").hidden = true;
    try {
      const data = await api("/v1/decisions?limit=10");
      const body = clear(document.querySelector("#recent tbody"));
      for (const d of data.decisions) {
        const fb = d.feedback ? d.feedback.outcome + (d.feedback.resolved_tier ? " · T" + d.feedback.resolved_tier : "") : "—";
        body.append(el("tr", {},
          el("td", {}, when(d.created_at)), el("td", { class: "mono" }, d.id || "—"), el("td", {}, d.source),
          el("td", {}, d.category || "—"), el("td", {}, d.priority || "—"), el("td", {}, d.route || "—"),
          el("td", {}, fb)));
      }
      $("recent").hidden = data.decisions.length === 0;
      $("recent-empty").hidden = data.decisions.length > 0;
    } catch (error) {
      $("recent-error").textContent = "Could not load recent decisions: " + describe(error);
      $("recent-error").hidden = false;
    }
  }
  $("refresh-recent").addEventListener("click", loadRecent);

  $("result-heading").setAttribute("tabindex", "-1");
  loadRecent();
})();
