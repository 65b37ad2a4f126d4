"""Character search (prefix, then trigram substring), keyset paging and guild settings."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from bot.domain.records import Character, NewCharacter
from storage import CharacterRepository, Database, open_database
from storage import characters as characters_module
from storage.characters import SMALL_GUILD, insert_character
from storage.guild_settings import GuildSettingsRepository
from storage.postgres import database as postgres_module
from storage.schema import APPLICATION_ID
from storage.sqlite.migrations import MIGRATIONS, split_statements
from tests.storage.backends import postgres_schema, skip_without_postgres

GUILD = 1
OTHER_GUILD = 2


@pytest.fixture(params=[SMALL_GUILD, 0], ids=["small-guild", "large-guild"])
def characters(
    db: Database, request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> CharacterRepository:
    """The repository, its substring search reading each guild's keys (a small guild) or
    the trigram index (a large one): the results are the same."""
    monkeypatch.setattr(characters_module, "SMALL_GUILD", request.param)
    return CharacterRepository(db)


class Library:
    """Adds characters straight through the storage helper, one second apart."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self.now = 1_700_000_000.0

    async def add(
        self, display_name: str, username: str, *, guild_id: int = GUILD, at: float | None = None
    ) -> str:
        self.now += 1
        character_id = f"ch_{guild_id}_{username}"
        new = NewCharacter(
            guild_id=guild_id,
            character_id=character_id,
            task_id="task",
            display_name=display_name,
            username=username,
        )
        async with self.db.transaction() as tx:
            await insert_character(
                tx, new, job_id=None, creator_id=None, now=self.now if at is None else at
            )
        return character_id


@pytest.fixture
def library(db: Database) -> Library:
    return Library(db)


def names(found: list[Character]) -> list[str]:
    return [character.display_name for character in found]


# --- search -----------------------------------------------------------------------


async def test_prefix_matches_come_before_substring_matches(
    library: Library, characters: CharacterRepository
) -> None:
    await library.add("Old Captain", "oldcap")  # substring, older
    await library.add("Captain Zed", "zed")  # name prefix
    await library.add("Mira", "captain.mira")  # username prefix only
    await library.add("Captain Ana", "ana")  # name prefix
    await library.add("The Captain", "thecap")  # substring, newer
    await library.add("Nobody", "nobody")

    found = await characters.search(GUILD, "capt")
    assert names(found) == ["Captain Ana", "Captain Zed", "Mira", "The Captain", "Old Captain"]


async def test_username_with_at_sign_and_any_case(
    library: Library, characters: CharacterRepository
) -> None:
    await library.add("Zara", "Sora.Zara")
    await library.add("sora fan", "fan01")
    assert names(await characters.search(GUILD, "@sora")) == ["Zara"]
    assert names(await characters.search(GUILD, "SORA")) == ["sora fan", "Zara"]
    assert names(await characters.search(GUILD, "  @SoRa.z ")) == ["Zara"]
    assert names(await characters.search(GUILD, "@ZARA")) == ["Zara"]  # substring of username
    assert names(await characters.search(GUILD, "@fan")) == ["sora fan"]  # username prefix


async def test_long_text_must_be_found_whole(
    library: Library, characters: CharacterRepository
) -> None:
    """The trigram index is asked for a few of a long text's trigrams only: names holding
    them ("ami", "ra ", "dos"; "mir", "a.d", "dos"), in one key or across both, but not
    the text itself, are not matches."""
    await library.add("Old Samira Dosa", "oldsamira")
    await library.add("Samira Ros Dosa", "decoy1")
    await library.add("Tamira Ra", "dosser")
    await library.add("Amira Dosta", "amira")
    await library.add("Ramira Doss", "ramira")
    await library.add("Len", "len.mira.dos")
    await library.add("Decoy", "mira.dx.dos")
    await library.add("Lemira.dos", "plain")  # "@" asks for usernames only
    found = await characters.search(GUILD, "AMIRA DOS")
    assert names(found) == ["Amira Dosta", "Ramira Doss", "Old Samira Dosa"]
    assert names(await characters.search(GUILD, "@mira.dos")) == ["Len"]
    assert names(await characters.search(GUILD, "mira.dos")) == ["Lemira.dos", "Len"]


async def test_named_finds_exact_names_and_usernames_oldest_first(
    library: Library, characters: CharacterRepository
) -> None:
    first = await library.add("Twin", "twin.a")
    await library.add("Twins", "twin.b")  # a longer name is not the same name
    second = await library.add("tWIN", "twin.c")
    by_user = await library.add("Other", "twin")
    await library.add("Twin", "twin.d", guild_id=OTHER_GUILD)
    found = await characters.named(GUILD, "  twin ")
    assert [c.character_id for c in found] == [first, second, by_user]
    assert [c.character_id for c in await characters.named(GUILD, "@TWIN.C")] == [second]
    assert await characters.named(GUILD, "twi") == []
    assert await characters.named(GUILD, "@") == []


async def test_unicode_names(library: Library, characters: CharacterRepository) -> None:
    await library.add("Straße Hero", "strasse")
    await library.add("Ñandú Veloz", "nandu")
    await library.add("さくらの花", "sakura")
    await library.add("ΣΟΦΙΑ", "sofia")
    assert names(await characters.search(GUILD, "STRASSE")) == ["Straße Hero"]
    assert names(await characters.search(GUILD, "hero")) == ["Straße Hero"]
    assert names(await characters.search(GUILD, "ñan")) == ["Ñandú Veloz"]
    assert names(await characters.search(GUILD, "NDÚ")) == ["Ñandú Veloz"]
    assert names(await characters.search(GUILD, "さ")) == ["さくらの花"]
    assert names(await characters.search(GUILD, "くらの")) == ["さくらの花"]
    assert names(await characters.search(GUILD, "σοφ")) == ["ΣΟΦΙΑ"]


@pytest.mark.parametrize(
    "text",
    ['"', '""', 'a"b', "*", "abc*", "NEAR(", "NEAR(a b)", "-abc", "a OR b", "a AND", "^ab",
     "col:abc", "name_key : x", "(((", "'; DROP TABLE characters; --", "\\", "%", "_", "\x00"],
)  # fmt: skip
async def test_query_syntax_is_taken_literally(
    library: Library, characters: CharacterRepository, text: str
) -> None:
    await library.add("Plain", "plain")
    special = await library.add(f"x{text}x", "special")
    found = await characters.search(GUILD, text)
    if len(text.strip()) >= 3:
        assert [character.character_id for character in found] == [special]
    assert all(character.character_id == special for character in found)
    assert await characters.count_for_guild(GUILD) == 2


async def test_percent_and_underscore_are_not_wildcards(
    library: Library, characters: CharacterRepository
) -> None:
    await library.add("abc", "abc")
    assert await characters.search(GUILD, "a%") == []
    assert await characters.search(GUILD, "a_c") == []


async def test_short_queries_match_prefixes_only(
    library: Library, characters: CharacterRepository
) -> None:
    await library.add("Bob", "bob")
    await library.add("Abby", "abby")
    assert names(await characters.search(GUILD, "b")) == ["Bob"]
    assert names(await characters.search(GUILD, "bb")) == []
    assert names(await characters.search(GUILD, "@bb")) == []
    assert names(await characters.search(GUILD, "@ab")) == ["Abby"]
    assert names(await characters.search(GUILD, "abb")) == ["Abby"]
    assert names(await characters.search(GUILD, "@bby")) == ["Abby"]


async def test_guilds_never_mix(library: Library, characters: CharacterRepository) -> None:
    await library.add("Hero One", "one")
    await library.add("Hero Two", "two", guild_id=OTHER_GUILD)
    await library.add("Superhero", "superhero", guild_id=OTHER_GUILD)
    assert names(await characters.search(GUILD, "hero")) == ["Hero One"]
    assert names(await characters.search(GUILD, "ero")) == ["Hero One"]
    assert names(await characters.search(OTHER_GUILD, "hero")) == ["Hero Two", "Superhero"]
    assert names(await characters.search(GUILD, "")) == ["Hero One"]
    assert await characters.search(3, "hero") == []


async def test_limit_and_empty_query(library: Library, characters: CharacterRepository) -> None:
    for index in range(30):
        await library.add(f"Hero {index:02d}", f"hero{index:02d}")
    for index in range(30):
        await library.add(f"Superhero {index:02d}", f"super{index:02d}")

    prefix = await characters.search(GUILD, "hero")
    assert names(prefix) == [f"Hero {index:02d}" for index in range(25)]
    mixed = await characters.search(GUILD, "hero 2")
    assert names(mixed)[:10] == [f"Hero {index}" for index in range(20, 30)]
    assert names(mixed)[10:] == [f"Superhero {index}" for index in range(29, 19, -1)]
    assert len(await characters.search(GUILD, "ero", limit=40)) == 40
    assert await characters.search(GUILD, "hero", limit=0) == []

    newest = await characters.search(GUILD, "")
    assert names(newest) == [f"Superhero {index:02d}" for index in range(29, 4, -1)]
    assert names(await characters.search(GUILD, "   ", limit=2)) == names(newest)[:2]
    assert names(await characters.search(GUILD, "@", limit=2)) == names(newest)[:2]
    with pytest.raises(ValueError):
        await characters.search(GUILD, "hero", limit=-1)


async def test_rename_and_delete_update_search(
    library: Library, characters: CharacterRepository
) -> None:
    character_id = await library.add("Old Name", "keeper")
    await characters.rename(GUILD, character_id, "Brand New")
    assert await characters.search(GUILD, "old") == []
    assert await characters.search(GUILD, "d nam") == []
    assert names(await characters.search(GUILD, "brand")) == ["Brand New"]
    assert names(await characters.search(GUILD, "and ne")) == ["Brand New"]
    assert names(await characters.search(GUILD, "@keep")) == ["Brand New"]

    await characters.mark_announced(1)  # an update that does not touch the names
    assert names(await characters.search(GUILD, "rand")) == ["Brand New"]

    assert await characters.delete(GUILD, character_id)
    assert await characters.search(GUILD, "brand") == []
    assert await characters.search(GUILD, "rand") == []
    assert await characters.search(GUILD, "eeper") == []


async def test_migration_indexes_existing_characters(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    conn = sqlite3.connect(path, isolation_level=None)
    for script in MIGRATIONS[:2]:
        for statement in split_statements(script):
            conn.execute(statement)
    conn.execute(
        "INSERT INTO characters (guild_id, character_id, task_id, display_name, name_key, "
        "username, username_key, created_at) "
        "VALUES (1, 'ch_old', 't', 'Ancient One', 'ancient one', 'ancient', 'ancient', 1.0)"
    )
    conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")
    conn.execute("PRAGMA user_version = 2")
    conn.close()

    async with await open_database(path) as db:
        repo = CharacterRepository(db)
        assert names(await repo.search(1, "cient")) == ["Ancient One"]
        assert await repo.count_for_guild(1) == 1
        assert await GuildSettingsRepository(db).get_all(1) == {}


async def test_postgres_migration_fills_the_search_twin(monkeypatch: pytest.MonkeyPatch) -> None:
    skip_without_postgres()
    async with postgres_schema() as url:
        monkeypatch.setattr(postgres_module, "SCHEMA_VERSION", 13)
        async with await open_database(url) as db:  # the schema before the twin table
            await db.execute(  # as the code of that version wrote it
                "INSERT INTO characters (guild_id, character_id, task_id, display_name, "
                "name_key, username, username_key, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    GUILD,
                    "ch_ancient",
                    "task",
                    "Ancient One",
                    "ancient one",
                    "ancient",
                    "ancient",
                    1,
                ),
            )
        monkeypatch.undo()
        monkeypatch.setattr(characters_module, "SMALL_GUILD", 0)
        async with await open_database(url) as db:
            repo = CharacterRepository(db)
            assert names(await repo.search(GUILD, "cient")) == ["Ancient One"]
            assert names(await repo.search(GUILD, "@ncien")) == ["Ancient One"]
            await Library(db).add("Newer One", "newer")
            assert names(await repo.search(GUILD, " one")) == ["Newer One", "Ancient One"]
            row = await db.fetchone("SELECT count(*) FROM character_keys")
            assert row is not None and row[0] == 2


async def test_counts_follow_inserts_and_deletes(
    library: Library, characters: CharacterRepository
) -> None:
    assert await characters.count_for_guild(GUILD) == 0
    first = await library.add("A", "a")
    await library.add("B", "b")
    await library.add("C", "c", guild_id=OTHER_GUILD)
    again = NewCharacter(GUILD, first, "task", "A again", "a")
    async with library.db.transaction() as tx:  # a duplicate is not stored, nor counted
        assert not await insert_character(tx, again, job_id=None, creator_id=None, now=0.0)
    assert (await characters.count_for_guild(GUILD), await characters.count_for_guild(2)) == (2, 1)
    await characters.delete(GUILD, first)
    await characters.delete(GUILD, "missing")
    assert await characters.count_for_guild(GUILD) == 1
    assert await characters.count_for_guild(OTHER_GUILD) == 1


# --- keyset paging ------------------------------------------------------------------


async def test_keyset_pages_match_offset_pages(
    library: Library, characters: CharacterRepository
) -> None:
    for index in range(12):
        # Pairs stored in the same instant: the id must break the tie.
        await library.add(f"C{index}", f"c{index}", at=1000.0 + index // 2)
    await library.add("Elsewhere", "elsewhere", guild_id=OTHER_GUILD)

    by_offset = [await characters.list_for_guild(GUILD, limit=5, offset=o) for o in (0, 5, 10)]
    by_key: list[list[Character]] = []
    before: tuple[float, int] | None = None
    for _ in range(3):
        page = await characters.list_for_guild(GUILD, limit=5, before=before)
        by_key.append(page)
        before = (page[-1].created_at, page[-1].id)
    assert by_key == by_offset
    assert sum(len(page) for page in by_key) == 12
    assert await characters.list_for_guild(GUILD, before=before) == []


# --- settings repository --------------------------------------------------------------


async def test_settings_repository(db: Database) -> None:
    repo = GuildSettingsRepository(db)
    assert await repo.get_all(GUILD) == {}
    await repo.set(GUILD, "auto_react", True)
    await repo.set(GUILD, "note", {"emoji": "🎬", "n": [1, 2]})
    await repo.set(GUILD, "auto_react", False)
    await repo.set(OTHER_GUILD, "auto_react", True)
    assert await repo.get_all(GUILD) == {"auto_react": False, "note": {"emoji": "🎬", "n": [1, 2]}}
    assert await repo.delete(GUILD, "note") is True
    assert await repo.delete(GUILD, "note") is False
    assert await repo.get_all(GUILD) == {"auto_react": False}
    assert await repo.get_all(OTHER_GUILD) == {"auto_react": True}


async def test_settings_repository_skips_corrupt_values(db: Database) -> None:
    await db.execute("INSERT INTO guild_settings VALUES (1, 'broken', 'not json')")
    await GuildSettingsRepository(db).set(GUILD, "ok", 1)
    assert await GuildSettingsRepository(db).get_all(GUILD) == {"ok": 1}


async def test_settings_set_many_is_all_or_nothing(db: Database) -> None:
    repo = GuildSettingsRepository(db)
    with pytest.raises(TypeError):
        await repo.set_many(GUILD, {"a": 1, "b": object()})
    assert await repo.get_all(GUILD) == {}
