"""Population audit: the same rules over a health system's prescriptions (see run.py)."""
