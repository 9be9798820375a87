"""The index manifest: ``manifest.json`` in the index folder, beside the vector index and the models.

Training writes what the models beside the index are (``format``, ``index_version``: what they
were trained on, ``model``, ``labels``, ``built_at``, ``kb``, ``thresholds`` with the confidence
each surface needs, ``retrieval_evidence`` and the ``training`` figures); ingest adds
``contents``, a hash of every document the index holds, and on a Chroma server ``collection``,
the collection this folder's chunks are in. An ingest rewrites it when it trains (after the
model files) or when what the index holds or where changes, always whole: written to a
temporary file, then moved over the old one, since a running server reloads the index when
the manifest changes.
"""

from __future__ import annotations

import hashlib
import json
import os
import uuid
from pathlib import Path

from retrieval.index import COLLECTION

MANIFEST = "manifest.json"


def read_manifest(index_dir: Path) -> dict | None:
    """The manifest beside the index, or None when there is none or it is no JSON object."""
    try:
        manifest = json.loads((index_dir / MANIFEST).read_text())
    except (OSError, ValueError):
        return None
    return manifest if isinstance(manifest, dict) else None


def write_manifest(index_dir: Path, manifest: dict) -> None:
    """Write the manifest whole or not at all: a running server reads it when it changes."""
    tmp = index_dir / f".{MANIFEST}.tmp"
    tmp.write_text(json.dumps(manifest, indent=2))
    os.replace(tmp, index_dir / MANIFEST)


def collection_for(index_dir: Path, manifest: dict | None, chroma_url: str | None, chosen: str | None, *,
                   ingest: bool = False) -> str:
    """The Chroma collection of this index folder (``manifest``: its manifest, if any). Embedded
    Chroma lives in the folder, so the name is fixed. On a server two index folders must not
    share one (an ingest into one removed the other's whole KB): a folder's first ingest names its
    own, at random (two deployments may well use the same path), and the manifest keeps it. An
    index ingested before names were kept goes on using the old shared name: moving it would
    leave behind what it keeps despite problems. ``chosen`` (ASSISTANT_CHROMA_COLLECTION)
    overrides all of it on a server."""
    if not chroma_url:
        return COLLECTION
    if chosen:
        return chosen
    if manifest is not None or not ingest:
        return (manifest or {}).get("collection") or COLLECTION
    return f"{COLLECTION}_{uuid.uuid4().hex[:12]}"


def contents_version(doc_hashes: dict[str, str]) -> str:
    """Names what the index holds (each document's content hash), whatever the models learnt from."""
    return hashlib.sha256(json.dumps(sorted(doc_hashes.items())).encode()).hexdigest()[:12]
