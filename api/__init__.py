"""The HTTP face of the assistant: FastAPI app (``api.app.create_app``), its pages and ``assistant serve``."""

import os

# Same defaults as the CLI: the model is on disk, nothing is fetched or reported.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
