"""Ingestion: validation with file/line/field, chunking, incremental indexing."""

from __future__ import annotations

import json

import pytest

from assistant.errors import IngestError
from ingestion.chunker import Chunker
from ingestion.indexer import Indexer
from ingestion.loader import KnowledgeBaseLoader
from retrieval.embedder import HashEmbedder
from retrieval.index import VectorIndex
from tests.kb_factory import make_kb, write_runbook


def test_valid_kb_loads_every_document(tmp_path):
    kb = KnowledgeBaseLoader().run(make_kb(tmp_path))
    assert kb.problems == []
    assert len(kb.runbooks) == 4 and len(kb.tickets) == 27
    assert kb.labels == ["integration", "llm_behavior", "pam_core"]
    assert all(t.audience == "internal" for t in kb.tickets)


def test_each_problem_names_file_line_and_field_and_good_documents_survive(tmp_path):
    root = make_kb(tmp_path)
    write_runbook(root, "rb-x", "No category", "nonsense_label", "customer", "## Steps\nDo it.")
    (root / "runbooks" / "no-id.md").write_text("---\ntitle: t\ncategory: pam_core\naudience: customer\n---\nbody\n")
    (root / "runbooks" / "dup.md").write_text(
        "---\nid: rb-looping\ntitle: t\ncategory: pam_core\naudience: customer\n---\nbody\n")
    (root / "runbooks" / "aud.md").write_text(
        "---\nid: rb-aud\ntitle: t\ncategory: pam_core\naudience: everyone\n---\nbody\n")
    (root / "runbooks" / "empty.md").write_text(
        "---\nid: rb-empty\ntitle: t\ncategory: pam_core\naudience: customer\n---\n\n")
    (root / "runbooks" / "yaml.md").write_text("---\nid: [unclosed\n---\nbody\n")
    with (root / "tickets.jsonl").open("a") as fh:
        fh.write('{"id": "T-bad", "subject": "x"\n')
        fh.write(json.dumps({"subject": "no id", "category": "pam_core"}) + "\n")
        fh.write(json.dumps({"id": "T-np", "category": "pam_core"}) + "\n")
    kb = KnowledgeBaseLoader().run(root)
    msgs = {p.message: p for p in kb.problems}
    text = "\n".join(msgs)
    assert "nonsense_label" in text and any(p.field == "category" for p in kb.problems)
    assert any(p.field == "id" and "missing required field 'id'" in p.message and p.path.endswith("no-id.md")
               for p in kb.problems)
    assert any("duplicate id 'rb-looping'" in m for m in msgs)
    assert any(p.field == "audience" and p.line == 5 for p in kb.problems)  # audience is on line 5 of aud.md
    assert any(p.field == "body" and "empty body" in p.message for p in kb.problems)
    assert any("not valid YAML" in m and m.startswith(str(root / "runbooks" / "yaml.md")) for m in msgs)
    assert any("bad JSON" in m and ":28:" in m for m in msgs)  # 27 good lines, then the broken one
    assert any(p.line == 29 and p.field == "id" for p in kb.problems)
    assert any(p.line == 30 and p.field == "body" for p in kb.problems)
    # every good document is still there
    assert len(kb.tickets) == 27 and {"rb-xtime-sync", "rb-looping", "rb-internal-resync"} <= {d.id for d in kb.runbooks}


def test_missing_folder_is_an_ingest_error(tmp_path):
    with pytest.raises(IngestError, match="not a folder"):
        KnowledgeBaseLoader().run(tmp_path / "nope")


def test_chunks_follow_markdown_sections_and_keep_title_and_section(tmp_path):
    kb = KnowledgeBaseLoader().run(make_kb(tmp_path))
    doc = next(d for d in kb.runbooks if d.id == "rb-xtime-sync")
    chunks = Chunker().run(doc, doc.content_hash)
    assert [c.metadata["section"] for c in chunks] == ["Symptoms", "Steps"]
    assert all(c.metadata["title"] == doc.title and c.metadata["audience"] == "customer" for c in chunks)
    assert "24 hours" in chunks[1].text and "Xtime sync" in chunks[1].embed_text


@pytest.mark.parametrize("body_sentences", [3, 60])  # a short ticket, and one longer than a chunk
def test_ticket_requests_leave_out_the_resolution_even_across_chunks(body_sentences):
    from ingestion.chunker import ticket_requests
    from ingestion.loader import KBDocument

    body = " ".join(f"Customer sentence number {i} about missing Xtime appointments." for i in range(body_sentences))
    resolution = " ".join(f"Staff step {i}: re-sent the invite from the partner console." for i in range(30))
    doc = KBDocument(id="T-9", kind="ticket", title="xtime", category="integration", audience="internal",
                     body=body, path="tickets.jsonl", resolution=resolution)
    chunks = Chunker().run(doc, doc.content_hash)
    assert any("Staff step" in c.text for c in chunks)
    if body_sentences > 10:
        assert len(chunks) > 2 and any(c.text.startswith("Resolution:") for c in chunks)
    [request] = ticket_requests((c.text, c.metadata) for c in chunks)
    assert "Staff step" not in request and "Resolution" not in request
    assert f"Customer sentence number {body_sentences - 1} " in request
    assert ticket_requests([("a runbook", {"kind": "runbook", "doc_id": "rb"})]) == []


def test_reingest_embeds_only_changed_documents_and_removes_deleted_ones(tmp_path):
    root = make_kb(tmp_path / "kb")
    embedder = HashEmbedder()
    index = VectorIndex.open(tmp_path / "idx", create=True)
    first = Indexer(index, embedder, progress=False).run(KnowledgeBaseLoader().run(root))
    assert len(first.added) == 31 and first.chunks_embedded > 31

    embedder.calls = 0
    again = Indexer(index, embedder, progress=False).run(KnowledgeBaseLoader().run(root))
    assert embedder.calls == 0, "an unchanged KB must not be embedded again"
    assert again.unchanged == 31 and again.chunks_embedded == 0

    write_runbook(root, "rb-holiday-hours", "Set holiday hours", "pam_core", "customer",
                  "## Steps\n1. Open Dashboard > Settings > Holidays.")
    (root / "runbooks" / "rb-looping.md").unlink()
    before = index.count()
    edited = Indexer(index, embedder, progress=False).run(KnowledgeBaseLoader().run(root))
    assert edited.updated == ["rb-holiday-hours"] and edited.removed == ["rb-looping"]
    assert embedder.calls == 1 and edited.chunks_embedded == 1
    hashes = index.doc_hashes()
    assert "rb-looping" not in hashes
    assert index.count() == before - 2 - 1 + 1  # looping had 2 chunks, holiday went from 1 to 1
    texts = [t for t, m in zip(index.all()["documents"], index.all()["metadatas"]) if m["doc_id"] == "rb-holiday-hours"]
    assert texts and "Holidays" in texts[0]
