"""Challenger as a library: `challenger.client` talks to a running registry (sync or async)."""
