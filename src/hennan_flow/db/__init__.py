"""Persistence: the tables (`models`, `service_rows`), sessions, transactions and the hot path.

Both table modules load with the package, so `models.Base.metadata` always holds every table.
"""

from . import models, service_rows

__all__ = ["models", "service_rows"]
