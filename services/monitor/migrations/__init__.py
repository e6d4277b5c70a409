"""Alembic migrations of the monitor's database (a package so wheels ship them)."""
