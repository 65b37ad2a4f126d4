"""A character's likeness and engine bindings, on SQLite and PostgreSQL."""

from __future__ import annotations

from bot.domain.records import Binding, BindingState, NewCharacter
from storage import BindingRepository, CharacterRepository, Database, JobRepository
from tests.storage.test_storage import new_job

SORA_GONE = "no longer offered by the video service"


def made(character_id: str, **fields: object) -> NewCharacter:
    return NewCharacter(
        guild_id=1,
        character_id=character_id,
        task_id="task-1",
        display_name="Mira",
        username="",
        **fields,  # type: ignore[arg-type]
    )


async def test_a_character_keeps_its_likeness_and_the_bindings_made_with_it(db: Database) -> None:
    jobs, characters, bindings = JobRepository(db), CharacterRepository(db), BindingRepository(db)
    job = await jobs.create(new_job())
    refused = Binding("sora-2", BindingState.REFUSED, reason=SORA_GONE)
    preparing = Binding("seedance-2", BindingState.PREPARING, {"group_id": "g1"})
    await jobs.complete(job.id, [made("bot-1", likeness="g1/c1", bindings=(refused, preparing))])
    stored = await characters.get(1, "bot-1")
    assert stored is not None and stored.likeness == "g1/c1" and stored.still_urls == ()
    found = await bindings.of(stored.id)
    assert found["sora-2"].state is BindingState.REFUSED and found["sora-2"].reason == SORA_GONE
    assert found["seedance-2"].data == {"group_id": "g1"}


async def test_a_binding_is_replaced_and_still_urls_are_kept(db: Database) -> None:
    jobs, characters, bindings = JobRepository(db), CharacterRepository(db), BindingRepository(db)
    job = await jobs.create(new_job())
    await jobs.complete(job.id, [made("bot-2")])
    stored = await characters.get(1, "bot-2")
    assert stored is not None
    await bindings.put(stored.id, Binding("seedance-2", BindingState.PREPARING, {"group_id": "g"}))
    ready = Binding("seedance-2", BindingState.READY, {"group_id": "g", "asset_ids": ["a", "b"]})
    await bindings.put(stored.id, ready)
    await bindings.set_still_urls(stored.id, ["https://x/1.jpg", "https://x/2.jpg"])
    assert (await bindings.of(stored.id))["seedance-2"].data["asset_ids"] == ["a", "b"]
    again = await characters.get(1, "bot-2")
    assert again is not None and again.still_urls == ("https://x/1.jpg", "https://x/2.jpg")
    assert await bindings.drop(stored.id, "seedance-2")
    assert await bindings.of(stored.id) == {}


async def test_deleting_a_character_deletes_its_bindings(db: Database) -> None:
    jobs, characters, bindings = JobRepository(db), CharacterRepository(db), BindingRepository(db)
    job = await jobs.create(new_job())
    viduq3 = Binding("viduq3", BindingState.READY, {})
    await jobs.complete(job.id, [made("bot-3", likeness="k", bindings=(viduq3,))])
    stored = await characters.get(1, "bot-3")
    assert stored is not None
    assert await bindings.likenesses_of_creator(1, 100) == ["k"]
    assert await characters.delete(1, "bot-3")
    assert await bindings.of_many([stored.id]) == {}
    # a binding for a character that is gone is not written
    await bindings.put(stored.id, viduq3)
    assert await bindings.of(stored.id) == {}
