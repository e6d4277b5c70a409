"""The registry's REST API, mounted at /api/v1."""
