"""What both engines' schemas share: the bot's mark, and the version this code knows.

Each engine keeps one script per version (`storage.sqlite.migrations`,
`storage.postgres.migrations`), with the same numbers: a new version adds a script to
both lists and raises `SCHEMA_VERSION` (each list checks its length against it).
"""

from __future__ import annotations

# "Sora" in ASCII: written to the header of every database this bot creates.
APPLICATION_ID = 0x536F7261

# The schema version this code writes and understands.
SCHEMA_VERSION = 16


def incompatibility(application_id: int, user_version: int, has_schema: bool) -> str | None:
    """Say why a database with this header cannot be used by this code, or None if it can.

    ``has_schema`` tells whether the file already holds tables, indexes, views or
    triggers. An empty file (no application id, version 0, no schema) is ours to fill.
    """
    if application_id not in (0, APPLICATION_ID) or (
        application_id == 0 and (user_version != 0 or has_schema)
    ):
        return "is a SQLite database that does not belong to this bot"
    if user_version > SCHEMA_VERSION:
        return (
            f"was written by a newer version of the bot (schema version {user_version}, "
            f"this version knows up to {SCHEMA_VERSION})"
        )
    return None
