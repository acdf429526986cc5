"""Alembic environment and versions of the fusion-connector store (see `connector.store.schema`)."""
