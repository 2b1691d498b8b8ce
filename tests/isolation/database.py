"""The database a noisy-neighbour stack runs on: SQLite by default, TEST_DATABASE_URL in the PostgreSQL pass."""

import os

from sqlalchemy import MetaData, create_engine


def database_settings() -> dict[str, str]:
    """DATABASE_URL for the stack: TEST_DATABASE_URL emptied first (the PostgreSQL pass), else none (SQLite)."""
    url = os.environ.get("TEST_DATABASE_URL")
    if not url:
        return {}
    engine = create_engine(url)
    tables = MetaData()
    tables.reflect(engine)
    tables.drop_all(engine)
    with engine.begin() as connection:
        connection.exec_driver_sql("DROP TABLE IF EXISTS alembic_version")
    engine.dispose()
    return {"DATABASE_URL": url}
