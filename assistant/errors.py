"""The assistant's exceptions: one tree, so callers catch what they mean.

    AssistantError
    ├── ConfigError          bad or unsafe settings, found at start-up
    ├── InputError           a request or a KB document that breaks the contract
    │   └── IngestError      a KB file that cannot be indexed (file, line, field)
    ├── IndexMissing         no index in the folder, or one that cannot be read
    ├── RetrievalError       the vector store failed during a query or a write
    ├── LLMUnavailable       the model endpoint failed after retries, or the breaker is open
    └── StoreUnavailable     the decision log database cannot be reached

Foreign errors (chromadb, openai, SQLAlchemy) are translated at the module that
calls them, with ``raise ... from exc``, so only these leave our packages.
"""

from __future__ import annotations


class AssistantError(Exception):
    """Base class of every error the assistant raises on purpose."""

    code = "assistant_error"

    def __init__(self, message: str, *, field: str | None = None, stage: str | None = None):
        super().__init__(message)
        self.message = message
        self.field = field
        self.stage = stage

    def to_dict(self) -> dict:
        out = {"code": self.code, "message": self.message}
        if self.field:
            out["field"] = self.field
        return out


class ConfigError(AssistantError):
    """Settings that are missing, malformed or unsafe."""

    code = "config_error"


class InputError(AssistantError):
    """A request that does not follow the interface contract."""

    code = "invalid_input"


class IngestError(InputError):
    """A knowledge-base document that cannot be indexed; names file, line and field."""

    code = "ingest_error"

    def __init__(self, message: str, *, path: str, line: int | None = None, field: str | None = None,
                 doc_id: str | None = None):
        where = path if line is None else f"{path}:{line}"
        super().__init__(f"{where}: {message}", field=field, stage="ingest")
        self.path = path
        self.line = line
        self.doc_id = doc_id  # the id on a bad line of tickets.jsonl, when it could be read


class IndexMissing(AssistantError):
    """The index folder has no usable index; the message says how to build one."""

    code = "index_missing"


class RetrievalError(AssistantError):
    """The vector store failed while reading or writing."""

    code = "retrieval_error"


class LLMUnavailable(AssistantError):
    """The language model could not produce an answer in time."""

    code = "llm_unavailable"


class StoreUnavailable(AssistantError):
    """The decision-log database could not be reached."""

    code = "store_unavailable"
