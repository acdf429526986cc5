"""Former home of the adapter contract, until every importer names connector.adapter."""

from connector.adapter import Adapter, ApplyResult
from connector.model import Capabilities

__all__ = ["Adapter", "ApplyResult", "Capabilities"]
