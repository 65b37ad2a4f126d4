"""PostgreSQL substring search in large servers, through the narrow `character_keys` table.

Migration 14 keeps each character's keys in a narrow twin of the characters table, with
one GIN index on two things: the block of 16,384 ids each row falls in, and the
trigrams of both keys together. A search asks first for matches among the guild's
newest blocks only: the index then yields just their candidates, so a common text
rechecks a few hundred rows instead of every match in the server (a GIN index gives no
order to stop at). When those blocks hold fewer than ``limit`` matches, the text is
rarer: the search widens to enough blocks for about twice ``limit`` at the rate found
(up to `MAX_BLOCKS`), then to every block. Candidates are rechecked in the narrow rows
(any text found in either key is found in both together; the keys themselves decide).
"""

from __future__ import annotations

from storage.database import Database, Row

# Both keys as the trigram index of `character_keys` holds them (the same expression).
BOTH_KEYS = "(name_key || ' ' || username_key)"

# The index's blocks of ids (the same expression), and how many newest blocks of the
# guild are searched first (measured with scripts/bench_library.py: 1,000,000 rows).
BLOCK = "ARRAY[(id / 16384)::integer]"
NEWEST_BLOCKS = 3
MAX_BLOCKS = 32  # wider windows cost about as much as every block
IN_NEWEST_BLOCKS = (
    f"AND {BLOCK} && ARRAY(SELECT generate_series(top - ?, top) FROM (SELECT "  # noqa: S608
    "(max(id) / 16384)::integer AS top FROM characters WHERE guild_id = ?) AS newest) "
)


def like_pattern(text: str) -> str:
    """A LIKE pattern matching ``text`` anywhere, its ``%``, ``_`` and ``\\`` taken literally."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


async def trigram_matches(
    db: Database, select: str, guild_id: int, name: str, user: str, limit: int
) -> list[Row]:
    """Rows (``select`` is a query head on characters) whose display name contains
    ``name`` or whose username contains ``user``, newest (highest id) first.

    The newest `NEWEST_BLOCKS` blocks first; if they hold some matches but fewer than
    ``limit``, enough blocks to hold about twice ``limit`` at that rate; then all."""
    # `name` is `user`, or `user` after an "@": text in either key contains `user`.
    patterns = (like_pattern(user), like_pattern(name), like_pattern(user))
    blocks: int | None = NEWEST_BLOCKS
    while True:
        window, bounds = ("", ()) if blocks is None else (IN_NEWEST_BLOCKS, (blocks - 1, guild_id))
        rows = await db.fetchall(
            f"{select} WHERE id IN (SELECT id FROM character_keys WHERE guild_id = ? "  # noqa: S608
            f"{window}AND {BOTH_KEYS} LIKE ? ESCAPE '\\' AND (name_key LIKE ? ESCAPE '\\' "
            "OR username_key LIKE ? ESCAPE '\\') ORDER BY id DESC LIMIT ?) ORDER BY id DESC",
            (guild_id, *bounds, *patterns, limit),
        )
        if blocks is None or len(rows) >= limit:  # the newest: older blocks come after
            return rows
        wider = -(-2 * limit * blocks // len(rows)) if rows else None
        blocks = wider if wider is not None and blocks < wider <= MAX_BLOCKS else None
