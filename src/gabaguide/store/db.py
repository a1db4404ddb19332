"""Open a store: engine, schema migrated to the newest revision, session factory."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, event, select
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from gabaguide.store.tables import Setting


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
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, pool_pre_ping=True)
    if parsed.get_backend_name() == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
    migrate(engine)
    return Store(engine=engine, session=sessionmaker(engine, expire_on_commit=False))


def migrate(engine: Engine) -> None:
    """Bring the schema to Alembic's head revision (a no-op when it is there)."""
    config = Config()
    config.set_main_option("script_location", str(files("gabaguide.store") / "migrations"))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "head")


def _sqlite_pragmas(dbapi_connection: object, _record: object) -> None:
    cursor = dbapi_connection.cursor()  # type: ignore[attr-defined]
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()
