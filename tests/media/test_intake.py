"""Media intake on real files: a 10-minute source over a Range server, a real simulator."""

from __future__ import annotations

import asyncio
import io
import shutil
import socket
import struct
import threading
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import av
import httpx
import pytest
import pytest_asyncio

from bot.media import clip_work
from bot.media.cut import Cut, CutCancelled, clip_window
from bot.media.errors import MediaError
from bot.media.intake import MediaIntake, PreparedSource
from bot.media.orders import AttachmentInfo, CreateOrder, plan_order
from bot.media.probe import probe
from bot.providers.base import UploadedVideo, UploadRejectedError
from bot.providers.toapis import ToapisClient
from bot.simulator import Simulator
from tests.sample_media import make_video
from tests.shared_media import made_once


@pytest.fixture(scope="module")
def ten_minutes(media_dir: Path) -> Path:
    """A 600 s, 160x120, 10 fps video with sound (about 16 MB; keyframes every 25 s)."""
    return made_once(
        media_dir / "ten-minutes.mp4",
        lambda path: make_video(path, seconds=600, bitrate="150k", size="160x120", fps=10),
    )


@pytest_asyncio.fixture
async def provider(simulator: Simulator) -> AsyncIterator[ToapisClient]:
    client = ToapisClient(
        simulator.base_url, simulator.scenario.api_key, max_attempts=1, timeout=10
    )
    try:
        yield client
    finally:
        await client.aclose()


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    path = tmp_path / "work"
    path.mkdir()
    return path


@pytest.fixture
def intake(provider: ToapisClient, workdir: Path) -> MediaIntake:
    return MediaIntake(provider, allow_private=True, workdir=workdir)


def link(base: str, video: Path, start: float, end: float) -> CreateOrder:
    return plan_order(url=f"{base}/{video.name}", start=start, end=end, allow_private=True)


def attachment(base: str, video: Path, start: float, end: float) -> CreateOrder:
    info = AttachmentInfo(
        url=f"{base}/{video.name}",
        filename=video.name,
        size=video.stat().st_size,
        content_type="video/mp4",
    )
    return plan_order(video=info, start=start, end=end)


def uploads(simulator: Simulator) -> int:
    return sum(1 for r in simulator.requests if r.path == "/v1/uploads/videos")


async def fetch(url: str) -> bytes:
    async with httpx.AsyncClient() as client:
        response = await client.get(url)
    assert response.status_code == 200
    return response.content


def describe(data: bytes) -> tuple[float, bool, str]:
    """(duration, has audio, video codec) of an MP4 held in memory."""
    with av.open(io.BytesIO(data), mode="r") as container:
        assert container.duration is not None
        return (
            container.duration / av.time_base,
            bool(container.streams.audio),
            container.streams.video[0].codec_context.name,
        )


def test_clip_window_starts_whole_seconds_before_the_range() -> None:
    assert clip_window(61.5, 63.5, 600.0, 1.0) == (60.5, 64.5)
    assert clip_window(0.5, 2.0, 600.0, 1.0) == (0.5, 3.0)  # no room before: margin shrinks
    assert clip_window(1.5, 3.0, 3.2, 1.0) == (0.5, 3.2)  # clamped to the duration
    assert clip_window(10.25, 12.0, None, 0.5) == (9.25, 12.5)


async def test_long_link_is_cut_uploaded_and_read_sparingly(
    intake, media_server, ten_minutes, simulator, workdir
):
    prepared = await intake.prepare(link(media_server, ten_minutes, 61.5, 63.5))
    assert prepared.uploaded and prepared.from_task is None
    assert prepared.url is not None and prepared.url.startswith(f"{simulator.base_url}/uploads/")
    assert (prepared.start, prepared.end, prepared.timestamps) == (1.0, 3.0, "1,3")
    assert prepared.clip_offset == pytest.approx(60.5)
    assert not prepared.stream_copied  # no keyframe at 60.5: re-encoded
    clip = await fetch(prepared.url)
    duration, has_audio, codec = describe(clip)
    assert duration == pytest.approx(2 + 2 * 1.0, abs=0.15)
    assert has_audio and codec == "h264"
    assert prepared.preview_name == "clip.mp4" and prepared.preview == clip
    size = ten_minutes.stat().st_size
    assert prepared.bytes_read < 0.05 * size, (prepared.bytes_read, size)
    assert uploads(simulator) == 1
    assert list(workdir.iterdir()) == []


async def test_keyframe_aligned_window_is_stream_copied(intake, media_server, ten_minutes):
    prepared = await intake.prepare(link(media_server, ten_minutes, 26, 28.5))
    assert prepared.stream_copied and prepared.clip_offset == pytest.approx(25.0)
    assert prepared.timestamps == "1,3.5"
    assert prepared.url is not None
    duration, has_audio, _ = describe(await fetch(prepared.url))
    assert duration == pytest.approx(4.5, abs=0.15) and has_audio


async def test_short_link_passes_through_unchanged(intake, media_server, short_video, simulator):
    order = link(media_server, short_video, 1, 3)
    prepared = await intake.prepare(order)
    assert prepared.url == order.url and not prepared.uploaded
    assert (prepared.start, prepared.end, prepared.clip_offset) == (1, 3, None)
    assert prepared.preview is None and prepared.preview_name is None
    assert prepared.info is not None and prepared.info.has_audio
    assert uploads(simulator) == 0


async def test_long_attachment_is_cut(intake, media_server, ten_minutes, simulator, workdir):
    prepared = await intake.prepare(attachment(media_server, ten_minutes, 300.2, 302.2))
    assert prepared.uploaded and prepared.timestamps == "1,3"
    assert prepared.clip_offset == pytest.approx(299.2)
    assert uploads(simulator) == 1
    assert list(workdir.iterdir()) == []


async def test_short_attachment_is_cut_unless_the_window_is_the_whole_file(
    intake, media_server, short_video, simulator
):
    cut = await intake.prepare(attachment(media_server, short_video, 1, 3))
    assert cut.uploaded and cut.timestamps == "1,3" and cut.clip_offset == 0
    whole = await intake.prepare(attachment(media_server, short_video, 1, 4))
    assert not whole.uploaded and whole.url is not None and whole.url.endswith(short_video.name)
    assert uploads(simulator) == 1


async def test_preview_is_a_jpeg_still_when_the_clip_is_too_big(intake, media_server, ten_minutes):
    prepared = await intake.prepare(link(media_server, ten_minutes, 61.5, 63.5), preview_limit=100)
    assert prepared.preview_name == "frame.jpg"
    assert prepared.preview is not None and prepared.preview[:2] == b"\xff\xd8"
    with av.open(io.BytesIO(prepared.preview), mode="r") as image:
        frame = next(image.decode(video=0))
        assert (frame.width, frame.height) == (160, 120)


async def test_from_task_is_returned_untouched(intake, simulator):
    order = plan_order(from_task="task_01KBYT59JDHB4A3KDDR9N9JVWP", start=1, end=2)
    prepared = await intake.prepare(order)
    assert prepared == PreparedSource(
        url=None,
        from_task="task_01KBYT59JDHB4A3KDDR9N9JVWP",
        start=1,
        end=2,
        clip_offset=None,
        uploaded=False,
        preview=None,
        preview_name=None,
        info=None,
    )
    assert simulator.requests == []


async def test_refused_upload_propagates_and_leaves_no_files(
    intake, media_server, ten_minutes, simulator, workdir
):
    simulator.scenario.update(max_upload_bytes=1000)
    with pytest.raises(UploadRejectedError):
        await intake.prepare(link(media_server, ten_minutes, 61.5, 63.5))
    assert list(workdir.iterdir()) == []


async def test_clip_over_the_upload_limit_is_refused_before_uploading(
    provider, media_server, ten_minutes, simulator, workdir
):
    small = MediaIntake(provider, allow_private=True, workdir=workdir, upload_limit=1000)
    with pytest.raises(MediaError) as caught:
        await small.prepare(link(media_server, ten_minutes, 61.5, 63.5))
    assert caught.value.kind == "too_big"
    assert uploads(simulator) == 0
    assert list(workdir.iterdir()) == []


async def test_silent_source_is_refused(intake, media_server, silent_video, simulator):
    with pytest.raises(MediaError) as caught:
        await intake.prepare(link(media_server, silent_video, 1, 2))
    assert caught.value.kind == "no_audio"
    assert simulator.requests == []


async def test_cancel_during_the_cut_waits_for_the_worker_and_cleans_up(
    intake, media_server, ten_minutes, workdir, monkeypatch
):
    started = threading.Event()
    stopped = threading.Event()

    def slow_cut(
        container: Any, dest: Path, begin: float, finish: float, *, cancel, tap=None
    ) -> Cut:
        dest.write_bytes(b"partial")
        started.set()
        try:
            if cancel.wait(10):
                raise CutCancelled
            raise AssertionError("never cancelled")
        finally:
            stopped.set()

    monkeypatch.setattr(clip_work, "cut_container", slow_cut)
    task = asyncio.create_task(intake.prepare(link(media_server, ten_minutes, 61.5, 63.5)))
    assert await asyncio.to_thread(started.wait, 10)
    assert any(workdir.iterdir())
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert stopped.is_set()  # the worker had finished before prepare() gave up
    assert list(workdir.iterdir()) == []


async def test_cancel_during_the_upload_cleans_up(media_server, ten_minutes, workdir):
    uploading = asyncio.Event()

    class StuckProvider:
        name = "stuck"

        async def upload_video(self, path: Path, *, filename: str | None = None) -> UploadedVideo:
            uploading.set()
            await asyncio.Event().wait()
            raise AssertionError("unreachable")

    stuck: Any = StuckProvider()
    intake = MediaIntake(stuck, allow_private=True, workdir=workdir)
    task = asyncio.create_task(intake.prepare(link(media_server, ten_minutes, 61.5, 63.5)))
    await asyncio.wait_for(uploading.wait(), 10)
    assert any(workdir.iterdir())
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert list(workdir.iterdir()) == []


async def test_known_info_skips_the_probe(intake, media_server, ten_minutes, short_video):
    order = link(media_server, short_video, 1, 3)
    info = await probe(order.url or "", allow_private=True)
    passed = await intake.prepare(order, info=info)
    assert passed.url == order.url and passed.bytes_read == 0 and passed.info is info
    long_order = link(media_server, ten_minutes, 61.5, 63.5)
    long_info = await probe(long_order.url or "", allow_private=True)
    cut = await intake.prepare(long_order, info=long_info)
    assert cut.uploaded and cut.timestamps == "1,3" and cut.info is long_info


async def test_non_video_is_refused(intake, media_server, non_video, simulator, workdir):
    with pytest.raises(MediaError) as caught:
        await intake.prepare(link(media_server, non_video, 1, 2))
    assert caught.value.kind == "not_a_video"
    assert simulator.requests == []
    assert list(workdir.iterdir()) == []


@pytest.mark.parametrize("rebind", [False, True])
async def test_every_read_goes_through_the_egress_proxy(
    provider, workdir, media_dir, short_video, simulator, monkeypatch, rebind
):
    """`videos.test` resolves to a "public" 127.0.0.2 for the checks, then to a private
    address (DNS rebinding). The cut still reads from the checked address: the proxy
    connects to what it checked; a direct connection could not even resolve the name."""
    from aiohttp import web

    from bot.media import reader
    from bot.net import address_guard as net_guard
    from bot.net import dns, egress_proxy

    app = web.Application()
    app.router.add_static("/", media_dir)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.2", 0).start()
    port = runner.addresses[0][1]
    lookups: list[str] = []

    def rebinding(host: str, port: int) -> list[str]:
        if host != "videos.test":
            raise OSError("unknown host")
        lookups.append(host)
        return ["127.0.0.2"] if len(lookups) == 1 or not rebind else ["10.0.0.7"]

    def public(address: str) -> bool:
        return address == "127.0.0.2" or net_guard.is_public_address(address)

    monkeypatch.setattr(dns, "resolve_host", rebinding)
    for module in (reader, egress_proxy):
        monkeypatch.setattr(module, "is_public_address", public)
    try:
        guarded = MediaIntake(provider, allow_private=False, workdir=workdir)
        order = plan_order(
            video=AttachmentInfo(
                f"http://videos.test:{port}/{short_video.name}",
                "clip.mp4",
                short_video.stat().st_size,
                "video/mp4",
            ),
            start="1",
            end="3",
        )
        if not rebind:  # only the proxy can reach `videos.test`: success proves the path
            prepared = await guarded.prepare(order)
            assert prepared.uploaded and uploads(simulator) == 1
            return
        with pytest.raises(MediaError):
            await guarded.prepare(order)
        # The reader checked 127.0.0.2; the proxy's own lookup got the private answer and
        # refused it, so nothing was read from anywhere else and nothing was uploaded.
        assert uploads(simulator) == 0
    finally:
        await runner.cleanup()


async def test_connection_refused_is_said_as_such(intake: MediaIntake, unused_tcp_port: int):
    order = plan_order(
        url=f"http://127.0.0.1:{unused_tcp_port}/clip.mp4", start=1, end=3, allow_private=True
    )
    with pytest.raises(MediaError) as caught:
        await intake.prepare(order)
    assert caught.value.kind == "unreachable"
    assert str(caught.value) == "Could not connect to the host `127.0.0.1` (connection refused)."


async def test_connection_reset_is_said_as_such(intake: MediaIntake):
    async def reset(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        sock = writer.get_extra_info("socket")
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        writer.close()  # RST, not FIN

    server = await asyncio.start_server(reset, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        order = plan_order(
            url=f"http://127.0.0.1:{port}/clip.mp4", start=1, end=3, allow_private=True
        )
        with pytest.raises(MediaError) as caught:
            await intake.prepare(order)
    finally:
        server.close()
        await server.wait_closed()
    assert caught.value.kind == "unreachable"
    assert str(caught.value) == "The connection to `127.0.0.1` was reset; try again."


async def test_workspaces_are_removed_off_the_event_loop(
    intake, media_server, short_video, ten_minutes, workdir, monkeypatch
):
    # Removing a folder of clips blocks for as long as the disk takes: never on the loop,
    # where every other member's interaction waits behind it.
    removed: list[tuple[str, bool]] = []
    real_rmtree = shutil.rmtree

    def rmtree(path: Any, *args: Any, **kwargs: Any) -> None:
        try:
            asyncio.get_running_loop()
            on_loop = True
        except RuntimeError:
            on_loop = False
        removed.append((Path(path).name, on_loop))
        real_rmtree(path, *args, **kwargs)

    monkeypatch.setattr(shutil, "rmtree", rmtree)
    await intake.prepare(link(media_server, short_video, 0.5, 2.5))  # passed through
    await intake.prepare(link(media_server, ten_minutes, 61.5, 63.5))  # cut and uploaded
    assert [on_loop for _, on_loop in removed] == [False, False], removed
    assert list(workdir.iterdir()) == []


class Kept:
    """A keeper that records the likeness it was handed (its clip read before cleanup)."""

    def __init__(self) -> None:
        self.stills: list[tuple[float, bytes]] = []
        self.clip: bytes = b""

    async def __call__(self, likeness: Any) -> str:
        self.stills = [(s.at, s.jpeg) for s in likeness.stills]
        self.clip = likeness.clip_path.read_bytes()
        return "g1/j1"


@pytest.fixture(scope="module")
def timecode(media_dir: Path) -> Path:
    from tests.sample_media import make_timecode_video

    return made_once(
        media_dir / "intake-timecode.mp4",
        lambda path: make_timecode_video(path, seconds=8, sharp=(3.2, 4.2)),
    )


async def test_a_kept_likeness_has_three_stills_of_the_range_even_when_the_link_passes_through(
    intake, media_server, timecode, simulator
):
    import cv2
    import numpy as np

    from tests.sample_media import timecode_of

    kept = Kept()
    order = link(media_server, timecode, 2.5, 5.5)
    prepared = await intake.prepare(order, keep=kept)
    assert prepared.url == order.url and not prepared.uploaded  # sent unchanged, as before
    assert prepared.likeness == "g1/j1" and uploads(simulator) == 0
    assert len(kept.stills) == 3 and describe(kept.clip)[1]  # the clip keeps its sound
    for at, jpeg in kept.stills:
        assert 2.5 <= at <= 5.5
        image = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_GRAYSCALE)
        assert timecode_of(image) == round(at * 25)  # the source frame at that moment


async def test_a_cut_link_keeps_its_likeness_and_uploads_the_clip_once(
    intake, media_server, ten_minutes, simulator
):
    kept = Kept()
    prepared = await intake.prepare(link(media_server, ten_minutes, 61.5, 63.5), keep=kept)
    assert prepared.uploaded and prepared.likeness == "g1/j1" and uploads(simulator) == 1
    assert [61.5 <= at <= 63.5 for at, _ in kept.stills] == [True, True, True]
