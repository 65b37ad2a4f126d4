"""SQLite substring search in large servers, through the FTS5 trigram index.

`characters_fts` (migration 3) indexes the trigrams of both keys and yields rowids in
descending order, so a search stops at ``limit`` matches of the guild. Matching a phrase
reads one doclist per trigram of the text, and that reading is most of a search's time:
past three distinct trigrams, the index is asked for only three of them
(`fts_candidates`), and the candidates are rechecked with ``instr``, which decides.
"""

from __future__ import annotations

from storage.database import Database, Row

# The trigram index cannot match fewer characters than this.
TRIGRAM = 3


def fts_phrase(text: str) -> str:
    """``text`` as one FTS5 string, so that none of its characters act as query syntax."""
    return '"' + text.replace('"', '""') + '"'


def fts_candidates(text: str) -> str:
    """An FTS5 query for the rows that may contain ``text`` (three characters or more):
    its first, middle and last distinct trigrams, or, for a text with fewer (or as
    repetitive as "ananan", which three trigrams would not narrow), the whole phrase."""
    trigrams = list(dict.fromkeys(text[i : i + TRIGRAM] for i in range(len(text) - 2)))
    if len(trigrams) <= TRIGRAM:
        return fts_phrase(text)
    picked = (trigrams[0], trigrams[len(trigrams) // 2], trigrams[-1])
    return " AND ".join(fts_phrase(trigram) for trigram in picked)


async def fts_matches(
    db: Database, columns: str, guild_id: int, name: str, user: str, limit: int
) -> list[Row]:
    """Rows (``columns`` of characters, prefixed ``c.``) whose display name contains
    ``name`` or whose username contains ``user``, newest (highest id) first."""
    # `name` is `user`, or "@" + `user`: a match holds the trigrams of `user` in a key.
    return await db.fetchall(
        f"SELECT {columns} FROM characters_fts AS f "  # noqa: S608 (constant SQL)
        "JOIN characters AS c ON c.id = f.rowid WHERE characters_fts MATCH ? "
        "AND c.guild_id = ? AND (instr(c.name_key, ?) > 0 OR instr(c.username_key, ?) > 0) "
        "ORDER BY f.rowid DESC LIMIT ?",
        (fts_candidates(user), guild_id, name, user, limit),
    )
