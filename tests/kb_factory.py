"""Build small knowledge-base folders in tmp dirs for tests."""

from __future__ import annotations

import json
from pathlib import Path

RUNBOOKS = {
    "rb-xtime-sync": ("Xtime sync after accepting the invite", "integration", "customer",
                      "## Symptoms\nAppointments do not show in Xtime.\n\n## Steps\n1. Wait 24 hours after the dealer "
                      "accepts the Xtime invite.\n2. Open Dashboard > Integrations > Xtime and press Test connection."),
    "rb-holiday-hours": ("Set holiday hours", "pam_core", "customer",
                         "## Steps\n1. Open Dashboard > Settings > Business Hours.\n2. Add the holiday under "
                         "Special dates and save.\n3. PAM reads the new hours within 5 minutes."),
    "rb-looping": ("PAM repeats itself or loops", "llm_behavior", "customer",
                   "## Symptoms\nPAM asks the same question again and again.\n\n## Steps\n1. Send us the request "
                   "ID and call time.\n2. Turn on Dashboard > Voice > Strict turn-taking."),
    "rb-internal-resync": ("Force a DMS resync", "integration", "internal",
                           "## Steps\n1. Open resync.ops.example-internal.net.\n2. Enter override code OVR-1234-AB.\n"
                           "3. Post in #integ-escalations when done."),
}

TICKETS = [
    ("T-1", "xtime not syncing", "Our Xtime appointments are missing since we accepted the invite", "integration", "P2"),
    ("T-2", "CDK", "CDK connection still not live after two weeks", "integration", "P2"),
    ("T-3", "myKaarma", "myKaarma shows no appointments from PAM", "integration", "P1"),
    ("T-4", "hours", "PAM told callers we are open on Thanksgiving", "pam_core", "P2"),
    ("T-5", "greeting", "How do I change the greeting PAM says?", "pam_core", "P3"),
    ("T-6", "down", "PAM is not answering any calls at all", "pam_core", "P0"),
    ("T-7", "loop", "The AI keeps repeating the same question to callers", "llm_behavior", "P2"),
    ("T-8", "spanish", "PAM switched to Spanish with an English caller", "llm_behavior", "P2"),
    ("T-9", "rude", "The agent sounded rude and interrupted a customer", "llm_behavior", "P3"),
]


def write_runbook(root: Path, rid: str, title: str, category: str, audience: str, body: str) -> Path:
    path = root / "runbooks" / f"{rid}.md"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"---\nid: {rid}\ntitle: {title}\ncategory: {category}\naudience: {audience}\n"
                    f"tags: [test]\n---\n{body}\n")
    return path


def make_kb(root: Path, copies: int = 3) -> Path:
    """A tiny valid KB: four runbooks and (copies x 9) tickets over three categories."""
    for rid, (title, cat, aud, body) in RUNBOOKS.items():
        write_runbook(root, rid, title, cat, aud, body)
    lines = []
    for n in range(copies):
        for tid, subject, body, cat, prio in TICKETS:
            lines.append(json.dumps({"id": f"{tid}-{n}", "subject": subject, "body": f"{body} (store {n})",
                                     "category": cat, "priority": prio, "resolution": "fixed by OPS",
                                     "resolved_tier": 1}))
    (root / "tickets.jsonl").write_text("\n".join(lines) + "\n")
    return root


def ingest_kb(kb: Path, index: Path) -> Path:
    """`assistant ingest KB --index INDEX`, quietly; the index folder."""
    from assistant.cli import main

    assert main(["ingest", str(kb), "--index", str(index), "--quiet"]) == 0
    return index


def ask_cli(index: Path, cases: list[dict], monkeypatch, capsys) -> list[dict]:
    """`assistant ask --index INDEX` on ``cases`` (JSON lines on stdin); the results."""
    import io
    import sys

    from assistant.cli import main

    monkeypatch.setattr(sys, "stdin", io.StringIO("".join(json.dumps(c) + "\n" for c in cases)))
    assert main(["ask", "--index", str(index)]) == 0
    return [json.loads(line) for line in capsys.readouterr().out.splitlines()]
