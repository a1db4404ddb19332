"""Open a store: engine, schema migrated to the newest revision, session factory.

Two backends are supported and tested: SQLite (a file; the embedded default) and PostgreSQL
(``postgresql://…``, driven by psycopg 3). SQLite runs in WAL mode with ``synchronous=FULL``, so a
write the app has acknowledged survives the server being killed; PostgreSQL is durable by itself.
"""

from __future__ import annotations

import secrets
import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, event, select, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.engine.interfaces import DBAPIConnection, DBAPICursor
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import ConnectionPoolEntry

from gabaguide.store.tables import Setting

# Any constant: concurrent migrations of one PostgreSQL database (several workers starting) wait
# for each other on this transaction-scoped advisory lock instead of racing to create tables.
_MIGRATION_LOCK = 0x6761_6261  # "gaba"


@dataclass(frozen=True)
class Store:
    engine: Engine
    session: sessionmaker[Session]

    def setting(self, key: str, default: str) -> str:
        """A kept value; ``default`` is stored (and returned) the first time."""
        with self.session.begin() as s:
            row = s.get(Setting, key)
            if row is None:
                row = Setting(key=key, value=default)
                s.add(row)
            return row.value

    def secret(self) -> str:
        """The key that hashes visitor cookies: made once, kept in the database."""
        return self.setting("visitor_key", secrets.token_hex(32))

    def has(self, table: type[object]) -> bool:
        with self.session() as s:
            return s.execute(select(table).limit(1)).first() is not None


def open_store(url: str) -> Store:
    """Connect to ``url`` (a SQLite file's folder is created), migrate to the newest schema."""
    engine = make_engine(url)
    migrate(engine)
    return Store(engine=engine, session=sessionmaker(engine, expire_on_commit=False))


def make_engine(url: str | URL) -> Engine:
    """An engine for ``url`` set up as the store needs it, without touching the schema.

    ``postgresql://`` (and ``postgres://``) mean psycopg 3, so users need not name a driver.
    """
    parsed = _database_url(url)
    if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(parsed, pool_pre_ping=True)
    if parsed.get_backend_name() == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
    return engine


def _database_url(url: str | URL) -> URL:
    """``url`` parsed, with a bare PostgreSQL scheme mapped to the psycopg 3 driver."""
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed


def migrate(engine: Engine) -> None:
    """Bring the schema to Alembic's head revision (a no-op when it is there)."""
    _migrate(engine, command.upgrade, "head")


def downgrade(engine: Engine, revision: str = "base") -> None:
    """Take the schema back to ``revision`` (``"base"``: no tables but ``alembic_version``)."""
    _migrate(engine, command.downgrade, revision)


def _migrate(engine: Engine, step: Callable[[Config, str], None], revision: str) -> None:
    """Run ``step`` in one transaction holding the database's migration lock.

    All or nothing (DDL is transactional on both backends), and processes starting together (several
    web workers) migrate one after the other: the second finds the schema current.
    """
    with engine.connect() as connection:
        sqlite = connection.dialect.name == "sqlite"
        if sqlite:
            # SQLite's recipe for schema changes (sqlite.org/lang_altertable.html): foreign keys off
            # outside the transaction (Alembic's batch mode copies and drops tables), BEGIN
            # IMMEDIATE takes the write lock (and keeps pysqlite from committing DDL on its own),
            # foreign keys checked before COMMIT, then on again.
            connection.exec_driver_sql("PRAGMA foreign_keys=OFF")
            connection.exec_driver_sql("BEGIN IMMEDIATE")
        elif connection.dialect.name == "postgresql":
            connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _MIGRATION_LOCK})
        try:
            config = Config()
            config.set_main_option("script_location", str(files("gabaguide.store") / "migrations"))
            config.attributes["connection"] = connection
            step(config, revision)
            if sqlite and (broken := connection.exec_driver_sql("PRAGMA foreign_key_check").all()):
                raise RuntimeError(f"the migration broke foreign keys: {broken[:5]}")
            connection.commit()
        finally:
            connection.rollback()  # a no-op after the commit
            if sqlite:
                connection.exec_driver_sql("PRAGMA foreign_keys=ON")
                connection.commit()


def _sqlite_pragmas(dbapi_connection: DBAPIConnection, _record: ConnectionPoolEntry) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA busy_timeout=5000")  # wait up to 5 s for another writer, then fail
    _use_wal(cursor)  # readers do not block the writer
    cursor.execute("PRAGMA synchronous=FULL")  # fsync the WAL at every commit: acknowledged = kept
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def _use_wal(cursor: DBAPICursor) -> None:
    """Put the file in WAL mode (kept in the file, so usually found set).

    The switch needs the file to itself and SQLite does not wait for that (``busy_timeout`` does
    not apply), so when several processes open a new file at once the losers retry for up to 5 s.
    """
    deadline = time.monotonic() + 5
    while True:
        cursor.execute("PRAGMA journal_mode")
        if (cursor.fetchone() or ("",))[0] == "wal":
            return
        try:
            cursor.execute("PRAGMA journal_mode=WAL")  # an in-memory database stays "memory"
            return
        except sqlite3.OperationalError as error:
            if "locked" not in str(error) or time.monotonic() > deadline:
                raise
        time.sleep(0.01)
