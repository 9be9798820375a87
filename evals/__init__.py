"""Evaluation harnesses: metrics as JSON, one headline number each."""
