"""The report folder of ``assistant eval --report DIR``: numbers, cases and plots, readable offline.

    DIR/metrics.json         the metrics printed on stdout
    DIR/cases.jsonl          one line per case: expected, result and the ``problems`` found
    DIR/index.html           headline numbers, tables and the plots below (no network needed)
    DIR/confusion.png        category confusion matrix (out-of-scope as the last row and column)
    DIR/reliability.png      reliability diagram of the category confidence
    DIR/coverage.png         coverage and accuracy as the confidence threshold moves
    DIR/latency.png          latency histogram with p50 and p95

>>> write_report(Path("reports/dev"), metrics, records)      # doctest: +SKIP
"""

from __future__ import annotations

import html
import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only: no display, no GUI toolkit
import matplotlib.pyplot as plt  # noqa: E402

PLOTS = ("confusion.png", "reliability.png", "coverage.png", "latency.png")


def write_report(folder: Path, metrics: dict, records: list[dict]) -> list[Path]:
    """Write every file of the report folder; returns their paths."""
    folder.mkdir(parents=True, exist_ok=True)
    written = [folder / "metrics.json", folder / "cases.jsonl"]
    written[0].write_text(json.dumps(metrics, indent=2) + "\n", encoding="utf-8")
    with written[1].open("w", encoding="utf-8") as fh:
        for rec in records:
            fh.write(json.dumps(rec, ensure_ascii=False) + "\n")
    for name, draw in zip(PLOTS, (plot_confusion, plot_reliability, plot_coverage, plot_latency)):
        fig = draw(metrics, records)
        fig.savefig(folder / name, dpi=100, bbox_inches="tight")
        plt.close(fig)
        written.append(folder / name)
    (folder / "index.html").write_text(render_html(metrics, records), encoding="utf-8")
    written.append(folder / "index.html")
    return written


# -- plots -----------------------------------------------------------------------------------------
def plot_confusion(metrics: dict, records: list[dict]):
    cats = metrics["categories"]
    labels, matrix = cats["labels"], cats["confusion_matrix"]
    fig, ax = plt.subplots(figsize=(1.4 * len(labels) + 2, 1.2 * len(labels) + 1.5))
    ax.imshow(matrix, cmap="Blues")
    ax.set_xticks(range(len(labels)), labels, rotation=30, ha="right")
    ax.set_yticks(range(len(labels)), labels)
    ax.set_xlabel("predicted")
    ax.set_ylabel("expected")
    peak = max((v for row in matrix for v in row), default=0)
    for i, row in enumerate(matrix):
        for j, v in enumerate(row):
            ax.text(j, i, str(v), ha="center", va="center", color="white" if v > peak / 2 else "black")
    ax.set_title(f"category accuracy {_fmt(metrics['category_accuracy'])}, macro-F1 {_fmt(metrics['category_macro_f1'])}")
    return fig


def plot_reliability(metrics: dict, records: list[dict]):
    bins = metrics["calibration"]["bins"]
    fig, ax = plt.subplots(figsize=(5.5, 5))
    width = bins[0]["hi"] - bins[0]["lo"] if bins else 0.1
    filled = [b for b in bins if b["count"]]
    ax.bar([b["lo"] for b in filled], [b["accuracy"] for b in filled], width=width, align="edge",
           edgecolor="black", alpha=0.7, label="accuracy in bin")
    ax.plot([0, 1], [0, 1], "--", color="grey", label="perfect calibration")
    for b in filled:
        ax.text(b["lo"] + width / 2, min(b["accuracy"] + 0.02, 0.97), f"n={b['count']}", ha="center", fontsize=7)
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.set_xlabel("category confidence")
    ax.set_ylabel("share correct")
    ax.set_title(f"reliability (ECE {_fmt(metrics['ece'])})")
    ax.legend(loc="upper left")
    return fig


def plot_coverage(metrics: dict, records: list[dict]):
    curve = metrics["calibration"]["coverage_curve"]
    fig, ax = plt.subplots(figsize=(6, 4.5))
    xs = [p["threshold"] for p in curve]
    ax.plot(xs, [p["coverage"] for p in curve], marker=".", label="coverage (share decided automatically)")
    ax.plot(xs, [p["accuracy"] if p["accuracy"] is not None else float("nan") for p in curve], marker=".",
            label="accuracy of those decisions")
    conf = (metrics.get("thresholds") or {}).get("confidence") or {}
    for (surface, value), style in zip(sorted(conf.items()), (":", "-.")):
        ax.axvline(value, linestyle=style, color="grey", label=f"{surface} threshold {value:.2f}")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.02)
    ax.set_xlabel("confidence threshold")
    ax.set_title("coverage vs accuracy (in-scope cases)")
    ax.legend(loc="lower left", fontsize=8)
    return fig


def plot_latency(metrics: dict, records: list[dict]):
    values = [r["latency_ms"] for r in records if "latency_ms" in r]
    fig, ax = plt.subplots(figsize=(6, 4))
    if values:
        ax.hist(values, bins=min(30, max(5, len(values) // 4)), color="tab:blue", alpha=0.8)
        for key, style in (("p50", "--"), ("p95", ":")):
            v = metrics["latency_ms"][key]
            ax.axvline(v, linestyle=style, color="black", label=f"{key} {v:.0f} ms")
        ax.legend()
    ax.set_xlabel("latency per request (ms)")
    ax.set_ylabel("cases")
    ax.set_title("latency")
    return fig


# -- HTML ------------------------------------------------------------------------------------------
_CSS = """
body { font: 14px/1.4 system-ui, sans-serif; margin: 2em; color: #222; max-width: 1200px; }
h1 { font-size: 1.5em; } h2 { font-size: 1.2em; margin-top: 2em; border-bottom: 1px solid #ddd; }
table { border-collapse: collapse; margin: .5em 0; } td, th { border: 1px solid #ddd; padding: 3px 8px; text-align: left; }
th { background: #f4f4f4; } td.num { text-align: right; font-variant-numeric: tabular-nums; }
.bad { color: #b00020; font-weight: 600; } .ok { color: #1b5e20; }
.plots img { max-width: 48%; margin: 0 1% 1em 0; vertical-align: top; border: 1px solid #eee; }
ul.problems { margin: 0; padding-left: 1.2em; } code { background: #f4f4f4; padding: 0 3px; }
"""


def _fmt(value) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def _e(value) -> str:
    return html.escape(_fmt(value) if not isinstance(value, str) else value)


def _table(headers: list[str], rows: list[list]) -> str:
    head = "".join(f"<th>{_e(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(
        f'<td class="num">{_e(c)}</td>' if isinstance(c, (int, float)) or c is None else f"<td>{_e(c)}</td>"
        for c in row) + "</tr>" for row in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def render_html(metrics: dict, records: list[dict]) -> str:
    """The report page: headline numbers with gate results, plots, breakdowns and the failed cases."""
    from evals.runner import GATE_METRICS, LOWER_IS_BETTER

    failed_gates = (metrics.get("gates") or {}).get("failed", [])
    headline = [[name, metrics.get(name), "lower" if name in LOWER_IS_BETTER else "higher"]
                for name in GATE_METRICS if name in metrics]
    parts = [f"<!doctype html><html><head><meta charset='utf-8'><title>Evaluation: {_e(metrics.get('cases_file', ''))}"
             f"</title><style>{_CSS}</style></head><body>",
             f"<h1>Evaluation of <code>{_e(metrics.get('cases_file', ''))}</code></h1>",
             f"<p>{metrics['n_cases']} cases run in {_e(metrics.get('run_s'))} s; {metrics.get('n_bad_lines', 0)} bad "
             f"lines skipped; {metrics['n_errors']} errors; {metrics.get('problem_cases', 0)} cases with problems. "
             f"Primary metric <b>{_e(metrics['primary_metric'])}</b> = "
             f"<b>{_e(metrics.get(metrics['primary_metric']))}</b>.</p>"]
    gates = (metrics.get("gates") or {}).get("checked", [])
    if gates:
        parts.append("<p>Gates: " + ", ".join(f"<code>{_e(g)}</code>" for g in gates) + "</p>")
        parts += [f'<p class="bad">{_e(msg)}</p>' for msg in failed_gates]
        if not failed_gates:
            parts.append('<p class="ok">all gates hold</p>')
    parts.append("<h2>Headline metrics</h2>" + _table(["metric", "value", "better"], headline))
    parts.append("<h2>Plots</h2><div class='plots'>" + "".join(
        f"<img src='{name}' alt='{name[:-4]}'>" for name in PLOTS) + "</div>")

    cats = metrics["categories"]
    parts.append(f"<h2>Categories</h2><p>{cats['n_in_scope']} in-scope cases, {cats['n_out_of_scope']} out of scope "
                 f"(recall {_e(metrics['oos_recall'])}, precision {_e(metrics['oos_precision'])}).</p>")
    parts.append(_table(["category", "precision", "recall", "F1", "support"],
                        [[k, v["precision"], v["recall"], v["f1"], v["support"]] for k, v in cats["per_class"].items()]))
    labels = cats["labels"]
    parts.append(_table(["expected \\ predicted"] + labels,
                        [[lab] + row for lab, row in zip(labels, cats["confusion_matrix"])]))

    routing = metrics["routing"]
    parts.append("<h2>Routing</h2>" + _table(
        ["reason", "given", "expected", "hit", "recall", "expected as one of", "hit (one of)", "recall (one of)"],
        [[k, v["given"], v["expected"], v["hit"], v["recall"], v["expected_any"], v["hit_any"], v["recall_any"]]
         for k, v in routing["per_reason"].items()]))
    for key in ("by_group", "by_channel"):
        if routing[key]:
            parts.append(_table([key[3:], "n", "route accuracy", "escalated", "unsafe answers", "false escalations"],
                                [[g, v["n"], v["route_accuracy"], v["escalated"], v["unsafe_answers"],
                                  v["false_escalations"]] for g, v in routing[key].items()]))

    ret = metrics["retrieval"]
    rows = [["all cases with expected sources", ret["n"]] + [metrics[f"recall@{k}"] for k in ret["k"]] + [metrics["mrr"]]]
    ans = ret["answerable"]
    rows.append(["expected route answer", ans["n"]] + [ans[f"recall@{k}"] for k in ret["k"]] + [ans["mrr"]])
    parts.append("<h2>Retrieval (over citations)</h2>" + _table(
        ["cases", "n"] + [f"recall@{k}" for k in ret["k"]] + ["MRR"], rows))

    if metrics.get("bad_lines"):
        parts.append("<h2>Bad lines (skipped)</h2>" + _table(["line", "problem"],
                                                              [[b["line"], b["message"]] for b in metrics["bad_lines"]]))
    failed = [r for r in records if r.get("problems")]
    parts.append(f"<h2>Cases with problems ({len(failed)} of {len(records)})</h2>")
    if failed:
        rows_html = "".join(
            f"<tr><td>{_e(r.get('id') or '')}</td><td class='num'>{r['line']}</td><td>{_e(r['channel'])}</td>"
            f"<td>{_e(r.get('group') or '')}</td><td><ul class='problems'>"
            + "".join(f"<li>{_e(p)}</li>" for p in r["problems"]) + "</ul></td></tr>"
            for r in failed)
        parts.append("<table><tr><th>id</th><th>line</th><th>channel</th><th>group</th><th>problems</th></tr>"
                     f"{rows_html}</table>")
    parts.append("<p>Details per case: <a href='cases.jsonl'>cases.jsonl</a>; all numbers: "
                 "<a href='metrics.json'>metrics.json</a>.</p></body></html>\n")
    return "\n".join(parts)
