"""Registry of external systems and the verification of their signed calls."""
