"""Reading flow records for a command: the store migrated first, as every command does; a store
that cannot be read ends the command with exit 1 and one line naming the problem."""

from __future__ import annotations

from sqlalchemy.exc import SQLAlchemyError

from connector.cli.common import EXIT_ERROR, database_problem, fail
from connector.config import Config
from connector.flows.record import FlowRecord
from connector.store import MigrationError, create_engine, migrate, session_factory
from connector.store.flow_records import FlowFilter, FlowRecordRepository


def read_flow_records(config: Config, where: FlowFilter) -> list[FlowRecord]:
    """The records of `config`'s store and cluster that `where` selects (the repository's order)."""
    try:
        migrate(config.database)
        engine = create_engine(config.database)
        try:
            with session_factory(engine).begin() as session:
                return list(FlowRecordRepository(session, config.cluster).query(where))
        finally:
            engine.dispose()
    except MigrationError as exc:
        fail(str(exc), EXIT_ERROR)
    except SQLAlchemyError as exc:
        fail(f"database: {database_problem(exc)}", EXIT_ERROR)
