"""Alembic migrations of the hennan_flow schema, shipped in the wheel."""
