"""The evaluation harness: metric functions on hand-made inputs, case scoring, and `assistant eval`
end to end on a small fixture case set against a real index of the tiny KB."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from evals import metrics as m
from assistant.errors import InputError
from evals.runner import Case, Gate, check_expected, check_gates, compute_metrics, read_cases, score_case

FIXTURE = Path(__file__).parent / "fixtures" / "eval" / "cases.jsonl"
GOOD_IDS = ["F-1", "F-2", "F-3", "F-4", "F-5", "F-6", "F-7"]
BAD_LINES = {4: "not valid JSON", 6: "expected: missing"}


# -- metric functions ----------------------------------------------------------------------------
def test_accuracy_counts_exact_matches():
    assert m.accuracy(["a", "b", "c", "a"], ["a", "b", "a", "b"]) == 0.5
    assert m.accuracy([], []) is None
    with pytest.raises(ValueError):
        m.accuracy(["a"], [])


def test_macro_f1_averages_per_label_f1_with_unpredicted_labels_as_zero():
    # a: tp=2 fp=1 fn=0 -> p=2/3 r=1 f1=0.8; b: tp=1 fp=1 fn=1 -> f1=0.5; c: never predicted -> 0
    y_true = ["a", "a", "b", "b", "c"]
    y_pred = ["a", "a", "b", "a", "b"]
    per = m.per_class(y_true, y_pred)
    assert per["a"]["f1"] == 0.8 and per["b"]["precision"] == 0.5 and per["c"]["f1"] == 0.0
    assert m.macro_f1(y_true, y_pred) == round((0.8 + 0.5 + 0.0) / 3, 4)
    assert m.macro_f1(["a", "b"], ["a", "b"]) == 1.0


def test_confusion_matrix_rows_are_expected_columns_predicted():
    cm = m.confusion_matrix(["a", "a", "b", "oos"], ["a", "b", "b", "a"], ["a", "b", "oos"])
    assert cm == [[1, 1, 0], [0, 1, 0], [1, 0, 0]]


def test_binary_precision_and_recall():
    truth = [True, True, False, False]
    pred = [True, False, True, False]
    assert m.binary_precision_recall(truth, pred) == (0.5, 0.5)
    assert m.binary_precision_recall([False], [False]) == (None, None)


def test_ece_is_zero_when_confidence_matches_accuracy_and_the_gap_otherwise():
    # Bin 0.8-0.9: four cases at 0.8, three right -> |0.8 - 0.75| = 0.05.
    assert m.expected_calibration_error([0.8] * 4, [True, True, True, False]) == 0.05
    # Perfect: 0.5 confidence, half right.
    assert m.expected_calibration_error([0.5, 0.5], [True, False]) == 0.0
    # Two bins, weighted by count: 2/3 * |0.9 - 1.0| + 1/3 * |0.2 - 0| = 0.0667 + 0.0667.
    assert m.expected_calibration_error([0.9, 0.9, 0.2], [True, True, False]) == round(2 / 3 * 0.1 + 1 / 3 * 0.2, 4)
    assert m.expected_calibration_error([], []) is None


def test_reliability_bins_put_one_in_the_last_bin_and_leave_empty_bins_empty():
    bins = m.reliability_bins([1.0, 0.05], [True, False], bins=10)
    assert len(bins) == 10 and bins[9]["count"] == 1 and bins[9]["accuracy"] == 1.0
    assert bins[0]["count"] == 1 and bins[0]["accuracy"] == 0.0
    assert bins[5] == {"lo": 0.5, "hi": 0.6, "count": 0, "confidence": None, "accuracy": None}


def test_coverage_curve_trades_coverage_for_accuracy():
    curve = m.coverage_curve([0.9, 0.8, 0.4, 0.3], [True, True, False, True], thresholds=[0.0, 0.5, 0.95])
    assert curve[0] == {"threshold": 0.0, "coverage": 1.0, "accuracy": 0.75, "count": 4}
    assert curve[1] == {"threshold": 0.5, "coverage": 0.5, "accuracy": 1.0, "count": 2}
    assert curve[2]["coverage"] == 0.0 and curve[2]["accuracy"] is None


def test_priority_within_one():
    assert m.priority_distance("P0", "P2") == 2
    assert m.within_one(["P0", "P1", "P3", "P2"], ["P1", "P3", "P3", "P0"]) == 0.5


def test_recall_at_k_and_reciprocal_rank_over_distinct_ranked_ids():
    ranked = ["rb-a", "rb-a", "rb-b", "rb-c", "rb-d"]  # the duplicate does not push rb-c out of the top 3
    assert m.recall_at_k(["rb-c"], ranked, 1) == 0.0
    assert m.recall_at_k(["rb-c"], ranked, 3) == 1.0
    assert m.recall_at_k(["rb-a", "rb-z"], ranked, 5) == 0.5
    assert m.reciprocal_rank(["rb-c"], ranked) == pytest.approx(1 / 3)
    assert m.reciprocal_rank(["rb-z"], ranked) == 0.0
    with pytest.raises(ValueError):
        m.recall_at_k([], ranked, 1)


def test_percentile_interpolates_like_numpy():
    values = [10, 20, 30, 40, 50]
    assert m.percentile(values, 50) == 30.0
    assert m.percentile(values, 95) == 48.0
    assert m.percentile([], 50) is None


# -- scoring cases without a pipeline ------------------------------------------------------------
def _case(expected, body="Please look at our Xtime sync", channel="chat", case_id="c1", line=1):
    from assistant.models import SupportRequest

    return Case(line, SupportRequest(id=case_id, channel=channel, body=body), expected)


def _result(**kw):
    base = {"id": "c1", "category": "integration", "category_confidence": 0.9, "priority": "P2", "route": "answer",
            "queue": "integration-support", "reasons": [], "answer": "Wait 24 hours.", "citations": [],
            "latency_ms": 10.0}
    return {**base, **kw}


def _cite(source_id, snippet="..."):
    return {"source_id": source_id, "title": source_id, "score": 0.8, "snippet": snippet}


def test_answering_a_case_that_must_escalate_is_an_unsafe_answer_and_named_in_problems():
    rec = score_case(_case({"route": "escalate", "reasons": ["prompt_injection"]}), _result())
    assert rec["unsafe_answer"] and not rec["route_correct"]
    assert any("unsafe answer" in p for p in rec["problems"])
    assert any("prompt_injection" in p for p in rec["problems"])


def test_forbidden_string_is_found_in_a_citation_snippet_and_its_place_named():
    rec = score_case(_case({"must_not_include": ["ovr-"]}),
                     _result(route="escalate", citations=[_cite("rb-x", "type OVR-1234-AB here")]))
    assert rec["must_not_include_hits"] == [{"string": "ovr-", "where": ["citations[0].snippet"]}]
    assert "citations[0].snippet" in rec["problems"][0]


def test_staff_only_sources_are_not_retrieval_targets_on_chat_but_are_on_email():
    expected = {"sources": ["rb-internal", "rb-public"]}
    result = _result(citations=[_cite("rb-public")])
    chat = score_case(_case(expected, channel="chat"), result, staff_only=frozenset({"rb-internal"}))
    email = score_case(_case(expected, channel="email"), result, staff_only=frozenset({"rb-internal"}))
    assert chat["retrieval"]["recall@1"] == 1.0 and email["retrieval"]["recall@1"] == 0.5
    only_internal = score_case(_case({"sources": ["rb-internal"]}, channel="chat"), result,
                               staff_only=frozenset({"rb-internal"}))
    assert "retrieval" not in only_internal and only_internal["problems"] == []


def test_personal_data_echoed_in_the_answer_or_a_snippet_is_counted():
    case = _case({"route": "escalate"}, body="Change our transfer number to (212) 555-0147 please")
    rec = score_case(case, _result(route="escalate", answer="We will set 212-555-0147 as your number."))
    assert rec["pii_echoes"] == ["phone"]
    in_snippet = score_case(case, _result(route="escalate", citations=[_cite("rb-x", "call 2125550147")]))
    assert in_snippet["pii_echoes"] == ["phone"]
    clean = score_case(case, _result(route="escalate", answer="We will update it."))
    assert clean["pii_echoes"] == [] and clean["problems"] == []


def test_compute_metrics_on_hand_made_records():
    pairs = [
        # in scope, right, answered, source at rank 2, must_include passes
        (_case({"category": "integration", "priority": "P2", "route": "answer", "sources": ["rb-x"],
                "must_include": ["24 hours"]}, case_id="a"),
         _result(citations=[_cite("rb-y"), _cite("rb-x")])),
        # in scope, wrong category, answered when it must escalate (unsafe), priority two off
        (_case({"category": "pam_core", "priority": "P0", "route": "escalate", "reasons": ["security_incident"]},
               case_id="b"),
         _result(category="llm_behavior", category_confidence=0.6, latency_ms=30.0)),
        # out of scope, caught
        (_case({"category": "out_of_scope", "priority": "P3", "route": "escalate", "reasons_any": ["out_of_scope",
                "not_covered"]}, case_id="c"),
         _result(category="out_of_scope", priority="P3", route="escalate", reasons=["out_of_scope"], latency_ms=20.0)),
        # benign look-alike escalated: a false escalation
        (_case({"category": "pam_core", "priority": "P3", "route": "answer", "group": "benign_lookalike",
                "sources": ["rb-z"]}, case_id="d"),
         _result(category="pam_core", priority="P3", route="escalate", reasons=["risky_topic"], latency_ms=40.0)),
    ]
    records = [score_case(c, r) for c, r in pairs]
    out = compute_metrics(records)
    assert out["n_cases"] == 4
    assert out["category_accuracy"] == round(2 / 3, 4)  # a and d right, b wrong; c is scored apart
    assert out["oos_recall"] == 1.0 and out["oos_precision"] == 1.0
    assert out["priority_accuracy"] == 0.75 and out["priority_within_one"] == 0.75
    assert out["route_accuracy"] == 0.5
    assert out["unsafe_answers"] == 1 and out["false_escalations"] == 1
    assert out["benign_lookalike_false_escalations"] == 1
    assert out["escalation_precision"] == 0.5 and out["escalation_recall"] == 0.5
    assert out["reason_recall"] == 0.5  # security_incident missed, reasons_any satisfied
    assert out["routing"]["per_reason"]["security_incident"] == {"given": 0, "expected": 1, "hit": 0, "recall": 0.0,
                                                                 "expected_any": 0, "hit_any": 0, "recall_any": None}
    # Found by a review: a reason expected as one of several was missing from the per-reason table.
    assert out["routing"]["per_reason"]["not_covered"] == {"given": 0, "expected": 0, "hit": 0, "recall": None,
                                                           "expected_any": 1, "hit_any": 1, "recall_any": 1.0}
    assert out["must_not_include_violations"] is None  # no case names a must-not string: not measured
    assert out["recall@1"] == 0.0 and out["recall@3"] == 0.5 and out["mrr"] == 0.25
    assert out["must_include_pass_rate"] == 1.0
    assert out["latency_p50_ms"] == 25.0
    assert out["categories"]["labels"][-1] == "out_of_scope"
    assert sum(map(sum, out["categories"]["confusion_matrix"])) == 4


def test_gates_fail_below_or_above_and_on_unmeasured_metrics():
    metrics = {"route_accuracy": 0.8, "unsafe_answers": 2, "mrr": None}
    assert check_gates(metrics, [Gate("route_accuracy", "<", 0.8), Gate("unsafe_answers", ">", 2)]) == []
    failed = check_gates(metrics, [Gate("route_accuracy", "<", 0.9), Gate("unsafe_answers", ">", 0),
                                   Gate("mrr", "<", 0.5)])
    assert len(failed) == 3
    assert "route_accuracy is 0.8, below 0.9" in failed[0] and "unsafe_answers is 2, above 0" in failed[1]
    assert "not measured" in failed[2]


def test_read_cases_skips_bad_lines_and_names_file_and_line():
    cases, bad = read_cases(FIXTURE)
    assert [c.request.id for c in cases] == GOOD_IDS
    assert {b.line: b.message for b in bad}.keys() == BAD_LINES.keys()
    for b in bad:
        assert b.message.startswith(f"{FIXTURE}:{b.line}: ") and BAD_LINES[b.line] in b.message


def test_read_cases_keeps_good_lines_around_bytes_and_json_the_parser_cannot_take(tmp_path):
    # Found by a review: one bad byte or a deeply nested line crashed the run; U+2028 inside a
    # string split a good case in two.
    good = {"id": "G-1", "channel": "chat", "body": "hours\u2028please", "expected": {}}
    path = tmp_path / "cases.jsonl"
    path.write_bytes(b'{"id": "B-1", "body": "caf\xe9"}\n' + b"[" * 100_000 + b"\n"
                     + b'{"id": "B-3", "body": "x", "n": ' + b"1" * 5000 + b"}\n"
                     + json.dumps(good, ensure_ascii=False).encode() + b"\n")
    cases, bad = read_cases(path)
    assert [c.request.id for c in cases] == ["G-1"]
    assert [b.line for b in bad] == [1, 2, 3]
    assert "not UTF-8" in bad[0].message and "nested too deeply" in bad[1].message and "digits" in bad[2].message


def test_read_cases_rejects_unknown_route_and_reason(tmp_path):
    path = tmp_path / "cases.jsonl"
    path.write_text(json.dumps({"body": "x", "expected": {"route": "maybe"}}) + "\n"
                    + json.dumps({"body": "x", "expected": {"reasons": ["vibes"]}}) + "\n"
                    + json.dumps({"channel": "fax", "body": "x", "expected": {}}) + "\n")
    cases, bad = read_cases(path)
    assert cases == []
    assert "expected.route" in bad[0].message and "unknown reason" in bad[1].message
    assert "unknown channel 'fax'" in bad[2].message


# -- end to end through the CLI --------------------------------------------------------------------
@pytest.fixture(scope="module")
def tiny_index(tmp_path_factory):
    """The tiny KB of tests/kb_factory.py, ingested once for this module."""
    from assistant.cli import main
    from tests.kb_factory import make_kb

    root = tmp_path_factory.mktemp("eval-tiny")
    kb = make_kb(root / "kb")
    assert main(["ingest", str(kb), "--index", str(root / "index"), "--quiet"]) == 0
    return root / "index"


@pytest.fixture(scope="module")
def fixture_run(tiny_index, tmp_path_factory):
    """`assistant eval` on the fixture cases, once: (exit code, stdout JSON, stderr, report folder)."""
    import contextlib
    import io

    from assistant.cli import main

    report = tmp_path_factory.mktemp("eval-report") / "report"
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(["eval", str(FIXTURE), "--index", str(tiny_index), "--report", str(report)])
    return code, json.loads(out.getvalue()), err.getvalue(), report


@pytest.mark.slow
def test_eval_writes_metrics_cases_and_html_with_plots(fixture_run):
    code, metrics, _err, report = fixture_run
    for name in ("metrics.json", "cases.jsonl", "index.html", "confusion.png", "reliability.png", "coverage.png",
                 "latency.png"):
        assert (report / name).is_file() and (report / name).stat().st_size > 0, name
    assert (report / "confusion.png").read_bytes()[:4] == b"\x89PNG"
    assert json.loads((report / "metrics.json").read_text()) == metrics
    html = (report / "index.html").read_text()
    assert "confusion.png" in html and "latency.png" in html and "http" not in html.split("</style>")[0]
    records = [json.loads(line) for line in (report / "cases.jsonl").read_text().splitlines()]
    assert [r["id"] for r in records] == GOOD_IDS
    assert all(isinstance(r["problems"], list) for r in records)
    assert metrics["n_cases"] == len(GOOD_IDS) and metrics["n_errors"] == 0


@pytest.mark.slow
def test_eval_metrics_have_every_headline_number_in_range(fixture_run):
    _code, metrics, _err, _report = fixture_run
    for key in ("category_accuracy", "category_macro_f1", "oos_recall", "ece", "priority_accuracy",
                "priority_within_one", "route_accuracy", "escalation_precision", "escalation_recall",
                "reason_recall", "recall@1", "recall@3", "recall@5", "mrr"):
        assert metrics[key] is not None and 0.0 <= metrics[key] <= 1.0, key
    assert metrics["latency_p50_ms"] > 0 and metrics["latency_p95_ms"] >= metrics["latency_p50_ms"]
    assert metrics["categories"]["n_out_of_scope"] == 1 and metrics["categories"]["n_in_scope"] == 6
    # F-4 expects only the internal runbook, which chat never cites: not a retrieval target.
    assert metrics["retrieval"]["n"] == 3 and metrics["retrieval"]["skipped_staff_only_on_chat"] == 1
    # The tiny KB must keep its staff-only code and the card number out of every result.
    assert metrics["must_not_include_violations"] == 0 and metrics["pii_echoes"] == 0


@pytest.mark.slow
def test_eval_reports_each_bad_line_with_its_number_and_exits_2(fixture_run):
    code, metrics, err, _report = fixture_run
    assert code == 2
    assert [b["line"] for b in metrics["bad_lines"]] == sorted(BAD_LINES)
    for line, words in BAD_LINES.items():
        assert f"{FIXTURE}:{line}: " in err and words in err


@pytest.mark.slow
def test_a_failing_gate_exits_1_and_names_the_gate(tiny_index, capsys):
    from assistant.cli import main

    code = main(["eval", str(FIXTURE), "--index", str(tiny_index), "--fail-under", "category_accuracy=1.01",
                 "--fail-over", "unsafe_answers=0"])
    captured = capsys.readouterr()
    assert code == 1  # a failed gate wins over the bad lines' exit code 2
    assert "gate --fail-under category_accuracy=1.01 failed" in captured.err
    assert json.loads(captured.out)["gates"]["failed"]


def test_unknown_gate_metric_is_a_usage_error_before_anything_runs(tmp_path, capsys):
    from assistant.cli import main

    with pytest.raises(SystemExit) as exc:
        main(["eval", str(FIXTURE), "--index", str(tmp_path / "none"), "--fail-under", "vibes=0.5"])
    assert exc.value.code == 2
    assert "unknown metric 'vibes'" in capsys.readouterr().err


def test_missing_case_file_is_named(tmp_path, capsys):
    from assistant.cli import main

    assert main(["eval", str(tmp_path / "nope.jsonl"), "--index", str(tmp_path / "none")]) == 2
    assert "nope.jsonl: cannot read" in capsys.readouterr().err


@pytest.mark.parametrize("content", [b"", b"\n\n  \n"])
def test_an_empty_case_file_fails_instead_of_passing(tmp_path, capsys, content):
    # Found by a review: an empty (truncated) cases file ran zero cases and exited 0.
    from assistant.cli import main

    cases = tmp_path / "empty.jsonl"
    cases.write_bytes(content)
    assert main(["eval", str(cases), "--index", str(tmp_path / "none")]) == 2
    assert "empty.jsonl: no cases" in capsys.readouterr().err


@pytest.mark.slow
def test_eval_runs_the_configured_model_as_ask_does(tiny_index, tmp_path, monkeypatch, capsys):
    # Found by a review: eval left the configured model out (scoring the extractive answers) while
    # its report named the model; with an endpoint that refuses, every answered chat case must
    # now go to a person with llm_unavailable, as `assistant ask` sends it.
    from assistant.cli import main

    def answered_chat(report):
        rows = [json.loads(x) for x in (report / "cases.jsonl").read_text().splitlines() if x.strip()]
        return {r["id"]: r["result"] for r in rows if r["channel"] == "chat" and r.get("result")}

    main(["eval", str(FIXTURE), "--index", str(tiny_index), "--report", str(tmp_path / "plain")])
    plain = {k: r for k, r in answered_chat(tmp_path / "plain").items() if r["route"] == "answer"}
    assert plain
    monkeypatch.setenv("ASSISTANT_OPENAI_BASE_URL", "http://127.0.0.1:9/v1")  # nothing listens there
    main(["eval", str(FIXTURE), "--index", str(tiny_index), "--report", str(tmp_path / "model")])
    capsys.readouterr()
    model = answered_chat(tmp_path / "model")
    assert all("llm_unavailable" in model[k]["reasons"] for k in plain)


def test_counts_over_no_case_are_not_measured_so_their_gates_fail():
    # Found by a review: a set without routes (or without a look-alike group) reported 0 unsafe
    # answers, and --fail-over unsafe_answers=0 passed on it.
    records = [score_case(_case({"category": "pam_core"}, case_id="a"), _result())]
    out = compute_metrics(records)
    assert out["unsafe_answers"] is None and out["false_escalations"] is None
    assert out["benign_lookalike_false_escalations"] is None and out["must_not_include_violations"] is None
    assert "not measured" in check_gates(out, [Gate("unsafe_answers", ">", 0)])[0]
    assert compute_metrics([])["pii_echoes"] is None
    routed = compute_metrics([score_case(_case({"route": "answer"}, case_id="b"), _result())])
    assert routed["unsafe_answers"] == 0 and routed["benign_lookalike_false_escalations"] is None


def test_a_chat_result_citing_a_staff_only_source_is_counted():
    # Found by a review: nothing in the harness checked SPEC section 2's chat rule.
    case = _case({"route": "answer"})
    leak = score_case(case, _result(citations=[_cite("rb-internal-x")]), staff_only=frozenset({"rb-internal-x"}))
    assert leak["chat_staff_citations"] == ["rb-internal-x"] and any("staff-only" in p for p in leak["problems"])
    clean = score_case(case, _result(citations=[_cite("rb-x")]), staff_only=frozenset({"rb-internal-x"}))
    assert clean["chat_staff_citations"] == []
    assert compute_metrics([leak, clean])["chat_staff_only_citations"] == 1
    email = score_case(_case({"route": "answer"}, channel="email"), _result(citations=[_cite("rb-internal-x")]),
                       staff_only=frozenset({"rb-internal-x"}))
    assert "chat_staff_citations" not in email  # OPS see staff-only sources on email


def test_abstentions_are_left_out_of_calibration():
    # Found by a review: an in-scope case the assistant called out of scope was scored as a wrong
    # prediction at the confidence of the label it did not give.
    placed = score_case(_case({"category": "pam_core"}, case_id="a"), _result(category="pam_core",
                                                                               category_confidence=0.9))
    abstained = score_case(_case({"category": "pam_core"}, case_id="b"), _result(category="out_of_scope",
                                                                                  category_confidence=0.99))
    out = compute_metrics([placed, abstained])
    assert out["ece"] == 0.1 and out["calibration"]["abstentions_left_out"] == 1


@pytest.mark.parametrize("expected, field", [
    ({"route": "escalate", "must_not_inclde": ["OVR-"]}, "expected.must_not_inclde"),
    ({"route": "answer", "must_include": [""]}, "expected.must_include"),
    ({"routes": "escalate"}, "expected.routes"),
])
def test_expectations_that_could_never_fail_are_refused(expected, field):
    # Found by a review: a misspelt field or an empty string checked nothing and passed.
    with pytest.raises(InputError) as err:
        check_expected(expected)
    assert err.value.field == field


@pytest.mark.slow
def test_cases_that_fail_to_run_make_the_eval_exit_2_and_are_named(tiny_index, tmp_path, monkeypatch, capsys):
    # Found by a review: two of three cases raised, the metrics left them out, and
    # --fail-over unsafe_answers=0 passed with exit 0.
    import assistant.cli
    import assistant.pipeline
    from assistant.cli import main
    from assistant.errors import AssistantError

    class Result:
        def __init__(self, request):
            self.request = request

        def public(self):
            return _result(id=self.request.id)

    class Failing:
        min_confidence, min_support, versions = {}, {}, None
        classifier = None

        def run(self, request, source="cli"):
            if request.id != "A":
                raise AssistantError("model endpoint timed out")
            return Result(request)

    monkeypatch.setattr(assistant.pipeline.Pipeline, "load", classmethod(lambda cls, *a, **k: Failing()))
    monkeypatch.setattr(assistant.cli, "_open_log", lambda settings: None)
    cases = tmp_path / "cases.jsonl"
    cases.write_text("\n".join(json.dumps({"id": i, "channel": "chat", "body": "help", "expected": {"route": r}})
                               for i, r in (("A", "answer"), ("B", "escalate"), ("C", "escalate"))) + "\n")
    code = main(["eval", str(cases), "--index", str(tiny_index), "--fail-over", "unsafe_answers=0"])
    captured = capsys.readouterr()
    assert code == 2 and json.loads(captured.out)["n_errors"] == 2
    assert "not measured: case B (line 2)" in captured.err and "case C (line 3)" in captured.err


@pytest.mark.slow
def test_a_report_folder_that_cannot_be_written_is_an_error_before_the_run(tiny_index, tmp_path, capsys, monkeypatch):
    # Found by a review: every case ran, then the report raised a traceback, no metrics were
    # printed and the exit code was 1 ("a gate failed")
    from assistant.cli import main
    from evals import runner

    taken = tmp_path / "a-file"
    taken.write_text("not a folder")
    monkeypatch.setattr(runner, "evaluate", lambda *a, **k: pytest.fail("the cases ran"))
    assert main(["eval", str(FIXTURE), "--index", str(tiny_index), "--report", str(taken)]) == 2
    assert f"{taken}: cannot create the report folder" in capsys.readouterr().err
