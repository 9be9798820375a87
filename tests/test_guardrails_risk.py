"""Risky-topic and security-incident detection with the real MiniLM."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from guardrails import DATA_DIR
from guardrails.risk import TOPICS, RiskDetector, kind_of, load_exemplars


@pytest.fixture(scope="module")
def detector(embedder):
    return RiskDetector(embedder)


@pytest.mark.parametrize(
    ("text", "kind", "topic"),
    [
        ("If the calls keep dropping we will sue you for the lost business.", "risky_topic", "legal_threat"),
        ("I'm filing a complaint with the attorney general about your company.", "risky_topic", "legal_threat"),
        ("You billed us twice in March. Refund it or I file a chargeback.", "risky_topic", "billing_dispute"),
        ("We want to cancel our contract, what's the early termination fee?", "risky_topic", "cancellation"),
        ("Someone logged into our account last night and changed the admin email.", "security_incident", "data_breach"),
        ("We got a phishing email pretending to be your billing team and two advisors typed their passwords.",
         "security_incident", "data_breach"),
        ("Is it legal for us to record calls without telling the caller in Florida?", "risky_topic",
         "professional_advice"),
        ("Show me the call recordings and leads of the Toyota dealer across the street.", "risky_topic",
         "other_dealer_data"),
    ],
)
def test_risky_requests_get_kind_and_topic(detector, text, kind, topic):
    result = detector.run(text)
    assert (result.kind, result.topic) == (kind, topic), result


def test_risk_inside_a_long_email_is_found(detector):
    email = (
        "Hello,\n\nThe greeting is fine now and the holiday hours look right. Saturday hours for service are "
        "8 to 2 and PAM says that correctly. One of our advisors asked about adding the parts desk to the "
        "transfer list, we will send the number separately.\n\nAlso, heads up: our customer list from PAM "
        "showed up on a spam site, so it looks like our data was leaked.\n\nThanks,\nRita"
    )
    result = detector.run(email)
    assert result.kind == "security_incident"


@pytest.mark.parametrize(
    "text",
    [
        "how do I see my billing minutes",
        "cancel the appointment PAM booked",
        "our lawyer's office number needs adding to the transfer list",
        "reset my password",
        "Where can I download last month's invoice?",
        "PAM keeps hanging up on callers, this is ridiculous.",
        "How do I remove a user who left the dealership?",
    ],
)
def test_benign_lookalikes_are_not_risky(detector, text):
    result = detector.run(text)
    assert (result.kind, result.topic) == (None, None), result


@pytest.mark.parametrize("text", [
    # Found on a fourth KB: MiniLM reads "Sue" as "sue" (legal_threat at 0.99 before)
    "Sue on our front desk is locked out after typing her password wrong. How does she get back in?",
    "Can you ask Sue to call me back?",
    "Sue's calls keep dropping, how do I fix it?",
    # found by a review of the first mend: a name where a sentence starts, with any verb after it
    "Sue wants access to the call reports.",
    "Sue, our manager, is locked out of the dashboard.",
    "The phones are down. Sue needs them back today.",
])
def test_a_colleague_called_sue_is_no_legal_threat(detector, text):
    assert detector.run(text).kind is None, detector.run(text)


@pytest.mark.parametrize("text", ["We will Sue if this is not fixed.", "Sue them, our owner says.",
                                  "our owner is going to sue over the missed calls",
                                  # found by a review: where a sentence or clause starts, the verb is as likely
                                  "Our options now: Sue, or cancel and move to a competitor.",
                                  "Sue PAM for every dollar we lost? That is what our owner wants."])
def test_sue_as_a_verb_is_still_a_legal_threat(detector, text):
    assert detector.run(text).topic == "legal_threat"


def test_names_as_names_reads_only_the_name_as_another():
    from guardrails.risk import names_as_names

    assert names_as_names("Ask Sue. We will Sue you. Sue them! Sue's desk") == "Ask Dana. We will Sue you. Sue them! Dana's desk"
    assert names_as_names("Suez and Susan") == "Suez and Susan"


def test_threshold_override(embedder):
    result = RiskDetector(embedder, threshold=2.0).run("We will sue you.")
    assert result.kind is None and result.score > 0
    with pytest.raises(ValueError):
        RiskDetector(embedder, threshold=5)


def test_kind_mapping_and_exemplar_groups():
    assert kind_of("data_breach") == "security_incident"
    assert kind_of("billing_dispute") == "risky_topic"
    assert kind_of(None) is None
    groups = load_exemplars()
    assert set(TOPICS) <= set(groups) and "benign" in groups
    exemplars = {" ".join(t.lower().split()) for texts in groups.values() for t in texts}
    for name in ("risk_heldout.jsonl", "risk_test.jsonl"):
        rows = [json.loads(line) for line in (DATA_DIR / name).read_text().splitlines() if line.strip()]
        assert {r["topic"] for r in rows} == set(TOPICS) | {None}
        assert not exemplars & {" ".join(r["text"].lower().split()) for r in rows}


def test_background_sentences_are_distinct_long_enough_and_spread_when_capped():
    from guardrails.risk import MIN_WORDS, background_sentences

    texts = ["Hi.\nOur Xtime appointments are missing since Monday. Thanks!",
             "Our Xtime appointments are missing since Monday.", "ok"]
    got = background_sentences(texts)
    assert got == ["Our Xtime appointments are missing since Monday."]
    assert all(len(s.split()) >= MIN_WORDS for s in got)
    many = [f"ticket number {i} says calls drop" for i in range(100)]
    capped = background_sentences(many, limit=10)
    assert len(capped) == 10 and capped[0] == many[0] and capped[-1] == many[90]


def test_a_kbs_ordinary_tickets_lower_false_alarms_and_keep_real_risks(embedder):
    # Ordinary billing-admin requests in this deployment's own words, as its past tickets would be.
    tickets = [
        "Please update the card on file for our monthly PAM invoice, the old one expired.",
        "Can you send the invoice for October to our controller instead of me?",
        "We need a W-9 for PAM before accounting can pay the November bill.",
        "Our new office manager should get the billing emails from now on.",
        "How do I change the payment card for the subscription?",
        "The invoice shows the wrong dealership address, please correct it.",
        "Where can I download our past invoices as PDF?",
        "Accounting asks whether we can pay by ACH instead of card.",
    ]
    plain = RiskDetector(embedder, threshold=0.0)
    local = RiskDetector(embedder, threshold=0.0, background=tickets)
    assert local.model is not plain.model
    ordinary = "Please switch the card we pay the PAM invoice with, ours expired last week."
    assert local.run(ordinary).score < plain.run(ordinary).score
    # a real dispute or threat is still found with the background in place
    for text in ("You charged us twice for March, refund it or we file a chargeback.",
                 "If this keeps happening our lawyers will be in touch."):
        assert RiskDetector(embedder, threshold=0.62, background=tickets).run(text).kind == "risky_topic"


def test_the_pipeline_gives_the_risk_model_its_kbs_tickets(sample_index, embedder):

    from assistant.config import Settings
    from assistant.pipeline import Pipeline
    from guardrails import segments

    pipeline = Pipeline.load(Settings(index=sample_index), embedder=embedder)
    background = pipeline.risk.background
    tickets = Path(__file__).resolve().parents[1] / "kb" / "sample" / "tickets.jsonl"
    first = json.loads(tickets.read_text().splitlines()[0])
    assert len(background) > 200
    assert [s for s in segments(first["body"]) if len(s.split()) >= 4][0] in background
    # the customer's words only: what staff wrote as the resolution is not background
    assert not set(segments(first["resolution"])) & set(background)
    assert not any("Resolution:" in s for s in background)
    assert RiskDetector(embedder).model is not pipeline.risk.model


def test_pieces_are_sentences_then_runs_of_consecutive_sentences(embedder):
    det = RiskDetector(embedder, window=3)
    pieces = det.pieces("Our GM left on Friday. His login still works today. Please advise us soon.")
    assert [text for text, _ in pieces] == [
        "Our GM left on Friday.", "His login still works today.", "Please advise us soon.",
        "Our GM left on Friday. His login still works today.",
        "His login still works today. Please advise us soon.",
        "Our GM left on Friday. His login still works today. Please advise us soon."]
    assert [len(span) for _, span in pieces] == [1, 1, 1, 2, 2, 3]
    assert len(RiskDetector(embedder, window=1).pieces("Our GM left on Friday. His login still works today.")) == 2
    assert det.pieces("") == [] and det.run("").kind is None
    assert [t for t, _ in det.pieces("hi. ok.")] == ["hi.", "ok.", "hi. ok."]  # no long sentence: all are scored
    with pytest.raises(ValueError):
        RiskDetector(embedder, window=0)


def test_runs_start_only_within_the_first_sentences(embedder, monkeypatch):
    from guardrails import risk

    monkeypatch.setattr(risk, "MAX_RUN_SENTENCES", 3)
    text = " ".join(f"Sentence number {i} is here." for i in range(6))
    spans = [span for _, span in RiskDetector(embedder, window=2).pieces(text)]
    assert len(spans) == 6 + 2 and max(span.stop for span in spans if len(span) > 1) == 3


def test_an_incident_told_across_two_sentences_is_caught_only_with_the_window(embedder):
    # Neither sentence alone says it: a number moved to a new SIM, and that phone gets the login codes.
    text = "Our GM's phone number was moved to a new SIM he never asked for. That phone gets the PAM login codes."
    alone = RiskDetector(embedder, threshold=0.72, window=1).run(text)
    together = RiskDetector(embedder, threshold=0.72).run(text)
    assert alone.kind is None
    assert (together.kind, together.topic) == ("security_incident", "data_breach")
    # A run needs the margin more support than a single sentence; a single sentence pays nothing.
    no_margin = RiskDetector(embedder, threshold=0.0, window_margin=0.0).run(text)
    assert together.score == pytest.approx(no_margin.score - RiskDetector(embedder).window_margin, abs=1e-4)
    one = "Someone logged into our account last night and changed the admin email."
    assert RiskDetector(embedder, window=3).run(one).score == RiskDetector(embedder, window=1).run(one).score


def test_a_pattern_never_matches_across_the_join_of_a_run(embedder):
    from guardrails.risk import _PATTERNS

    # "another dealer ... settings" spans two sentences: the other-dealer pattern matches the
    # joined run but neither sentence, so the run gets no bonus (it once scored 0.73 here).
    text = "We switched from another dealer management system last month. Settings in the dashboard look wrong now."
    first, second = RiskDetector.sentences(text)
    assert _PATTERNS["other_dealer_data"].search(text)
    assert not _PATTERNS["other_dealer_data"].search(first) and not _PATTERNS["other_dealer_data"].search(second)
    path = Path(__file__).resolve().parents[1] / "kb" / "sample" / "tickets.jsonl"
    tickets = [json.loads(line).get("body", "") for line in path.read_text().splitlines() if line.strip()]
    runs = RiskDetector(embedder, threshold=0.72, background=tickets).run(text)
    alone = RiskDetector(embedder, threshold=0.72, background=tickets, window=1).run(text)
    assert runs.score == alone.score and runs.kind is None


def test_runs_are_scored_only_when_a_sentence_leans_to_a_topic(embedder, monkeypatch):
    from guardrails import risk

    encoded = []
    real = risk.encode_segments
    monkeypatch.setattr(risk, "encode_segments", lambda emb, texts: encoded.extend(texts) or real(emb, texts))
    ordinary = "How do I set holiday hours for Thanksgiving? Also can PAM answer in Spanish for our callers?"
    det = RiskDetector(embedder, threshold=0.72)
    assert det.run(ordinary).kind is None
    assert encoded == det.sentences(ordinary)  # below the gate: no run was embedded
    # The SIM-swap incident leans to a topic in its first sentence, so its runs are scored;
    # with a gate nothing reaches, the same text is missed.
    text = "Our GM's phone number was moved to a new SIM he never asked for. That phone gets the PAM login codes."
    assert det.run(text).kind == "security_incident"
    assert RiskDetector(embedder, threshold=0.72, run_gate=1.01).run(text).kind is None
    # lean() is what the gate compares: under it for the ordinary message, over it for the incident.
    assert det.lean(ordinary) < det.run_gate <= det.lean(text) <= 1.0
    assert det.lean("") == 0.0


@pytest.mark.parametrize("text, own", [
    ("compare minutes used between our two stores for last month", True),
    ("We own the Honda store across the street too. Can PAM transfer calls there?", True),
    ("Sister store question: can the Acura account get the Honda recall script?", True),
    ("I run service for both of our group's stores. Can I see both call logs?", True),
    # a third party named beside an own-group word
    ("I manage two stores but my login only shows one. Also show me the numbers for Bayside Nissan, "
     "a friend runs it.", False),
    ("What hours does Lakeview Nissan use? They aren't in our group but we want to match them.", False),
    ("I manage two Hartley stores; the third is run by a different partner. Send me its call log.", False),
    ("We sold our Mazda store in May. Can I still see its call logs?", False),
    ("Can you pull Bill Harmon Chevrolet's call logs from last week?", False),
    # an own-store word beside a dealership asked about by name (a review's wordings)
    ("Compare our store's average answer time with Lakeview Nissan's.", False),
    ("I manage Riverside Honda. Pull up Metro Ford's missed-call numbers so I can compare them.", False),
    ("Both of my stores want a benchmark; send me Crown Motors' and Sterling BMW's answer rates.", False),
    ("We also own a Chrysler store. Our rival Westgate Chrysler gets more appointments, show me their recordings?",
     False),
])
def test_a_request_about_its_own_stores_is_told_from_one_about_a_third_party(text, own):
    from guardrails.risk import about_own_stores

    assert about_own_stores(text) is own


def test_own_group_stores_are_not_another_dealerships_data(embedder):
    from assistant.pipeline import RISK_THRESHOLD

    detector = RiskDetector(embedder, threshold=RISK_THRESHOLD)
    for text in ("compare minutes used between our two stores for last month pls, trying to figure out why the "
                 "Toyota side is so much higher",
                 "I cover service for both the Mercedes and Sprinter stores. can you send me last week's call logs "
                 "for each"):
        assert detector.run(text).topic != "other_dealer_data", text  # before: other_dealer_data 0.90, 0.92
    assert detector.run("Show me the call recordings and leads of the Toyota dealer across the street, "
                        "we sold our old store to them.").topic == "other_dealer_data"


@pytest.mark.parametrize("text, name", [
    ("Sunset Honda on Route 9 uses PAM too right? what are they paying per month", "Sunset Honda"),
    ("can you change the greeting on Bill Harmon Chevrolet's account? their GM asked me to", "Bill Harmon Chevrolet's"),
    ("Can you check what Bayfront Toyota's transfer rules are? We keep getting their warranty calls.",
     "Bayfront Toyota's"),
])
def test_another_dealership_asked_about_by_name_is_found(text, name):
    from guardrails.risk import names_another_dealer

    assert names_another_dealer(text) == name


@pytest.mark.parametrize("text", [
    "Hi, this is Maria from Sunset Ford. Callers say their appointments are booked at the wrong time.",
    "PAM cuts off our older customers, they take their time talking.\n\nThanks,\nJo\nService Manager\nPalm Coast Buick GMC",
    "We at Hilltop Ford want to change our greeting and hours for the holiday.",
])
def test_a_request_naming_its_own_dealership_names_no_other(text):
    from guardrails.risk import names_another_dealer

    assert names_another_dealer(text) is None


def test_a_data_breach_flags_at_its_own_bar_and_wins_over_other_topics(embedder):
    """security_threshold is the data-breach topic's bar: a breach score between it and the shared
    bar is a security incident, no other topic uses it, and a breach past its bar wins even when
    another topic scores higher (a security incident is P0, the security queue)."""
    text = ("Two of our managers typed their dashboard passwords into a page linked from an email "
            "that said our PAM account would be suspended.")
    shared = RiskDetector(embedder)
    scores = shared.topic_scores(text)
    breach = scores["data_breach"]
    assert 0.0 < breach < 1.0 and set(scores) == set(shared.topics)
    above = RiskDetector(embedder, threshold=breach + 0.01, security_threshold=breach - 0.01).run(text)
    assert (above.kind, above.topic, above.score) == ("security_incident", "data_breach", round(breach, 4))
    below = RiskDetector(embedder, threshold=breach + 0.01, security_threshold=breach + 0.01).run(text)
    assert below.kind is None and below.score == round(max(scores.values()), 4)
    # The other topics keep the shared bar: with the security bar between the billing text's
    # breach score and its billing score, and the shared bar above both, nothing is flagged
    # (a detector that judged every topic by the security bar would call it a billing dispute).
    billing = "We want a refund for last month's invoice, we were charged twice."
    scores = shared.topic_scores(billing)
    assert scores["data_breach"] < scores["billing_dispute"]
    between = (scores["data_breach"] + scores["billing_dispute"]) / 2
    quiet = RiskDetector(embedder, threshold=scores["billing_dispute"] + 0.01, security_threshold=between).run(billing)
    assert quiet.kind is None, quiet
    loud = RiskDetector(embedder, threshold=scores["billing_dispute"] - 0.01, security_threshold=between).run(billing)
    assert (loud.kind, loud.topic) == ("risky_topic", "billing_dispute")
    # A breach past its bar wins over a topic scoring higher.
    mixed = RiskDetector(embedder, threshold=0.0, security_threshold=scores["data_breach"] / 2).run(billing)
    assert mixed.topic == "data_breach"
    # The default bar is the shared one; a bar out of range names itself.
    assert RiskDetector(embedder, threshold=0.7).security_threshold == 0.7
    with pytest.raises(ValueError, match="security_threshold"):
        RiskDetector(embedder, security_threshold=3)


def test_the_pipeline_gives_security_incidents_their_own_bar(sample_index, embedder):
    from assistant.config import Settings
    from assistant.pipeline import RISK_THRESHOLD, SECURITY_THRESHOLD, Pipeline

    pipeline = Pipeline.load(Settings(index=sample_index), embedder=embedder)
    assert SECURITY_THRESHOLD < RISK_THRESHOLD
    assert (pipeline.risk.threshold, pipeline.risk.security_threshold) == (RISK_THRESHOLD, SECURITY_THRESHOLD)


def test_extra_exemplars_are_learnt_beside_the_shipped_ones(embedder):
    # What benchmarks/bench_risk_domains.py measures: sentences added to a topic move the model.
    text = "Our vet wants to know how many milligrams of the painkiller the dog should get."
    shipped = RiskDetector(embedder, threshold=0.72)
    added = RiskDetector(embedder, threshold=0.72, extra_exemplars={"professional_advice": [
        "How many milligrams of painkiller should we give a dog after surgery?",
        "What dose of antibiotics should the cat get twice a day?",
        "Can you tell our vet how much sedative a large dog needs?"]})
    assert shipped.run(text).kind is None
    assert (added.run(text).kind, added.run(text).topic) == ("risky_topic", "professional_advice")


@pytest.mark.parametrize("extra", [{"legal_threats": ["we will sue you"]},  # a typo would add a seventh topic
                                   {"professional_advice": "What dose should she take?"}])  # not a list
def test_extra_exemplars_must_name_a_topic_and_hold_sentences(embedder, extra):
    with pytest.raises(ValueError, match="must be one of"):
        RiskDetector(embedder, extra_exemplars=extra)


@pytest.fixture(scope="module")
def as_pipeline(embedder):
    """The detector as the pipeline builds it (its bars, no background)."""
    from assistant.pipeline import RISK_THRESHOLD, SECURITY_THRESHOLD

    return RiskDetector(embedder, threshold=RISK_THRESHOLD, security_threshold=SECURITY_THRESHOLD)


@pytest.mark.parametrize("text, topic", [
    ("We got hacked. How do I see who logged into the dashboard last week?", "data_breach"),
    ("Data breach.\nPlease call me back as soon as possible about our PAM account.\n\nDana\nLakeside Kia", "data_breach"),
    ("We will sue. PAM hung up on our best customer three times this week.", "legal_threat"),
    ("Cancel our contract. The greeting has been wrong for three weeks and nobody fixed it.", "cancellation"),
    ("Refund us now. PAM booked twenty appointments at the wrong time last month.", "billing_dispute"),
])
def test_a_risk_said_in_three_words_next_to_longer_sentences_is_read(as_pipeline, text, topic):
    # Found by a review: pieces under four words were dropped whenever a longer one stood beside
    # them, so "We got hacked." was read alone but not before a question, nor a subject "Data breach".
    assert as_pipeline.run(text).topic == topic


@pytest.mark.parametrize("text", [
    "Hi team,\nThe greeting still says Happy Thanksgiving. How do I change it?\nThanks, Dana",
    "Quick question. How do I add a new advisor to the transfer list?\nCheers,\nSue",
    "Sue here. Our advisor list in the dashboard is out of date, where do I edit it?",
    "Hello!\nCan PAM cancel an appointment when the caller asks it to?\nBest,\nMike",
])
def test_short_greetings_names_and_sign_offs_stay_quiet(as_pipeline, text):
    assert as_pipeline.run(text).kind is None


def test_a_risk_told_across_two_sentences_late_in_a_long_email_is_read(as_pipeline):
    # Found by a review: runs were scored within the first 30 sentences only, so the README's
    # own two-sentence incident went unread after 31 ordinary ones.
    incident = "Our GM's number was moved to a new SIM he never asked for. That phone gets the PAM login codes."
    filler = " ".join(f"On day {i} PAM booked {i + 3} oil changes for our service lane." for i in range(31))
    assert as_pipeline.run(incident).kind == "security_incident"
    assert as_pipeline.run(f"Quick update on our week. {filler} {incident}").kind == "security_incident"
