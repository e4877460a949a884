"""AWS Security Token Service: who the caller is, and temporary credentials (accepted like any others)."""
