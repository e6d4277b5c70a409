"""Test-only servers and helpers shared by tests and benchmarks; never shipped (the wheel
packages only challenger, schemas, shared and services: tests/unit/infra/test_packaging.py)."""
