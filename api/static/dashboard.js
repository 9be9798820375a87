/* Dashboard: GET /v1/metrics drawn as cards, red flags and charts against the healthy targets;
   GET /v1/gaps as the runbooks to write and the top issues per week. */
"use strict";

(function () {
  const { el, clear, pct, api, describe } = window.PAM;
  const { stackedBars, rateLines, legend } = window.PAMCharts;
  const $ = (id) => document.getElementById(id);
  const EPS = 1e-9;

  const STATUS = {
    on_target: ["on target", "ok"], above_target: ["above target", "warn"], below_target: ["below target", "warn"],
    red_flag: ["red flag", "bad"], no_data: ["no data yet", ""],
  };

  function card(id, label, value, detail, status) {
    const [text, cls] = STATUS[status] || [null, ""];
    return el("div", { class: "card" + (status === "red_flag" ? " red" : ""), id },
      el("div", { class: "label" }, label),
      el("div", { class: "value" }, value),
      detail ? el("div", { class: "target" }, detail) : null,
      text ? el("span", { class: "badge " + cls }, text) : null);
  }

  // The targets and red-flag thresholds a tier's share is judged on: shown percentages never round onto one.
  function bounds(m) {
    const t = m.targets, f = m.red_flag_thresholds;
    return [t.tier1_resolution.min, t.tier1_resolution.max, t.tier2_resolution.min, t.tier2_resolution.max,
            t.tier3_share.max, f.tier1_resolution_below, f.tier2_escalation_above, 1 - f.tier2_escalation_above,
            f.tier3_share_above];
  }

  function renderCards(m) {
    const t = m.tiers, r = m.routing, a = m.acceptance;
    const tierPct = (v) => pct(v, 0, bounds(m));
    const cards = clear($("cards"));
    cards.append(
      card("card-total", "Requests", el("span", { id: "total-count" }, String(m.total)),
           m.errors ? `${m.errors} bad inputs not counted` : (m.first ? "since " + m.first.slice(0, 10) : "none yet")),
      card("card-answered", "Answered by the assistant", pct(r.answer_rate), `${r.answered} of ${r.decided} routed`),
      card("card-escalated", "Escalated to a person", pct(r.escalation_rate), `${r.escalated} of ${r.decided} routed`),
      card("card-tier1", "Tier 1 resolves", tierPct(t.tier1.rate), `target 70–80% · ${t.tier1.resolved} of ${t.tier1.received}`,
           t.tier1.status),
      card("card-tier2", "Tier 2 resolves", tierPct(t.tier2.rate), `target 80–90% of received · ${t.tier2.resolved} of ${t.tier2.decided ?? t.tier2.received} decided` + (t.tier2.open ? ` · ${t.tier2.open} open` : ""),
           t.tier2.status),
      card("card-tier3", "Tier 3 share", tierPct(t.tier3.share), `target under 5% · ${t.tier3.received} of ${t.known}`,
           t.tier3.status),
      card("card-accepted", "Suggestions accepted", pct(a.accepted_share),
           `${a.accepted} accepted, ${a.edited} edited, ${a.escalated} escalated`));
  }

  function renderFlags(m) {
    const area = clear($("flags-area"));
    if (m.red_flags.length) {
      area.append(el("ul", { class: "flags", role: "alert" }, m.red_flags.map((f) => el("li", {}, f.message))));
    } else if (!m.tiers.known) {
      area.append(el("p", { class: "empty" },
        "No resolution data yet: feedback from the OPS console and imported ticket history fill this in."));
    } else {
      area.append(el("p", { class: "success" }, `No red flags across ${m.tiers.known} requests with a known tier.`));
    }
  }

  function table(caption, labels, columns) {
    return el("details", {},
      el("summary", {}, "Show the numbers"),
      el("div", { class: "table-wrap" }, el("table", {},
        el("caption", { class: "sr-only" }, caption),
        el("thead", {}, el("tr", {}, el("th", { scope: "col" }, "Period"),
          columns.map(([name]) => el("th", { scope: "col" }, name)))),
        el("tbody", {}, labels.map((label, i) => el("tr", {}, el("th", { scope: "row" }, label),
          columns.map(([, values, fmt]) => el("td", {}, fmt ? fmt(values[i]) : String(values[i])))))))));
  }

  function figure(id, caption, svg, legendItems, data) {
    return el("figure", { id }, el("figcaption", {}, caption), svg, legend(legendItems), data);
  }

  function renderCharts(m) {
    const charts = clear($("charts"));
    const periods = m.periods || [];
    $("charts-empty").hidden = m.total > 0;
    if (!m.total) return;
    const labels = periods.map((p) => p.period);
    const answered = periods.map((p) => p.answered);
    const escalated = periods.map((p) => p.escalated);
    const other = periods.map((p) => Math.max(0, p.count - p.answered - p.escalated));
    const routed = periods.map((p) => p.answered + p.escalated);
    const answerRate = periods.map((p, i) => (routed[i] ? p.answered / routed[i] : null));
    const escalationRate = periods.map((p, i) => (routed[i] ? p.escalated / routed[i] : null));
    const t1 = periods.map((p) => p.tier1_rate), t2 = periods.map((p) => p.tier2_rate), t3 = periods.map((p) => p.tier3_share);
    const flags = m.red_flag_thresholds;
    const tierPct = (v) => pct(v, 0, bounds(m));

    charts.append(figure("chart-volume", "Volume per " + m.period,
      stackedBars("Requests per " + m.period + ": answered, escalated and not routed by the assistant", labels, [
        { label: "Answered", cls: "s-answered", values: answered },
        { label: "Escalated", cls: "s-escalated", values: escalated },
        { label: "Not routed (history, classify-only)", cls: "s-other", values: other },
      ]),
      [["k-answered", "answered"], ["k-escalated", "escalated"], ["k-other", "not routed (history)"]],
      table("Volume per period", labels, [["Requests", periods.map((p) => p.count)], ["Answered", answered],
                                          ["Escalated", escalated], ["Not routed", other]])));

    charts.append(figure("chart-routing", "Answer and escalation rate",
      rateLines("Share of routed requests answered and escalated per " + m.period, labels, [
        { label: "answered", cls: "s-rate", values: answerRate },
        { label: "escalated", cls: "s-escalated", values: escalationRate },
      ]),
      [["k-rate", "answered"], ["k-escalated", "escalated"]],
      table("Routing per period", labels, [["Answer rate", answerRate, pct], ["Escalation rate", escalationRate, pct]])));

    charts.append(figure("chart-tier1", "Tier 1 resolution (target 70–80%)",
      rateLines("Share of requests resolved by Tier 1 per " + m.period + "; target band 70 to 80 percent", labels,
        [{ label: "Tier 1", cls: "s-rate", values: t1 }],
        { band: m.targets.tier1_resolution, limit: flags.tier1_resolution_below,
          isRed: (v) => v < flags.tier1_resolution_below - EPS }),
      [["k-rate", "Tier 1 resolution"], ["k-band", "target"], ["k-limit", "red flag below 50%"]],
      table("Tier 1 per period", labels, [["Tier 1 resolved", periods.map((p) => p.tier1)], ["Rate", t1, tierPct]])));

    charts.append(figure("chart-tier2", "Tier 2 resolution of what it receives (target 80–90%)",
      rateLines("Share of Tier 2's requests it resolved per " + m.period + "; target band 80 to 90 percent", labels,
        [{ label: "Tier 2", cls: "s-rate", values: t2 }],
        { band: m.targets.tier2_resolution, isRed: (v) => 1 - v > flags.tier2_escalation_above + EPS }),
      [["k-rate", "Tier 2 resolution"], ["k-band", "target"], ["k-limit", "red flag: escalates over 20%"]],
      table("Tier 2 per period", labels, [["Tier 2 resolved", periods.map((p) => p.tier2)], ["Rate", t2, tierPct]])));

    charts.append(figure("chart-tier3", "Tier 3 share of all requests (target under 5%)",
      rateLines("Share of all requests that reached Tier 3 per " + m.period + "; target under 5 percent", labels,
        [{ label: "Tier 3", cls: "s-escalated", values: t3 }],
        { band: { min: 0, max: m.targets.tier3_share.max }, limit: flags.tier3_share_above,
          isRed: (v) => v > flags.tier3_share_above + EPS }),
      [["k-escalated", "Tier 3 share"], ["k-band", "target"], ["k-limit", "red flag above 10%"]],
      table("Tier 3 per period", labels, [["Tier 3", periods.map((p) => p.tier3)], ["Share", t3, tierPct]])));
  }

  // -- the knowledge loop: GET /v1/gaps ---------------------------------------------
  const plural = (n, one, many) => `${n} ${n === 1 ? one : many || one + "s"}`;
  const EXAMPLES_SHOWN = 2;

  function nearest(c) {
    if (!c.nearest_runbook) return el("p", { class: "gap-nearest" }, "No runbook is close to these requests.");
    return el("p", { class: "gap-nearest" }, "Nearest runbook: ", el("span", { class: "mono" }, c.nearest_runbook),
      ` (similarity ${Number(c.nearest_score).toFixed(2)})`);
  }

  function renderGaps(report) {
    const list = clear($("gaps"));
    const clusters = report.clusters || [];
    $("gaps-empty").hidden = clusters.length > 0;
    const toWrite = report.runbooks_to_write || 0;
    const small = clusters.length - toWrite;
    $("gaps-summary").hidden = !clusters.length;
    $("gaps-summary").className = toWrite ? "notice" : "success";
    $("gaps-summary").textContent = !clusters.length ? ""
      : toWrite ? `${plural(toWrite, "runbook")} to write` + (small ? `; ${plural(small, "smaller group")} to watch.` : ".")
      : `No group is large enough to need a runbook yet (more than three requests); ${plural(small, "group")} to watch.`;
    clusters.forEach((c, i) => {
      const examples = (c.examples || []).slice(0, EXAMPLES_SHOWN);
      list.append(el("li", { class: "gap" + (c.flagged ? " flagged" : ""), id: "gap-" + i, tabindex: "-1",
                             "data-flagged": String(Boolean(c.flagged)) },
        el("div", { class: "gap-head" },
          el("span", { class: "gap-size" }, el("strong", {}, String(c.size)), " ", c.size === 1 ? "request" : "requests"),
          el("span", { class: "badge" }, c.category),
          c.flagged ? el("span", { class: "badge bad" }, "runbook to write") : el("span", { class: "badge" }, "watch")),
        nearest(c),
        examples.length ? el("ul", { class: "examples", "aria-label": "Example requests" },
          examples.map((e) => el("li", {}, e))) : null));
    });
  }

  function weekCard(w) {
    const cats = w.top_categories || [], top = w.top_clusters || [];
    return el("article", { class: "week", "aria-labelledby": "week-" + w.period },
      el("h3", { id: "week-" + w.period }, w.period,
        w.start ? el("span", { class: "hint" }, " from " + w.start.slice(0, 10)) : null),
      el("p", { class: "week-counts" },
        `${plural(w.total, "request")} · ${w.escalated} escalated · ${w.gaps} not settled by a runbook`),
      el("p", { class: "week-label" }, "Top categories"),
      cats.length ? el("ol", { class: "tops" }, cats.map((c) => el("li", {},
        el("span", { class: "badge" }, c.category), " " + plural(c.count, "request"))))
        : el("p", { class: "empty" }, "None."),
      el("p", { class: "week-label" }, "Top uncovered groups"),
      top.length ? el("ol", { class: "tops" }, top.map((c) => el("li", { class: c.flagged ? "flagged" : null },
        el("a", { href: "#gap-" + c.cluster }, c.example),
        " · " + plural(c.count, "request") + " this week",
        c.flagged ? el("span", { class: "badge bad" }, "runbook to write") : null)))
        : el("p", { class: "empty" }, "No recurring uncovered escalations this week."));
  }

  function renderIssues(report) {
    const area = clear($("issues"));
    const weeks = (report.top_issues || []).slice().reverse();  // newest first
    $("issues-empty").hidden = weeks.length > 0;
    weeks.forEach((w) => area.append(weekCard(w)));
  }

  async function loadGaps(params) {
    $("gaps-error").hidden = true;
    $("gaps-status").textContent = "Looking for gaps…";
    $("gaps-panel").setAttribute("aria-busy", "true");
    try {
      const report = await api("/v1/gaps?" + params.toString());
      renderGaps(report);
      renderIssues(report);
      $("gaps-status").textContent = "";
    } catch (error) {
      $("gaps-status").textContent = "";
      $("gaps-error").textContent = "Could not load the runbooks to write: " + describe(error);
      $("gaps-error").hidden = false;
    } finally {
      $("gaps-panel").setAttribute("aria-busy", "false");
    }
  }

  async function load() {
    const params = new URLSearchParams({ period: $("period").value });
    if ($("since").value) params.set("since", $("since").value);
    if ($("until").value) params.set("until", $("until").value);
    $("dash-error").hidden = true;
    $("dash-status").textContent = "Loading…";
    $("apply").disabled = true;
    try {
      const m = await api("/v1/metrics?" + params.toString());
      renderCards(m);
      renderFlags(m);
      renderCharts(m);
      $("dash-status").textContent = `Updated ${new Date().toLocaleTimeString()}: ${m.total} request${m.total === 1 ? "" : "s"}.`;
    } catch (error) {
      $("dash-status").textContent = "";
      $("dash-error").textContent = "Could not load the metrics: " + describe(error);
      $("dash-error").hidden = false;
    }
    // After the metrics, not beside them: one API-key prompt at most, and the slower
    // clustering never holds up the cards and charts.
    params.delete("period");
    try {
      await loadGaps(params);
    } finally {
      $("apply").disabled = false;
    }
  }

  $("filters").addEventListener("submit", (event) => { event.preventDefault(); load(); });
  load();
})();
