"""Alembic environment for the decision log.

``DecisionLog`` runs this with a Config built in code (no alembic.ini) and hands
over its open connection in ``config.attributes["connection"]``, inside a
transaction that already holds the migration lock. Run by hand, it reads the
URL from ``-x url=...`` or ``ASSISTANT_DATABASE_URL``:

    alembic -c /dev/null -x url=sqlite:///decisions.sqlite3 upgrade head   # with script_location set
"""

from __future__ import annotations

import os

from alembic import context

from assistant.decision_log import VERSION_TABLE, make_engine, metadata

config = context.config


def _configure(connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        version_table=VERSION_TABLE,
        # SQLite cannot ALTER most things; batch mode rebuilds tables instead.
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )


def _url() -> str:
    url = context.get_x_argument(as_dictionary=True).get("url") or os.environ.get("ASSISTANT_DATABASE_URL")
    if not url:
        raise SystemExit("no database: pass -x url=... or set ASSISTANT_DATABASE_URL")
    return url


if context.is_offline_mode():
    context.configure(url=_url(), target_metadata=metadata, version_table=VERSION_TABLE, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()
else:
    connection = config.attributes.get("connection")
    if connection is not None:
        _configure(connection)
        with context.begin_transaction():
            context.run_migrations()
    else:
        engine = make_engine(_url())
        with engine.begin() as connection:
            _configure(connection)
            with context.begin_transaction():
                context.run_migrations()
        engine.dispose()
