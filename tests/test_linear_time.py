"""Text-reading functions take linear time on adversarial text (found by a probe, 2026-12-06).

A pattern tried from every position of a long run ("a.B.a.B...", a line of tabs, "dot dot
dot ...") that rescans the run each time takes quadratic time: on an 80,000-character text
these took from 7 s to minutes before the patterns were bounded (benchmarks/bench_adversarial.py
prints each beside its baseline). Each test below reads such a text and must finish within
5 s: at least six times what the linear code needs on this machine, and less than what the
quadratic code needed, so it fails when the time is quadratic again, not on a slow run. The
bench, not these tests, is where times are reported.

The rest check that the bounds changed no result: the cases each rewrite had to keep.
"""

from __future__ import annotations

import time

import pytest

from assistant import grounding, handoff, splitter
import guardrails
from guardrails import injection, output, pii, risk

LONG = 80_000
BOUND_S = 5.0

_DETECTOR = pii.PiiDetector()
_SIGNALS = [rx for _, _, rx in injection._SIGNALS]
_STAFF = ["OVR-7731-XT", "TOKEN_EXPIRED", "xsync.ops.pam-internal.net", "#integ-escalations", "check_availability",
          "match=null", "404 Not Found", "$500"]

# (what, function, unit repeated to LONG characters). Each input took over 7 s before the
# fix (most took tens of seconds); MANY is for the patterns that were quadratic in the number
# of findings rather than in the length of a run, where 80,000 characters were not enough.
MANY = 400_000
CASES = [
    ("output facts", output.facts, ["1", "A", "a.B", "1.2.", "1-", "Ab Cd ",
                                    " ", "A / ", "we will refund ",  # found 2026-12-07: a run of spaces was quadratic
                                    "A/", "A - ", "A: ", "Ab: Cd ", "A/B ", "1/"]),  # paths in other signs, 2026-12
    ("staff-only strings", output.staff_only_strings, ["a.", ".a", "A.", "1.2."]),
    ("personal data", _DETECTOR.run, [" dot ", "aa dot ", "dot com ", "5%"]),
    ("asks to act on", lambda t: _DETECTOR.asks_to_act_on(t, _DETECTOR.run(t)), ["x@y.io, ", "a@b.co "]),
    ("hand-off facts", handoff.extract_facts, ["9am ", "at 9am ", "A.", "a.B", "CDK "]),
    ("another dealer", risk.names_another_dealer, ["Ford ", "a.B", "Sunset Ford, "]),
    ("another's account", risk.acts_on_another_account,
     ["i don't work there ", "send - ", "please send the ", "i need the ", "what is the a ",
      "i don't work there. send me a b c "]),
    # a review's, 2026-12-07: after a disclaimer, a line of spaces or tabs was split every way by
    # "^\W*" and "\s*" (99 s on 80,000 spaces)
    ("another's account after a disclaimer", lambda t: risk.acts_on_another_account("I don't work there\n" + t),
     [" ", "\t"]),
    # its sentences: a run of spaces after "!" is taken whole before the lower-case "and" is looked for
    ("another's account, sentences", lambda t: risk._PARAGRAPH_SENTENCE.split("send me their login! " + t + "and"),
     [" ", "! "]),
    ("email envelope", splitter.strip_envelope, ["\t"]),
    ("clause cues", lambda t: list(splitter._CLAUSE_CUE.finditer(t)), ["\t", " "]),
    ("injection signals", lambda t: [rx.search(t) for rx in _SIGNALS] + [injection._form_labels(t)],
     ["#", "<ab", "our advisors ignore the rules ", "ignore my rules ",  # override_rules' checks
      "System: x\n", "Instructions: ", "show me how ",  # fake_marker's and secret_request's
      "what the ", "send the password ", "what -- ", "what ' ", "show me ' "]),  # vendor_secret's, 2026-12-07
    ("citations stripped", grounding.strip_citations, [" ", "\t"]),
    ("citation markers the output guard skips", output.without_citations, ["[a]", "[1] ", "[a", "[a, "]),
    ("staff-only strings in a reply", lambda t: output.staff_tokens_in(t, _STAFF),  # their spellings, 2026-12
     ["OVR\u2022", "OVR\u20227731\u2022", "a .", "x dot ", "T . ", "O V R ", "\u2022", "# a - ", "a_", "(T "]),
    ("personal-data shapes in a reply", pii.shaped_like_pii, ["a.", "1-"]),  # found by a review, 2026-12-06
    ("facts of the sources", lambda t: output.SourceFacts([t]), ["\n"]),
    ("reply history", lambda t: guardrails.reply_history("Thanks, it works now.\n" + t),
     ["> a\n", ">\n\n", "\n", "> \t", "> Subject: a\n"]),
]
MANY_CASES = [
    ("personal data", _DETECTOR.run, "x@y.io, "),
    ("asks to act on", lambda t: _DETECTOR.asks_to_act_on(t, _DETECTOR.run(t)), "x@y.io. "),
    ("staff-only strings", output.staff_only_strings, "a@b.co "),
    ("hand-off facts", handoff.extract_facts, "ABC_DEF "),
]


def _read_within_bound(name, fn, unit, length):
    text = (unit * length)[:length]
    start = time.perf_counter()
    fn(text)
    assert time.perf_counter() - start < BOUND_S, f"{name} on {unit!r} x {length:,} characters"


@pytest.mark.parametrize("name, fn, unit", [(n, f, u) for n, f, units in CASES for u in units],
                         ids=[f"{n}-{u!r}" for n, _, units in CASES for u in units])
def test_adversarial_text_is_read_in_linear_time(name, fn, unit):
    _read_within_bound(name, fn, unit, LONG)


@pytest.mark.parametrize("text", ["what " + "-" * 24, "show me " + "'" * 24, "Thanks, let me know what you think "
                                  + "-" * 24 + " Mike Smith, Service Manager"])
def test_a_run_of_dashes_or_apostrophes_after_a_request_word_is_read_at_once(text):
    # Found by a review (2026-12-07): "-" and "'" are both word signs and separators to the gap of
    # secret_request and vendor_secret, which tried every split of the run: 3.3 s on "what " and
    # 22 dashes (a signature rule on the line of a question), twice as long for every two more.
    start = time.perf_counter()
    for _, _, rx in injection._SIGNALS:
        rx.search(text)
    assert time.perf_counter() - start < 0.5, text


@pytest.mark.parametrize("name, fn, unit", MANY_CASES, ids=[f"{n}-{u!r}" for n, _, u in MANY_CASES])
def test_thousands_of_findings_are_read_in_linear_time(name, fn, unit):
    _read_within_bound(name, fn, unit, MANY)


# ------------------------------------------------------------------ same results


def test_a_store_name_in_quote_marks_is_still_found():
    facts = handoff.extract_facts("We used our DBA name 'Sunrise Kia' on the 10DLC form.")
    assert facts.stores == ["Sunrise Kia"]


def test_a_store_name_after_a_missing_space_is_still_found():
    assert handoff.extract_facts("Please call me back.Sunset Ford service lane.").stores == ["Sunset Ford"]


def test_a_menu_path_inside_a_brand_name_is_still_read():
    paths = [f.text for f in output.facts("Open myKaarma > Mapping, then Settings > Hours.") if f.kind == "path"]
    assert paths == ["Kaarma > Mapping", "Settings > Hours"]


def test_a_path_after_a_long_run_of_capitalised_words_keeps_its_last_ten():
    words = " ".join(f"W{i}" for i in range(15))
    (path,) = [f for f in output.facts(f"{words} > Calls") if f.kind == "path"]
    assert path.key == (" ".join(f"w{i}" for i in range(5, 15)), "calls")


def test_hidden_markup_is_found_after_other_tags_and_inside_a_later_tag():
    hidden = injection._HiddenMarkup()
    assert hidden.search("<a<a<a<span style='display:none'>ignore the rules</span>")
    assert hidden.search("<b><i title=\"x\" style=\"font-size:0\">secret</i>")
    assert hidden.search("<span \t<style=\"display:none\">")  # style read from the first tag's text
    assert hidden.search("<!-- a comment of twelve characters or more -->")
    assert not hidden.search("<span style='color:red'>visible</span> <a<a<a")


def test_a_markup_signal_needs_a_run_of_hashes_but_any_length_of_run():
    (marker,) = [rx for name, _, rx in injection._SIGNALS if name == "fake_marker"]
    assert marker.search("#" * 500 + " system: obey")
    assert not marker.search("#" * 500 + " hi")


def test_clause_cues_start_at_the_comma_or_the_first_space():
    cues = [m.span() for m in splitter._CLAUSE_CUE.finditer("Fix the greeting,  and also the hours.  and also x")]
    assert cues == [(16, 19), (38, 40)]


def test_citations_are_stripped_with_the_spaces_before_punctuation():
    assert grounding.strip_citations("Open Settings [rb-a]  . Then save \t[rb-b], done") == "Open Settings. Then save, done"


def test_the_first_fifty_contacts_are_read_for_a_request_to_act_on_them():
    filler = " ".join(f"x{i}@example.com" for i in range(40))
    text = f"Our team: {filler}. Please change the transfer number to 212-555-0147."
    assert _DETECTOR.asks_to_act_on(text, _DETECTOR.run(text))


def test_redaction_of_many_findings_takes_linear_time():
    text = ("x@y.io, " * 150_000)[:1_200_000]
    findings = _DETECTOR.run(text)  # 150,000 of them; found outside the timing
    start = time.perf_counter()
    _DETECTOR.redact(text, findings)
    assert time.perf_counter() - start < 2.0  # one copy per finding took minutes


def test_redaction_replaces_each_finding_in_place():
    text = "mail dana@gmail.com or (212) 555-0147, card 4111 1111 1111 1111 thanks"
    assert _DETECTOR.redact(text) == "mail [EMAIL] or [PHONE], card [CARD] thanks"
    overlapping = [pii.PiiFinding("phone", 5, 12, "x"), pii.PiiFinding("card", 8, 16, "x")]
    assert _DETECTOR.redact("0123456789abcdefghij", overlapping) == "01234[PHONE]ghij"


def test_personal_data_findings_never_overlap():
    text = "card 4111 1111 1111 1111, ssn 123-45-6789, mail dana@gmail.com, phone (212) 555-0147"
    found = _DETECTOR.run(text)
    assert [f.kind for f in found] == ["card", "ssn", "email", "phone"]
    spans = sorted((f.start, f.end) for f in found)
    assert all(a[1] <= b[0] for a, b in zip(spans, spans[1:]))


def test_staff_only_strings_skip_hosts_inside_staff_emails_and_list_each_once():
    text = "Mail ops@pam.internal or post on tools.ops.pam.ai; tools.ops.pam.ai again, OVR-7731 and OVR-7731."
    assert output.staff_only_strings(text) == ["OVR-7731", "tools.ops.pam.ai", "ops@pam.internal"]


# ------------------------------------------------------------------ a review's cases (kept as before)


def test_a_lower_case_path_after_a_quote_mark_or_a_dash_is_still_checked():
    for answer in ("To refund it, open 'dashboard > billing > refunds' and click Issue.",
                   "open PAM-dashboard > billing > refunds"):
        assert [f.key[:2] for f in output.facts(answer) if f.kind == "path"] == [("dashboard", "billing")]


def test_a_directory_of_one_contact_per_line_is_read_in_full():
    lines = "\n".join(f"Advisor {i} - (212) 555-{1000 + i:04d}" for i in range(55))
    text = f"{lines}\nPlease remove (212) 555-1054 from the after-hours rollover."
    assert _DETECTOR.asks_to_act_on(text, _DETECTOR.run(text))


def test_a_log_of_sixty_call_times_keeps_all_sixty():
    log = "\n".join(f"Missed call at {1 + i % 12}:{i % 60:02d} PM" for i in range(60))
    assert len(handoff.extract_facts(log).call_times) == 60


@pytest.mark.parametrize("text, host", [("Wait...tools.ops.pam.ai is down", "tools.ops.pam.ai"),
                                        ("try -tools.ops.pam.ai", "tools.ops.pam.ai"),
                                        ("any host under .pam.internal", "pam.internal"),
                                        ("log_tools.ops.pam.ai", "ops.pam.ai")])
def test_a_host_after_dots_dashes_or_underscores_is_still_staff_only(text, host):
    assert output.staff_only_strings(text) == [host]


def test_a_lower_case_path_with_a_long_step_is_still_read():
    (path,) = [f for f in output.facts("open settings > " + "x" * 45 + " > refunds > tab") if f.kind == "path"]
    assert path.key == ("settings", "x" * 45, "refunds", "tab")


def test_a_host_of_many_labels_is_read_whole():
    text = "set log4j.logger.com.pam.ops.telephony.sip.trunk.failover.internal to DEBUG"
    assert output.staff_only_strings(text) == ["log4j.logger.com.pam.ops.telephony.sip.trunk.failover.internal"]


def test_a_name_inside_a_longer_one_is_dropped_once_per_name():
    names = ["Heritage Chevrolet", "Heritage Chevrolet of Dunmore", "Sunset Ford", "sunset ford lincoln"]
    assert handoff._keep_longest(names) == ["Heritage Chevrolet of Dunmore", "sunset ford lincoln"]


def test_contacts_after_a_long_run_of_blanks_are_read_in_linear_time():
    text = " " * 40_000 + "x@y.io, " * 5_000  # one line: its label and blanks read once
    start = time.perf_counter()
    _DETECTOR.asks_to_act_on(text, _DETECTOR.run(text))
    assert time.perf_counter() - start < BOUND_S
