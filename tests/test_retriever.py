"""The hybrid retriever on the sample index: surface filtering and exact dense search.

Exact search (one matrix product over the chunk vectors the retriever holds) must
return what Chroma's index returns, so the two paths are compared on real queries.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from retrieval.index import VectorIndex
from retrieval.retriever import Retriever

DEV = Path(__file__).resolve().parents[1] / "evals" / "data" / "dev.jsonl"


@pytest.fixture(scope="module")
def retrievers(sample_index, embedder):
    index = VectorIndex.open(sample_index)
    return Retriever(index, embedder), Retriever(index, embedder, exact_limit=0)


@pytest.fixture(scope="module")
def queries(embedder):
    texts = [json.loads(line)["body"] for line in DEV.read_text().splitlines() if line.strip()][:40]
    return list(zip(texts, embedder.encode_queries(texts)))


def test_small_indexes_search_exactly_and_large_ones_ask_chroma(retrievers):
    exact, chroma = retrievers
    assert exact.exact and not chroma.exact


@pytest.mark.parametrize("surface,kind", [("email", "runbook"), ("chat", "runbook"), ("email", "ticket"),
                                          ("email", None)])
def test_exact_search_finds_what_chroma_finds(retrievers, queries, surface, kind):
    exact, chroma = retrievers
    for _text, vec in queries:
        a, b = exact._dense(vec, surface, kind), chroma._dense(vec, surface, kind)
        assert len(a) == len(b)
        # HNSW is approximate deep in the list; at the top, where fusion and coverage
        # look, it agrees with the exact search.
        assert [s for _, s in a[:10]] == pytest.approx([s for _, s in b[:10]], abs=1e-4)
        clear = {c for c, s in a[:5] if len(a) <= 5 or s > a[5][1] + 1e-4}  # up to exact ties
        assert clear <= {c for c, _ in b[:5]}
        # exact search is never worse at any rank
        assert all(sa >= sb - 1e-4 for (_, sa), (_, sb) in zip(a, b))


def test_best_match_is_the_same_on_both_paths(retrievers, queries):
    exact, chroma = retrievers
    for _text, vec in queries:
        for audience in ("internal", "customer", None):
            (doc_a, sim_a), (doc_b, sim_b) = (r.best_match(vec, audience=audience) for r in retrievers)
            assert sim_a == pytest.approx(sim_b, abs=1e-4)
            assert doc_a == doc_b
            meta = exact.metas[[m["doc_id"] for m in exact.metas].index(doc_a)]
            assert meta["kind"] == "runbook" and audience in (None, meta["audience"])
            assert exact.category_of(doc_a) == meta["category"]
        # any audience: the closer of the two
        best = max((exact.best_match(vec, audience=a) for a in ("internal", "customer")), key=lambda h: h[1])
        assert exact.best_match(vec, audience=None) == best
    assert exact.best_match(queries[0][1], audience="nobody") == (None, 0.0)


def test_chat_only_ever_sees_customer_runbooks(retrievers, queries):
    for retriever in retrievers:
        for text, vec in queries:
            for hit in retriever.run(text, surface="chat", vector=vec, top_k=10).hits:
                assert (hit.kind, hit.audience) == ("runbook", "customer")
            email = retriever.run(text, surface="email", vector=vec, kind=None, top_k=10).hits
            assert all(h.kind in ("runbook", "ticket") for h in email)
    # and across the dev set, email does reach staff-only runbooks and past tickets
    seen = {(h.kind, h.audience) for text, vec in queries
            for h in retrievers[0].run(text, surface="email", vector=vec, kind=None, top_k=10).hits}
    assert ("runbook", "internal") in seen and any(k == "ticket" for k, _ in seen)


def test_the_top_hit_carries_its_cosine_and_its_chunks(retrievers, embedder):
    exact, _ = retrievers
    text = "Xtime appointments are not showing up in PAM"
    vec = embedder.encode_queries([text])[0]
    res = exact.run(text, surface="email", vector=vec)
    top = res.hits[0]
    assert res.support == top.score == max(c.dense for c in top.chunks)
    best_chunk = exact._vectors[exact.pos[max(top.chunks, key=lambda c: c.dense).chunk_id]]
    assert top.score == pytest.approx(float(best_chunk @ vec), abs=1e-5)
    assert "xtime" in (top.title + top.doc_id).lower()


def test_a_chroma_server_that_is_down_is_no_missing_index(tmp_path):
    # Found by a review: it was reported as a missing index, with the advice to rebuild it
    import socket

    from assistant.errors import IndexMissing, RetrievalError
    from retrieval.index import VectorIndex

    with socket.socket() as s:  # a loopback port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(RetrievalError, match="cannot be reached") as err:
        VectorIndex.open(tmp_path, chroma_url=f"http://127.0.0.1:{port}")
    assert not isinstance(err.value, IndexMissing) and "ingest" not in err.value.message


@pytest.mark.parametrize("url, port", [("https://chroma.example.com", 443), ("http://chroma.example.com", 8000),
                                       ("https://chroma.example.com:8443/", 8443)])
def test_a_chroma_url_without_a_port_takes_its_schemes(monkeypatch, tmp_path, url, port):
    # Found by a review: https://host went to port 8000.
    import chromadb

    from retrieval.index import VectorIndex

    seen = {}

    def fake_client(**kwargs):
        seen.update(kwargs)
        raise ConnectionError("not here")

    monkeypatch.setattr(chromadb, "HttpClient", fake_client)
    with pytest.raises(Exception, match=f"port {port}"):
        VectorIndex.open(tmp_path, chroma_url=url)
    assert seen["port"] == port and seen["ssl"] == url.startswith("https")


def test_a_chroma_url_with_a_path_is_refused_by_name(tmp_path):
    from assistant.errors import RetrievalError
    from retrieval.index import VectorIndex

    with pytest.raises(RetrievalError, match="has a path"):
        VectorIndex.open(tmp_path, chroma_url="http://proxy.example.com/chroma")


NO_SERVER_ADDRESS = ("ASSISTANT_CHROMA_URL must be a Chroma server's address like 'http://host:8000' "
                     "(http or https, a host, a port if not the scheme's)")


@pytest.mark.parametrize("url, host, port, ssl", [
    ("http://chroma.example.com", "chroma.example.com", 8000, False),
    ("https://chroma.example.com", "chroma.example.com", 443, True),
    ("https://chroma.example.com:8443/", "chroma.example.com", 8443, True),
    (" http://127.0.0.1:8001 ", "127.0.0.1", 8001, False)])
def test_a_chroma_url_is_read_as_host_port_and_tls(url, host, port, ssl):
    from retrieval.index import chroma_server

    assert chroma_server(url) == (host, port, ssl)


@pytest.mark.parametrize("bad", ["chroma:8000", "ftp://host:8000", "http://:8000", "http://host:99999",
                                 "http://host:port"])
def test_chroma_server_refuses_what_is_no_server_address(bad):
    from retrieval.index import chroma_server

    for allow_path in (False, True):
        with pytest.raises(ValueError) as err:
            chroma_server(bad, allow_path=allow_path)
        assert str(err.value) == NO_SERVER_ADDRESS


@pytest.mark.parametrize("url", ["http://proxy.example.com/chroma", "http://proxy.example.com:8000/api/v2/",
                                 "http://proxy.example.com:8000?tenant=a"])
def test_chroma_server_refuses_a_path_unless_allowed(url):
    from retrieval.index import chroma_server

    with pytest.raises(ValueError) as err:
        chroma_server(url)
    assert str(err.value) == (f"the Chroma server URL {url} has a path: give the server's own address "
                              "(scheme, host and port), Chroma takes no prefix")
    assert chroma_server(url, allow_path=True).host == "proxy.example.com"


def test_each_index_folder_has_its_own_collection_on_a_chroma_server(tmp_path):
    from assistant.manifest import collection_for
    from retrieval.index import COLLECTION

    a = tmp_path / "a"
    url = "http://127.0.0.1:8001"
    named = collection_for(a, None, url, None, ingest=True)
    # Named at random: two deployments may use the same path (the default index folder in two containers).
    assert named != collection_for(a, None, url, None, ingest=True) and named.startswith(COLLECTION)
    assert collection_for(a, {"collection": named}, url, None, ingest=True) == named  # kept by the manifest
    assert collection_for(a, {"collection": named}, url, None) == named
    # An index ingested before names were kept stays where its chunks (and those it keeps despite
    # problems) are, for readers and for its next ingest alike.
    assert collection_for(a, {}, url, None) == collection_for(a, {}, url, None, ingest=True) == COLLECTION
    assert collection_for(a, {"collection": named}, None, None) == COLLECTION  # embedded: in the folder
    assert collection_for(a, {"collection": named}, url, "tenant-7") == "tenant-7"
    assert collection_for(a, None, None, "tenant-7") == COLLECTION  # the setting names a server's collection


@pytest.mark.parametrize("bad", ["x", "-abc", "a" * 64, "has space", "a..b"])
def test_a_bad_collection_name_is_a_config_error(bad):
    from assistant.config import load_settings
    from assistant.errors import ConfigError

    with pytest.raises(ConfigError, match="ASSISTANT_CHROMA_COLLECTION"):
        load_settings(chroma_collection=bad)


@pytest.mark.parametrize("bad", ["chroma:8000", "ftp://host:8000", "http://:8000", "http://host:99999"])
def test_a_chroma_url_that_is_no_server_address_is_a_config_error(bad):
    # Found by a review: "chroma:8000" (no scheme) was accepted, then reported as having a path.
    from assistant.config import load_settings
    from assistant.errors import ConfigError

    with pytest.raises(ConfigError, match="ASSISTANT_CHROMA_URL"):
        load_settings(chroma_url=bad)
    assert load_settings(chroma_url=" ").chroma_url is None
