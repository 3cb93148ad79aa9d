"""Fixtures shared by every test package: the real servers of tests/services."""

from tests.services.postgres import postgres_database, postgres_server

__all__ = ["postgres_database", "postgres_server"]
