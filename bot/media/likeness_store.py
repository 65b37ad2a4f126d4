"""Where likenesses are kept: files under the data folder, or an S3-compatible store.

One interface over both, through obstore. A likeness under `<key>/` is `clip.mp4`,
`still-1.jpg`.. and `stills.json` (the stills' times). `stills.json` is written last and
removed first, and a key without it counts as absent: a save or delete cut short by a
crash never leaves a likeness that looks whole. Keys are made by the caller (`job/12`,
`character/34`); only letters, digits, `_`, `-` and `/` between segments are taken.
"""

from __future__ import annotations

import contextlib
import json
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import obstore
from obstore.exceptions import BaseError, NotFoundError
from obstore.store import LocalStore, S3Store

if TYPE_CHECKING:
    from obstore.store import ClientConfig, ObjectStore, RetryConfig

    from bot.media.likeness import Likeness

CLIP = "clip.mp4"
TIMES = "stills.json"
LOCAL_FOLDER = "likeness"

_KEY = re.compile(r"[A-Za-z0-9_-]+(/[A-Za-z0-9_-]+)*")
_PREFIX = re.compile(r"[A-Za-z0-9._-]+(/[A-Za-z0-9._-]+)*")
_BUCKET = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")
_CODE = re.compile(r"<Code>(\w+)</Code>")
_STATUS = re.compile(r"status code: (\d{3} [A-Za-z ]+)")
# A failing store answers within about half a minute, not obstore's default 3 minutes.
_RETRY: RetryConfig = {"max_retries": 3, "retry_timeout": timedelta(seconds=30)}
_CLIENT: ClientConfig = {"connect_timeout": timedelta(seconds=5), "timeout": timedelta(seconds=60)}


# What obstore raises for a name that is not there (its own class, or the built-in one).
_ABSENT = (NotFoundError, FileNotFoundError)


class LikenessStoreError(Exception):
    """The store failed (unreachable, refused, full); the message holds no secret."""


@dataclass(frozen=True, slots=True)
class S3Location:
    """`s3://bucket/prefix`, parsed."""

    bucket: str
    prefix: str


def parse_location(location: str) -> S3Location:
    """`s3://bucket/prefix` (prefix optional); ValueError with a plain reason otherwise."""
    parts = urlsplit(location.strip())
    if parts.scheme != "s3":
        raise ValueError("not an s3://bucket/prefix address")
    if not _BUCKET.fullmatch(parts.netloc):
        raise ValueError("the bucket name must be 3-63 lower-case letters, digits, dots or hyphens")
    prefix = parts.path.strip("/")
    if parts.query or parts.fragment or (prefix and not _PREFIX.fullmatch(prefix)):
        raise ValueError("the prefix may hold letters, digits, '.', '_', '-' and '/' only")
    if any(segment in (".", "..") for segment in prefix.split("/")):
        raise ValueError("the prefix may not hold '.' or '..' segments")
    return S3Location(parts.netloc, prefix)


def check_key(key: str) -> str:
    """The key, if it is one we make: segments of [A-Za-z0-9_-] joined by '/'."""
    if not _KEY.fullmatch(key):
        raise ValueError(f"not a likeness key: {key!r}")
    return key


def _still(number: int) -> str:
    return f"still-{number}.jpg"


class LikenessStore:
    """Saves, reads, copies and deletes likenesses under keys (see the module doc)."""

    def __init__(
        self,
        make: Callable[[], ObjectStore],
        *,
        description: str,
        is_local: bool,
        folder: Path | None = None,
    ) -> None:
        self._make = make
        self._store: ObjectStore | None = None
        self.folder = folder  # the local folder; None for S3
        self.description = description
        self.is_local = is_local

    def _open(self, *, create: bool = False) -> ObjectStore | None:
        """The object store; None while a local folder is not there yet (nothing saved)."""
        if self._store is None:
            if self.folder is not None and not self.folder.is_dir():
                if not create:
                    return None
                self.folder.mkdir(parents=True, exist_ok=True)
            self._store = self._make()
        return self._store

    async def save(self, key: str, likeness: Likeness) -> None:
        """Keep the clip (streamed from its file), the stills and their times under `key`."""
        check_key(key)
        await self.delete(key)  # a save over an older likeness leaves none of it behind
        times = json.dumps({"times": [still.at for still in likeness.stills]}).encode()
        with self._failures():
            store = self._open(create=True)
            assert store is not None
            await obstore.put_async(store, f"{key}/{CLIP}", likeness.clip_path)
            for number, still in enumerate(likeness.stills, 1):
                await obstore.put_async(store, f"{key}/{_still(number)}", still.jpeg)
            await obstore.put_async(store, f"{key}/{TIMES}", times)

    async def still_times(self, key: str) -> list[float] | None:
        """The stills' times in the source (seconds), or None when no likeness is kept."""
        raw = await self._read(check_key(key), TIMES)
        if raw is None:
            return None
        try:
            return [float(at) for at in json.loads(raw)["times"]]
        except (ValueError, KeyError, TypeError):
            raise LikenessStoreError(f"{key}/{TIMES} in {self.description} is damaged") from None

    async def stills(self, key: str) -> list[bytes] | None:
        """The stills (JPEG), earliest first, or None when no likeness is kept."""
        times = await self.still_times(key)
        if times is None:
            return None
        found = []
        for number in range(1, len(times) + 1):
            data = await self._read(key, _still(number))
            if data is None:  # deleted while we read
                return None
            found.append(data)
        return found

    async def clip(self, key: str) -> bytes | None:
        """The clip (MP4), or None when no likeness is kept."""
        if not await self.exists(key):
            return None
        return await self._read(key, CLIP)

    async def exists(self, key: str) -> bool:
        """A whole likeness is kept under `key`."""
        check_key(key)
        with self._failures():
            store = self._open()
            if store is None:
                return False
            try:
                await obstore.head_async(store, f"{key}/{TIMES}")
            except _ABSENT:
                return False
        return True

    async def copy(self, src_key: str, dest_key: str) -> bool:
        """Make `dest_key` hold what `src_key` holds (False, and nothing copied, when
        there is no likeness under `src_key`). Neither key may hold the other."""
        check_key(src_key)
        check_key(dest_key)
        if _nested(src_key, dest_key) or _nested(dest_key, src_key):
            raise ValueError(f"cannot copy {src_key} to {dest_key}: one holds the other")
        times = await self.still_times(src_key)
        if times is None:
            return False
        await self.delete(dest_key)
        names = [CLIP, *(_still(n) for n in range(1, len(times) + 1)), TIMES]
        with self._failures():
            store = self._open()
            assert store is not None
            with contextlib.suppress(*_ABSENT):
                for name in names:
                    await obstore.copy_async(store, f"{src_key}/{name}", f"{dest_key}/{name}")
                return True
        await self.delete(dest_key)  # the source went while we copied
        return False

    async def delete(self, key: str) -> None:
        """Remove everything under `key` (its times first); nothing there is fine."""
        check_key(key)
        with self._failures():
            store = self._open()
            if store is None:
                return
            await _delete(store, [f"{key}/{TIMES}"])
            paths: list[str] = []
            async for chunk in obstore.list(store, key):
                paths += [meta["path"] for meta in chunk]
            await _delete(store, paths)

    async def check(self) -> None:
        """Ask the store for one name under it (LikenessStoreError if it cannot answer)."""
        with self._failures():
            store = self._open()
            if store is not None:
                async for _chunk in obstore.list(store, None, chunk_size=1):
                    break

    async def aclose(self) -> None:
        """Let the store's connections go."""
        self._store = None

    async def _read(self, key: str, name: str) -> bytes | None:
        with self._failures():
            store = self._open()
            if store is None:
                return None
            try:
                result = await obstore.get_async(store, f"{key}/{name}")
                return bytes(await result.bytes_async())
            except _ABSENT:
                return None

    @contextlib.contextmanager
    def _failures(self) -> Iterator[None]:
        """Turn the store's errors into a LikenessStoreError that names no secret."""
        try:
            yield
        except (BaseError, OSError) as exc:
            message = f"the likeness store {self.description} failed: {reason(exc)}"
            raise LikenessStoreError(message) from None


def _nested(outer: str, inner: str) -> bool:
    return inner == outer or inner.startswith(f"{outer}/")


async def _delete(store: ObjectStore, paths: list[str]) -> None:
    # Already gone is fine (local files are deleted one by one).
    with contextlib.suppress(*_ABSENT):
        if paths:
            await obstore.delete_async(store, paths)


def reason(exc: BaseException) -> str:
    """A short, secret-free reason: the S3 error code or HTTP status, else the kind."""
    text = str(exc)
    code = _CODE.search(text) or _STATUS.search(text)
    if code:
        return code.group(1).strip()
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return type(exc).__name__


def open_likeness_store(
    location: str | None,
    data_dir: Path,
    endpoint_url: str | None,
    *,
    s3_config: Mapping[str, str] | None = None,
) -> LikenessStore:
    """The store `LIKENESS_STORE` names: empty for `data_dir/likeness` on this machine's
    disk (made at the first save), `s3://bucket/prefix` for S3 or any S3-compatible
    store at `endpoint_url`. Credentials and region come from the standard `AWS_*`
    variables (`s3_config` adds those read from `.env`); ValueError for anything else."""
    if location is None or not location.strip():
        folder = data_dir / LOCAL_FOLDER
        return LikenessStore(
            lambda: LocalStore(folder, automatic_cleanup=True),
            description=str(folder),
            is_local=True,
            folder=folder,
        )
    target = parse_location(location)
    config: dict[str, Any] = dict(s3_config or {})
    client: dict[str, Any] = dict(_CLIENT)
    shown = f"s3://{target.bucket}/{target.prefix}".rstrip("/")
    if endpoint_url:
        endpoint = urlsplit(endpoint_url)
        if endpoint.scheme not in ("http", "https") or not endpoint.hostname:
            raise ValueError("LIKENESS_S3_ENDPOINT_URL must be an http:// or https:// URL")
        config["endpoint"] = endpoint_url.rstrip("/")
        client["allow_http"] = endpoint.scheme == "http"
        port = f":{endpoint.port}" if endpoint.port else ""
        shown += f" at {endpoint.hostname}{port}"
    try:
        store = S3Store(
            target.bucket,
            prefix=target.prefix or None,
            config=config,  # type: ignore[arg-type]
            client_options=client,  # type: ignore[arg-type]
            retry_config=_RETRY,
        )
    except BaseError as exc:
        raise ValueError(f"cannot use {shown}: {reason(exc)}") from None
    return LikenessStore(lambda: store, description=shown, is_local=False)
