"""Where likenesses are kept: the same cases on local files and on an S3 server (moto)."""

from __future__ import annotations

import asyncio
import os
import re
import threading
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import obstore
import pytest
import pytest_asyncio
from obstore.store import LocalStore, S3Store

from bot.media.cut import Cut
from bot.media.likeness import Likeness, Still, cut_likeness
from bot.media.likeness_store import (
    LikenessStore,
    LikenessStoreError,
    open_likeness_store,
)
from bot.runtime.config import Settings
from bot.runtime.container import open_core
from tests.s3_server import ACCESS_KEY, SECRET_KEY, moto_s3, new_bucket, use_test_credentials


@pytest.fixture(scope="module")
def s3_endpoint() -> Iterator[str]:
    with moto_s3() as endpoint:
        yield endpoint


@dataclass
class Place:
    """A likeness store, and the same place seen as plain objects (to look behind it)."""

    store: LikenessStore
    raw: LocalStore | S3Store | None  # None: the local folder does not exist yet
    folder: Path | None = None

    def objects(self) -> LocalStore | S3Store:
        if self.raw is None:
            assert self.folder is not None and self.folder.is_dir()
            self.raw = LocalStore(self.folder)
        return self.raw

    async def names(self, prefix: str | None = None) -> list[str]:
        if self.raw is None and (self.folder is None or not self.folder.is_dir()):
            return []
        found: list[str] = []
        async for chunk in obstore.list(self.objects(), prefix):
            found += [meta["path"] for meta in chunk]
        return sorted(found)


@pytest_asyncio.fixture(params=["local", "s3"])
async def place(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[Place]:
    if request.param == "local":
        store = open_likeness_store(None, tmp_path / "data", None)
        found = Place(store, None, tmp_path / "data" / "likeness")
    else:
        use_test_credentials(monkeypatch)
        endpoint = request.getfixturevalue("s3_endpoint")
        bucket = new_bucket(endpoint)
        store = open_likeness_store(f"s3://{bucket}/likeness", tmp_path, endpoint)
        raw = S3Store(
            bucket, prefix="likeness", endpoint=endpoint, client_options={"allow_http": True}
        )
        found = Place(store, raw)
    yield found
    await store.aclose()


def made_likeness(folder: Path, *, clip_bytes: int = 2000, stills: int = 3) -> Likeness:
    """A likeness of made-up bytes (the real cut is in the first test)."""
    folder.mkdir(parents=True, exist_ok=True)
    clip = folder / "clip.mp4"
    clip.write_bytes(os.urandom(clip_bytes))
    shots = [Still(1.0 + n / 2, b"\xff\xd8 still %d " % n + os.urandom(300)) for n in range(stills)]
    return Likeness(Cut(clip, 0.0, False), shots)


async def test_a_cut_likeness_reads_back_byte_for_byte(
    place: Place, short_video: Path, tmp_path: Path
) -> None:
    def cut() -> Likeness:
        with short_video.open("rb") as handle:
            return cut_likeness(
                handle,
                tmp_path / "cut.mp4",
                1.0,
                3.5,
                stills_from=(1.5, 3.0),
                cancel=threading.Event(),
            )

    likeness = await asyncio.to_thread(cut)
    assert len(likeness.stills) == 3
    await place.store.save("job/12", likeness)

    assert await place.store.exists("job/12")
    assert await place.store.stills("job/12") == [s.jpeg for s in likeness.stills]
    assert await place.store.still_times("job/12") == [s.at for s in likeness.stills]
    assert await place.store.clip("job/12") == likeness.clip_path.read_bytes()
    assert await place.names() == [
        "job/12/clip.mp4",
        "job/12/still-1.jpg",
        "job/12/still-2.jpg",
        "job/12/still-3.jpg",
        "job/12/stills.json",
    ]


async def test_a_clip_larger_than_one_upload_part_is_kept_whole(
    place: Place, tmp_path: Path
) -> None:
    likeness = made_likeness(tmp_path / "big", clip_bytes=6 * 1024 * 1024 + 123)
    await place.store.save("job/1", likeness)
    assert await place.store.clip("job/1") == likeness.clip_path.read_bytes()


async def test_an_absent_key_reads_as_none(place: Place) -> None:
    assert await place.store.exists("job/404") is False
    assert await place.store.stills("job/404") is None
    assert await place.store.still_times("job/404") is None
    assert await place.store.clip("job/404") is None
    await place.store.delete("job/404")  # nothing to delete is fine
    assert await place.store.copy("job/404", "character/1") is False
    assert await place.names() == []


async def test_a_save_cut_short_before_its_times_counts_as_absent(
    place: Place, tmp_path: Path
) -> None:
    likeness = made_likeness(tmp_path / "src")
    await place.store.save("job/3", likeness)
    await obstore.delete_async(place.objects(), "job/3/stills.json")  # the crash
    assert await place.store.exists("job/3") is False
    assert await place.store.stills("job/3") is None
    assert await place.store.clip("job/3") is None
    assert await place.store.copy("job/3", "character/3") is False
    await place.store.save("job/3", likeness)  # saving again makes it whole
    assert await place.store.stills("job/3") == [s.jpeg for s in likeness.stills]


async def test_a_save_replaces_the_older_likeness_entirely(place: Place, tmp_path: Path) -> None:
    await place.store.save("character/5", made_likeness(tmp_path / "old", stills=3))
    newer = made_likeness(tmp_path / "new", stills=2)
    await place.store.save("character/5", newer)
    assert await place.store.stills("character/5") == [s.jpeg for s in newer.stills]
    assert await place.names("character/5") == [
        "character/5/clip.mp4",
        "character/5/still-1.jpg",
        "character/5/still-2.jpg",
        "character/5/stills.json",
    ]


async def test_copy_makes_the_jobs_likeness_the_characters(place: Place, tmp_path: Path) -> None:
    likeness = made_likeness(tmp_path / "src")
    await place.store.save("job/7", likeness)
    await place.store.save("character/9", made_likeness(tmp_path / "stale", stills=3))
    assert await place.store.copy("job/7", "character/9") is True
    for key in ("job/7", "character/9"):
        assert await place.store.stills(key) == [s.jpeg for s in likeness.stills]
        assert await place.store.still_times(key) == [s.at for s in likeness.stills]
        assert await place.store.clip(key) == likeness.clip_path.read_bytes()


async def test_a_key_is_never_copied_into_itself(place: Place, tmp_path: Path) -> None:
    likeness = made_likeness(tmp_path / "src")
    await place.store.save("job/2", likeness)
    for src, dest in (("job/2", "job/2"), ("job/2", "job/2/copy"), ("job/2", "job")):
        with pytest.raises(ValueError, match="one holds the other"):
            await place.store.copy(src, dest)
    assert await place.store.clip("job/2") == likeness.clip_path.read_bytes()


async def test_delete_removes_everything_under_the_key_and_nothing_else(
    place: Place, tmp_path: Path
) -> None:
    likeness = made_likeness(tmp_path / "src")
    for key in ("job/1", "job/10", "job/1/extra"):
        await place.store.save(key, likeness)
    await place.store.delete("job/1")
    assert await place.store.exists("job/1") is False
    assert await place.store.exists("job/1/extra") is False
    assert await place.names("job/1") == []
    assert await place.store.exists("job/10")
    assert len(await place.names()) == 5


def tree(folder: Path) -> list[Path]:
    return sorted(folder.rglob("*"))


@pytest.mark.parametrize(
    "key", ["../outside", "job/../../x", "/etc/passwd", "job//1", "job/1/", "job 1", "ä", "", "a.b"]
)
async def test_hostile_keys_are_refused(place: Place, tmp_path: Path, key: str) -> None:
    likeness = made_likeness(tmp_path / "src")
    before = tree(tmp_path)
    with pytest.raises(ValueError, match="not a likeness key"):
        await place.store.save(key, likeness)
    store = place.store
    for call in (
        lambda: store.stills(key),
        lambda: store.still_times(key),
        lambda: store.clip(key),
        lambda: store.exists(key),
        lambda: store.delete(key),
        lambda: store.copy(key, "job/1"),
        lambda: store.copy("job/1", key),
    ):
        with pytest.raises(ValueError, match="not a likeness key"):
            await call()
    assert tree(tmp_path) == before
    assert await place.names() == []


async def test_the_description_says_where_and_never_the_secret(
    place: Place, tmp_path: Path, s3_endpoint: str
) -> None:
    store = place.store
    if store.is_local:
        assert store.description == str(tmp_path / "data" / "likeness")
    else:
        port = s3_endpoint.rsplit(":", 1)[1]
        assert store.description.startswith("s3://likeness-")
        assert store.description.endswith(f"/likeness at 127.0.0.1:{port}")
    assert SECRET_KEY not in store.description and ACCESS_KEY not in store.description


async def test_a_missing_bucket_fails_plainly_without_the_secret(
    tmp_path: Path, s3_endpoint: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    use_test_credentials(monkeypatch)
    store = open_likeness_store("s3://no-such-bucket/x", tmp_path, s3_endpoint)
    with pytest.raises(LikenessStoreError) as failure:
        await store.save("job/1", made_likeness(tmp_path / "src"))
    message = str(failure.value)
    assert message.startswith("the likeness store s3://no-such-bucket/x at 127.0.0.1:")
    assert message.endswith("failed: NoSuchBucket")
    assert SECRET_KEY not in message and ACCESS_KEY not in message
    with pytest.raises(LikenessStoreError, match="NoSuchBucket"):
        await store.check()


async def test_the_local_folder_is_made_at_the_first_save(tmp_path: Path) -> None:
    store = open_likeness_store("", tmp_path / "data", None)
    assert store.is_local
    await store.check()
    assert await store.stills("job/1") is None
    assert not (tmp_path / "data").exists()
    await store.save("job/1", made_likeness(tmp_path / "src"))
    assert (tmp_path / "data" / "likeness" / "job" / "1" / "stills.json").is_file()


@pytest.mark.parametrize(
    ("location", "endpoint", "why"),
    [
        ("/srv/likeness", None, "not an s3://bucket/prefix address"),
        ("gs://bucket/x", None, "not an s3://bucket/prefix address"),
        ("s3://", None, "bucket name"),
        ("s3://Bad_Bucket/x", None, "bucket name"),
        ("s3://bucket/a/../b", None, "'.' or '..'"),
        ("s3://bucket/a b", None, "the prefix may hold"),
        ("s3://bucket/x", "ftp://minio.local", "http:// or https://"),
    ],
)
def test_locations_that_are_not_a_store_are_refused(
    tmp_path: Path, location: str, endpoint: str | None, why: str
) -> None:
    with pytest.raises(ValueError, match=re.escape(why)):
        open_likeness_store(location, tmp_path, endpoint)


async def test_the_core_keeps_likenesses_where_the_settings_say(
    tmp_path: Path, s3_endpoint: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    use_test_credentials(monkeypatch)
    bucket = new_bucket(s3_endpoint)
    base: dict[str, Any] = {"toapis_api_key": "sk-test", "data_dir": tmp_path, "_env_file": None}
    core = await open_core(Settings(**base))
    try:
        assert core.likenesses.is_local
        assert core.likenesses.description == str(tmp_path / "likeness")
    finally:
        await core.close()
    shared = Settings(
        **base,
        likeness_store=f"s3://{bucket}/bot",
        likeness_s3_endpoint_url=s3_endpoint,
    )
    core = await open_core(shared)
    try:
        likeness = made_likeness(tmp_path / "src")
        await core.likenesses.save("job/1", likeness)
        assert not core.likenesses.is_local
        assert core.likenesses.description.startswith(f"s3://{bucket}/bot at 127.0.0.1:")
    finally:
        await core.close()
    again = open_likeness_store(f"s3://{bucket}/bot", tmp_path, s3_endpoint)
    assert await again.stills("job/1") == [s.jpeg for s in likeness.stills]
    assert not (tmp_path / "likeness").exists()
