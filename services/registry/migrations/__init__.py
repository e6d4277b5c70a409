"""Alembic migrations of the registry (a package so wheels ship them)."""
