"""Bundled example patients (``patients.jsonl``) for the demo and the README."""
