"""The files the simulator serves: hosted uploads (`/v1/uploads/videos` and
`/uploads/videos/{name}`), avatar images (`/f/image/{name}`) and finished videos
(`/f/video/{name}`, at `video_bytes_per_second` when the scenario slows them down).
Mixed into `bot.simulator.server.Simulator`, which owns the state.
"""

from __future__ import annotations

import asyncio
import re
from pathlib import Path
from typing import Literal

from aiohttp import web

from bot.simulator.scenario import Scenario
from bot.simulator.tasks import SimTask
from bot.simulator.uploads import receive_upload
from bot.simulator.videos import result_video_chunks

_SAFE_NAME = re.compile(r"^[A-Za-z0-9_.-]+$")
VIDEO_CHUNK = 64 * 1024


class SimulatorFiles:
    """Uploads, avatars and result videos (see `Simulator`)."""

    scenario: Scenario
    tasks: dict[str, SimTask]
    base_url: str
    video_requests: list[str]  # names of the result videos asked for, in order
    _upload_dir: Path | None
    _avatar: bytes

    def _refuse(
        self, request: web.Request, kind: Literal["submit", "query", "upload"]
    ) -> web.Response | None:
        raise NotImplementedError

    async def _upload(self, request: web.Request) -> web.Response:
        refused = self._refuse(request, "upload")
        if refused is not None:
            return refused
        assert self._upload_dir is not None
        status, body = await receive_upload(
            request,
            self._upload_dir,
            max_bytes=self.scenario.max_upload_bytes,
            base_url=self.base_url,
        )
        return web.json_response(body, status=status)

    async def _uploaded_file(self, request: web.Request) -> web.StreamResponse:
        name = request.match_info["name"]
        path = self._upload_dir / name if self._upload_dir is not None else None
        if not _SAFE_NAME.match(name) or path is None or not path.is_file():
            raise web.HTTPNotFound()
        return web.FileResponse(path)

    async def _image(self, request: web.Request) -> web.Response:
        name = request.match_info["name"]
        if not _SAFE_NAME.match(name) or not name.lower().endswith((".jpg", ".jpeg")):
            raise web.HTTPNotFound()
        return web.Response(body=self._avatar, content_type="image/jpeg")

    async def _video(self, request: web.Request) -> web.StreamResponse:
        """A completed video task's result file, streamed (slowly, if the scenario says)."""
        name = request.match_info["name"]
        task = self.tasks.get(name.removesuffix(".mp4"))
        if task is None or task.kind != "video" or task.video_url is None:
            raise web.HTTPNotFound()
        self.video_requests.append(name)
        if self.scenario.result_video_file:
            return web.FileResponse(self.scenario.result_video_file)
        size = self.scenario.video_bytes
        response = web.StreamResponse(headers={"Content-Type": "video/mp4"})
        response.content_length = size
        await response.prepare(request)
        for piece in result_video_chunks(size, VIDEO_CHUNK):
            rate = self.scenario.video_bytes_per_second
            if rate > 0:
                await asyncio.sleep(len(piece) / rate)
            await response.write(piece)
        await response.write_eof()
        return response
