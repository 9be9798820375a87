"""``assistant gaps --index DIR --json`` on the tiny KB, its SQLite log holding tests/fixtures/gaps_log.jsonl."""

from __future__ import annotations

import json

import pytest

from assistant.cli import main
from tests.kb_factory import make_kb
from tests.test_api_gaps import ROWS, seed, topics

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def index_dir(tmp_path_factory):
    from assistant.config import load_settings
    from assistant.decision_log import DecisionLog

    root = tmp_path_factory.mktemp("gaps-cli")
    kb = make_kb(root / "kb")
    index = root / "index"
    assert main(["ingest", str(kb), "--index", str(index), "--quiet"]) == 0
    with DecisionLog.from_settings(load_settings(index=str(index)), index) as dlog:
        seed(dlog)
    return index


def run_gaps(capsys, *args) -> dict:
    capsys.readouterr()
    assert main(["gaps", *args]) == 0
    out = capsys.readouterr().out
    return json.loads(out)


def test_gaps_json_lists_the_known_clusters(index_dir, capsys):
    report = run_gaps(capsys, "--index", str(index_dir), "--json")
    assert [(c["size"], topics(c), c["flagged"]) for c in report["clusters"]] == [
        (6, {"A"}, True), (4, {"B"}, True), (2, {"C"}, False)]
    assert report["runbooks_to_write"] == 2
    tiny_kb = {"rb-xtime-sync", "rb-holiday-hours", "rb-looping", "rb-internal-resync"}
    assert all(c["nearest_runbook"] in tiny_kb and 0.0 < c["nearest_score"] <= 1.0 for c in report["clusters"])
    assert [w["period"] for w in report["top_issues"]] == ["2026-W10", "2026-W11"]
    assert sum(w["total"] for w in report["top_issues"]) == len(ROWS)


def test_gaps_since_and_until(index_dir, capsys):
    late = run_gaps(capsys, "--index", str(index_dir), "--json", "--since", "2026-03-09")
    assert [w["period"] for w in late["top_issues"]] == ["2026-W11"]
    before = run_gaps(capsys, "--index", str(index_dir), "--json", "--until", "2026-02-28")
    assert before == {"clusters": [], "runbooks_to_write": 0, "top_issues": []}


def test_gaps_on_a_missing_index_fails_with_a_message(tmp_path, capsys):
    code = main(["gaps", "--index", str(tmp_path / "nothing-here"), "--json"])
    assert code != 0
    assert "error:" in capsys.readouterr().err


def test_gaps_on_a_terminal_prints_clusters_and_top_issues_per_week(index_dir, capsys, monkeypatch):
    monkeypatch.setattr("sys.stdout.isatty", lambda: True)
    capsys.readouterr()
    assert main(["gaps", "--index", str(index_dir)]) == 0
    out = capsys.readouterr().out
    assert "runbooks to write" in out and "Top issues per week" in out
    assert "2026-W10" in out and "2026-W11" in out
