"""PAM support triage and answer assistant."""

__version__ = "0.1.0"
