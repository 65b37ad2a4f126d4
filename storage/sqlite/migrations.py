"""Versioned schema migrations, tracked with ``PRAGMA user_version``.

Each entry of :data:`MIGRATIONS` is one SQL script; migration *n* (1-based) moves a
database from ``user_version = n - 1`` to ``user_version = n``. Scripts are never
edited once released: add a new entry instead (and its PostgreSQL twin, and raise
`storage.schema.SCHEMA_VERSION`). Every file we create also carries
`storage.schema.APPLICATION_ID` in its header so that we can tell our databases from
other SQLite files.
"""

from __future__ import annotations

import sqlite3

from storage.schema import SCHEMA_VERSION

MIGRATIONS: list[str] = [
    # 1: jobs and characters.
    """
    CREATE TABLE jobs (
        id            INTEGER PRIMARY KEY,
        guild_id      INTEGER NOT NULL,
        channel_id    INTEGER NULL,
        message_id    INTEGER NULL,
        requester_id  INTEGER NULL,
        source_kind   TEXT    NOT NULL,
        source_ref    TEXT    NOT NULL,
        range_start   REAL    NOT NULL,
        range_end     REAL    NOT NULL,
        model         TEXT    NOT NULL,
        provider      TEXT    NOT NULL,
        request       TEXT    NOT NULL DEFAULT '{}',
        meta          TEXT    NOT NULL DEFAULT '{}',
        task_id       TEXT    NULL,
        state         TEXT    NOT NULL,
        progress      INTEGER NOT NULL DEFAULT 0,
        error_code    TEXT    NULL,
        error_message TEXT    NULL,
        created_at    REAL    NOT NULL,
        updated_at    REAL    NOT NULL,
        submitted_at  REAL    NULL,
        finished_at   REAL    NULL,
        stalled_at    REAL    NULL,
        announced_at  REAL    NULL
    );
    CREATE INDEX jobs_state ON jobs (state);
    CREATE INDEX jobs_guild_created ON jobs (guild_id, created_at);
    CREATE INDEX jobs_task ON jobs (task_id);

    CREATE TABLE characters (
        id            INTEGER PRIMARY KEY,
        guild_id      INTEGER NOT NULL,
        character_id  TEXT    NOT NULL,
        task_id       TEXT    NOT NULL,
        job_id        INTEGER NULL REFERENCES jobs (id) ON DELETE SET NULL,
        display_name  TEXT    NOT NULL,
        name_key      TEXT    NOT NULL,
        username      TEXT    NOT NULL,
        username_key  TEXT    NOT NULL,
        avatar        BLOB    NULL,
        avatar_mime   TEXT    NULL,
        creator_id    INTEGER NULL,
        created_at    REAL    NOT NULL,
        announced_at  REAL    NULL,
        UNIQUE (guild_id, character_id)
    );
    CREATE INDEX characters_guild_created ON characters (guild_id, created_at DESC);
    CREATE INDEX characters_guild_name ON characters (guild_id, name_key);
    CREATE INDEX characters_guild_username ON characters (guild_id, username_key);
    CREATE INDEX characters_job ON characters (job_id);
    """,
    # 2: small key-value state of the bot itself (e.g. the hash of the synced commands).
    """
    CREATE TABLE bot_state (
        key   TEXT PRIMARY KEY,
        value TEXT NOT NULL
    );
    """,
    # 3: per-guild settings (JSON values); an index for "characters made by this user";
    # a per-guild count of characters (counting 100,000 index entries takes milliseconds);
    # a trigram index for substring search of characters. The trigram index holds the
    # casefolded keys, so that it folds case exactly as the prefix search does (e.g.
    # "strasse" finds "Straße"). Triggers keep the count and the trigram index in step;
    # both are filled once for the characters stored before this migration.
    """
    CREATE INDEX characters_guild_creator ON characters (guild_id, creator_id, created_at DESC);

    CREATE TABLE character_counts (
        guild_id INTEGER PRIMARY KEY,
        total    INTEGER NOT NULL
    );
    INSERT INTO character_counts (guild_id, total)
    SELECT guild_id, count(*) FROM characters GROUP BY guild_id;
    CREATE TRIGGER characters_count_insert AFTER INSERT ON characters BEGIN
        INSERT INTO character_counts (guild_id, total) VALUES (new.guild_id, 1)
        ON CONFLICT (guild_id) DO UPDATE SET total = total + 1;
    END;
    CREATE TRIGGER characters_count_delete AFTER DELETE ON characters BEGIN
        UPDATE character_counts SET total = total - 1 WHERE guild_id = old.guild_id;
    END;

    CREATE TABLE guild_settings (
        guild_id INTEGER NOT NULL,
        key      TEXT    NOT NULL,
        value    TEXT    NOT NULL,
        PRIMARY KEY (guild_id, key)
    );

    CREATE VIRTUAL TABLE characters_fts USING fts5 (
        name_key, username_key,
        content = 'characters', content_rowid = 'id', tokenize = 'trigram'
    );
    CREATE TRIGGER characters_fts_insert AFTER INSERT ON characters BEGIN
        INSERT INTO characters_fts (rowid, name_key, username_key)
        VALUES (new.id, new.name_key, new.username_key);
    END;
    CREATE TRIGGER characters_fts_delete AFTER DELETE ON characters BEGIN
        INSERT INTO characters_fts (characters_fts, rowid, name_key, username_key)
        VALUES ('delete', old.id, old.name_key, old.username_key);
    END;
    CREATE TRIGGER characters_fts_update AFTER UPDATE OF name_key, username_key
    ON characters BEGIN
        INSERT INTO characters_fts (characters_fts, rowid, name_key, username_key)
        VALUES ('delete', old.id, old.name_key, old.username_key);
        INSERT INTO characters_fts (rowid, name_key, username_key)
        VALUES (new.id, new.name_key, new.username_key);
    END;
    INSERT INTO characters_fts (characters_fts) VALUES ('rebuild');
    """,
    # 4: when a job WAITING after a 429/503 sends its create request again (Retry-After).
    """
    ALTER TABLE jobs ADD COLUMN retry_at REAL NULL;
    """,
    # 5: characters a job got back that the guild already had (stored under an earlier
    # job): the job still shows them as its cards, announced once per job.
    """
    CREATE TABLE job_characters (
        job_id        INTEGER NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
        character_row INTEGER NOT NULL REFERENCES characters (id) ON DELETE CASCADE,
        announced_at  REAL    NULL,
        PRIMARY KEY (job_id, character_row)
    );
    CREATE INDEX job_characters_character ON job_characters (character_row);
    """,
    # 6: spending limits count a member's jobs in flight and jobs accepted per UTC day.
    """
    CREATE INDEX jobs_guild_requester_state ON jobs (guild_id, requester_id, state);
    CREATE INDEX jobs_guild_submitted ON jobs (guild_id, submitted_at);
    CREATE INDEX jobs_submitted ON jobs (submitted_at);
    """,
    # 7: a member cancelled a job after it was sent: it is followed, but nobody is told.
    """
    ALTER TABLE jobs ADD COLUMN cancelled_at REAL NULL;
    """,
    # 8: toapis webhook events, stored before they are acted on (delivery is at least once).
    """
    CREATE TABLE webhook_events (
        event_id    TEXT PRIMARY KEY,
        type        TEXT NOT NULL,
        task_id     TEXT NULL,
        received_at REAL NOT NULL
    );
    """,
    # 9: data lifecycle. When the bot left a server (its data is purged some days later
    # unless it comes back); finished jobs are pruned by age; usage is read per period.
    """
    CREATE TABLE guild_presence (
        guild_id INTEGER PRIMARY KEY,
        left_at  REAL    NULL
    );
    CREATE INDEX guild_presence_left ON guild_presence (left_at);
    CREATE INDEX jobs_finished ON jobs (finished_at);
    """,
    # 10: video jobs (a character starring in a video) share the jobs table: what a job
    # makes, and what a completed video job produced (its video URLs, as JSON).
    """
    ALTER TABLE jobs ADD COLUMN kind TEXT NOT NULL DEFAULT 'character';
    ALTER TABLE jobs ADD COLUMN result TEXT NULL;
    """,
    # 11: jobs owned by lease: the process following a job (`owner`) holds it until
    # `lease_until` and renews it while it follows the job; an expired lease is taken over.
    """
    ALTER TABLE jobs ADD COLUMN owner TEXT NULL;
    ALTER TABLE jobs ADD COLUMN lease_until REAL NULL;
    CREATE INDEX jobs_owner ON jobs (owner);
    """,
    # 12: request budgets shared by every process (`storage.postgres.budget_ledger`): PostgreSQL
    # only, as a SQLite file has one process, which keeps its budgets in memory.
    "",
    # 13: library search in large servers. Prefix search lists matches by key, then id:
    # the name indexes end with the id, so that PostgreSQL reads them in that order
    # (SQLite ends every index with the row id anyway; the same indexes here keep both
    # schemas alike). Substring search in a small guild reads its keys, newest first,
    # from an index rather than every guild's matches from the trigram index.
    """
    DROP INDEX characters_guild_name;
    CREATE INDEX characters_guild_name ON characters (guild_id, name_key, id);
    DROP INDEX characters_guild_username;
    CREATE INDEX characters_guild_username ON characters (guild_id, username_key, id);
    CREATE INDEX characters_guild_keys ON characters (guild_id, id, name_key, username_key);
    """,
    # 14: PostgreSQL substring search reads a narrow copy of the keys (`character_keys`)
    # instead of the wide characters table; SQLite's FTS5 table already is that copy.
    "",
    # 15: a webhook event is stored first and marked handled only once it was applied
    # (a stored, unhandled event is applied again on its retry or at start-up; `task` is
    # what it said about its task). Events received before were acted on already.
    """
    ALTER TABLE webhook_events ADD COLUMN task TEXT NULL;
    ALTER TABLE webhook_events ADD COLUMN handled_at REAL NULL;
    UPDATE webhook_events SET handled_at = received_at;
    CREATE INDEX webhook_events_handled ON webhook_events (handled_at);
    """,
    # 16: a character keeps its own likeness (`likeness`: where its clip and stills are
    # kept; NULL: none, as for every character made before) and the stills' uploaded URLs
    # (JSON list, shared by the engines), and one binding per engine it works with:
    # its state (preparing, ready, refused), the engine's references (JSON) and why not.
    """
    ALTER TABLE characters ADD COLUMN likeness TEXT NULL;
    ALTER TABLE characters ADD COLUMN still_urls TEXT NULL;
    CREATE TABLE character_bindings (
        character_row INTEGER NOT NULL REFERENCES characters (id) ON DELETE CASCADE,
        engine        TEXT    NOT NULL,
        state         TEXT    NOT NULL,
        data          TEXT    NOT NULL DEFAULT '{}',
        reason        TEXT    NULL,
        updated_at    REAL    NOT NULL,
        PRIMARY KEY (character_row, engine)
    );
    """,
]

# One script per version.
assert len(MIGRATIONS) == SCHEMA_VERSION, "a new migration raises storage.schema.SCHEMA_VERSION"


def split_statements(script: str) -> list[str]:
    """Cut a SQL script into single statements (``;`` inside strings or triggers is kept)."""
    statements: list[str] = []
    current = ""
    for char in script:
        current += char
        if char == ";" and sqlite3.complete_statement(current):
            statements.append(current.strip())
            current = ""
    if current.strip():
        raise ValueError(f"SQL script ends with an unfinished statement: {current.strip()!r}")
    return statements
