"""A fake Discord gateway: a loopback websocket speaking enough of v10 for discord.py.

HELLO on connect; READY + one GUILD_CREATE per configured guild on IDENTIFY; heartbeat
ACKs; RESUME refused (op 9, `d: false`, so the client identifies again). Frames go out as
uncompressed TEXT even though discord.py asks for `compress=zlib-stream`: it only
decompresses BINARY frames. Received frames are kept with any token redacted; nothing is
logged.
"""

from __future__ import annotations

import asyncio
import copy
import json
import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from aiohttp import WSMsgType, web

from tests.fakes import payloads
from tests.fakes.ids import APP_ID

Payload = dict[str, Any]
Listener = Callable[[str, Payload], None]

DISPATCH, HEARTBEAT, IDENTIFY, RESUME, RECONNECT, INVALID_SESSION, HELLO, HEARTBEAT_ACK = (
    0,
    1,
    2,
    6,
    7,
    9,
    10,
    11,
)
REDACTED = "<redacted>"


def redact(frame: Payload) -> Payload:
    """A copy of a client frame without its token (IDENTIFY and RESUME carry one)."""
    data = frame.get("d")
    if isinstance(data, dict) and "token" in data:
        return {**frame, "d": {**data, "token": REDACTED}}
    return frame


@dataclass
class GatewaySession:
    """One connected client."""

    ws: web.WebSocketResponse
    seq: int = 0
    identified: bool = False
    session_id: str = field(default_factory=lambda: secrets.token_hex(16))

    async def send(self, op: int, data: Any, event: str | None = None) -> None:
        """Send one frame (dispatches get the next sequence number)."""
        seq: int | None = None
        if op == DISPATCH:
            self.seq += 1
            seq = self.seq
        await self.ws.send_str(json.dumps({"op": op, "d": data, "s": seq, "t": event}))


class FakeGateway:
    """The gateway websocket at `/gateway`: mount it on an app or `start()` it alone."""

    def __init__(
        self, guilds: Sequence[Payload] | None = None, *, heartbeat_interval: int = 41250
    ) -> None:
        self.guilds: list[Payload] = list(guilds) if guilds is not None else [payloads.guild()]
        self.heartbeat_interval = heartbeat_interval
        self.received: list[Payload] = []
        self.identify_count = 0
        self.resume_count = 0
        self.sessions: list[GatewaySession] = []
        self.listeners: list[Listener] = []
        self.root_url = ""
        self._ready = asyncio.Event()
        self._runner: web.AppRunner | None = None

    @property
    def gateway_url(self) -> str:
        """`ws://127.0.0.1:PORT/gateway` (assign `yarl.URL(...)` to DEFAULT_GATEWAY)."""
        if not self.root_url:
            raise RuntimeError("gateway not started")
        return "ws" + self.root_url.removeprefix("http") + "/gateway"

    def routes(self) -> list[web.RouteDef]:
        """The aiohttp route definition (to mount on another app)."""
        return [web.get("/gateway", self.handle)]

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        """Run on its own loopback server; return `gateway_url`."""
        app = web.Application()
        app.add_routes(self.routes())
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, host, port).start()
        self.root_url = f"http://{host}:{self._runner.addresses[0][1]}"
        return self.gateway_url

    async def stop(self) -> None:
        """Close every client, and the server when `start()` made one."""
        await self.close_clients()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def close_clients(self, code: int = 1001) -> None:
        """Close every connected websocket with `code`."""
        for session in list(self.sessions):
            await session.ws.close(code=code)

    async def wait_ready(self, timeout: float = 5) -> None:  # noqa: ASYNC109
        """Wait until a client has identified and received READY and its guilds."""
        await asyncio.wait_for(self._ready.wait(), timeout)

    async def dispatch(self, event: str, data: Payload) -> int:
        """Send a dispatch (op 0) to every identified client; return how many got it."""
        targets = [s for s in self.sessions if s.identified and not s.ws.closed]
        if not targets:
            raise RuntimeError(f"no identified gateway client to send {event} to")
        for listener in self.listeners:
            listener(event, data)
        for session in targets:
            await session.send(DISPATCH, data, event)
        return len(targets)

    async def reconnect(self) -> None:
        """Ask every client to reconnect (op 7)."""
        for session in list(self.sessions):
            await session.send(RECONNECT, None)

    async def handle(self, request: web.Request) -> web.WebSocketResponse:
        """One client connection: HELLO, then answer its frames until it leaves."""
        ws = web.WebSocketResponse(max_msg_size=0)
        await ws.prepare(request)
        session = GatewaySession(ws)
        self.sessions.append(session)
        try:
            await session.send(HELLO, {"heartbeat_interval": self.heartbeat_interval})
            async for msg in ws:
                if msg.type not in (WSMsgType.TEXT, WSMsgType.BINARY):
                    break
                await self._on_frame(session, json.loads(msg.data))
        finally:
            self.sessions.remove(session)
        return ws

    async def _on_frame(self, session: GatewaySession, frame: Payload) -> None:
        self.received.append(redact(frame))
        op = frame.get("op")
        if op == HEARTBEAT:
            await session.send(HEARTBEAT_ACK, None)
        elif op == IDENTIFY:
            self.identify_count += 1
            await self._identify(session)
        elif op == RESUME:
            self.resume_count += 1
            await session.send(INVALID_SESSION, False)

    async def _identify(self, session: GatewaySession) -> None:
        ready = {
            "v": 10,
            "user": payloads.bot_user(),
            "guilds": [{"id": g["id"], "unavailable": True} for g in self.guilds],
            "session_id": session.session_id,
            "session_type": "normal",
            "resume_gateway_url": "ws" + self.root_url.removeprefix("http") + "/gateway",
            "application": {"id": str(APP_ID), "flags": 0},
            "private_channels": [],
            "relationships": [],
            "presences": [],
            "guild_join_requests": [],
            "geo_ordered_rtc_regions": ["us-east"],
            "auth": {},
            "user_settings": {},
            "_trace": ['["fake-gateway",{"micros":0}]'],
        }
        session.identified = True
        await session.send(DISPATCH, ready, "READY")
        for guild in self.guilds:
            for listener in self.listeners:
                listener("GUILD_CREATE", guild)
            await session.send(DISPATCH, copy.deepcopy(guild), "GUILD_CREATE")
        self._ready.set()
