"""The toapis client: the `CharacterProvider` for https://toapis.com (see docs/toapis.md).

One shared `aiohttp.ClientSession` (opened on first use; a status query costs about a
fifth of the CPU it cost with httpx, which matters with a thousand jobs waiting). 429 and
503 are retried honouring `Retry-After`, with exponential backoff and jitter, a bounded
number of times; a `Retry-After` longer than
the in-call backoff is raised at once (capped at 15 minutes) so the caller waits it out.
Other transient failures are retried only where a retry cannot create a second task:
status queries, uploads, and create requests that never reached the service. A create
request that may have reached it without an answer raises `SubmissionUncertainError`
instead of being sent again.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any
from urllib.parse import quote

import aiohttp
from aiohttp.helpers import get_env_proxy_for_url
from pydantic import SecretStr, ValidationError
from yarl import URL

from bot import metrics
from bot.domain.ranges import format_timestamps
from bot.net.rate_budget import AccountBudgets, Budget
from bot.providers.account import Balance
from bot.providers.answers import Answer, error_message, interpret, observe, outcome
from bot.providers.avatars import redact_urls
from bot.providers.base import (
    CharacterRequest,
    InvalidRequestError,
    ProviderError,
    RateLimitedError,
    ServiceUnavailableError,
    SubmissionUncertainError,
    Task,
    TaskNotFoundError,
    UploadedVideo,
    UploadRejectedError,
    WebhookNotConfiguredError,
)
from bot.providers.models import ModelAvailability, says_model_is_gone
from bot.providers.toapis_engines import (
    AVATAR_ASSETS,
    AVATAR_GROUPS,
    GENERAL_PAGE,
    IMAGE_UPLOADS,
    EngineCalls,
    engine_refusal,
    redact_error,
)
from bot.providers.video import VideoRequest

log = logging.getLogger(__name__)

Sleep = Callable[[float], Awaitable[None]]
VIDEO_TYPES = {".mp4": "video/mp4", ".webm": "video/webm", ".mov": "video/quicktime"}
CHARACTER_PAGE = "/v1/characters_tasks/"
BALANCE_PAGE = "/v1/user/balance"
REMEMBERED_PAGES = 10_000  # task ids whose status page is remembered (oldest forgotten)
# Create requests, image uploads and private-avatar creations count as submits (what
# docs/engines.md assumes); video uploads count in neither budget (docs/toapis.md).
SUBMITS = frozenset({"/v1/videos/generations", IMAGE_UPLOADS, AVATAR_GROUPS, AVATAR_ASSETS})
POOL_SIZE = 64  # connections of the shared HTTP client (more than the budgets keep in flight)


def env_proxy(base_url: str) -> tuple[URL | None, aiohttp.BasicAuth | None]:
    """The proxy `HTTP_PROXY`/`HTTPS_PROXY` name for toapis, unless `NO_PROXY` covers its
    host (with credentials from the proxy URL or ~/.netrc), as aiohttp's `trust_env` reads
    them; (None, None) for a direct connection."""
    try:
        return get_env_proxy_for_url(URL(base_url))
    except LookupError:
        return None, None


class ToapisClient(EngineCalls):
    """Talks to toapis; implements `bot.providers.interface.CharacterProvider` (the calls
    for Seedance 2 and Vidu Q3 are in `EngineCalls`)."""

    name = "toapis"

    def __init__(
        self,
        base_url: str,
        api_key: SecretStr | str,
        *,
        timeout: float = 30.0,
        max_attempts: int = 5,
        backoff_base: float = 1.0,
        max_backoff: float = 60.0,
        sleep: Sleep = asyncio.sleep,
        callback_url: str | None = None,
        budgets: AccountBudgets | None = None,
        pool_size: int = POOL_SIZE,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._key = api_key if isinstance(api_key, SecretStr) else SecretStr(api_key)
        # Like a read timeout, not a whole-request one: a large upload may take longer.
        self._timeout = aiohttp.ClientTimeout(
            total=None, connect=min(10.0, timeout), sock_read=timeout
        )
        self._pool_size = pool_size
        self._http: aiohttp.ClientSession | None = None  # opened on first use (in the loop)
        self._proxy: tuple[URL | None, aiohttp.BasicAuth | None] = (None, None)
        # Shared with the scheduler: every create request and status query takes a slot,
        # and a 429/503 slows the whole budget instead of being retried here.
        self.budgets = budgets
        self.max_attempts = max(1, max_attempts)
        self.backoff_base = backoff_base
        self.max_backoff = max_backoff
        self._sleep = sleep
        self._pages: OrderedDict[str, str] = OrderedDict()  # task id -> page that answered
        self._models = ModelAvailability()
        # Sent with create requests while toapis accepts it (webhooks configured).
        self.callback_url = callback_url

    @property
    def models(self) -> ModelAvailability:
        """Models toapis refused recently (they are refused here before sending)."""
        return self._models

    async def aclose(self) -> None:
        """Close the HTTP session (a later call opens a new one)."""
        http, self._http = self._http, None
        if http is not None:
            await http.close()

    def _session(self) -> aiohttp.ClientSession:
        if self._http is None or self._http.closed:
            self._http = aiohttp.ClientSession(
                timeout=self._timeout,
                connector=aiohttp.TCPConnector(limit=self._pool_size),
                headers={"User-Agent": "sora-character-bot"},
                cookie_jar=aiohttp.DummyCookieJar(),
                # The environment is read once (`env_proxy`), not per request: with
                # trust_env every request looked up ~/.netrc and the proxy variables in a
                # thread, two thread hops per status query.
                trust_env=False,
            )
            self._proxy = env_proxy(self.base_url)
        return self._http

    # --- the provider interface -----------------------------------------------------

    async def create_character(self, request: CharacterRequest) -> Task:
        """`POST /v1/videos/generations` in character mode."""
        if (request.url is None) == (request.from_task is None):
            raise ValueError("exactly one of url / from_task is required")
        gone = self._models.unavailable(request.model)
        if gone is not None:
            raise gone
        body: dict[str, Any] = {
            "model": request.model,
            "timestamps": format_timestamps(request.start, request.end),
        }
        if request.url is not None:
            body["url"] = request.url
        else:
            body["from_task"] = request.from_task
        return await self._create(body)

    async def create_video(self, request: VideoRequest) -> Task:
        """`POST /v1/videos/generations` in video mode, with the characters the way the
        model's engine takes them. viduq3 asking for `image_urls` raises
        `ImageUrlsRequiredError`; a Seedance asset not usable, `AssetUnusableError`."""
        gone = self._models.unavailable(request.model)
        if gone is not None:
            raise gone
        try:
            return await self._create(request.body())
        except ProviderError as exc:
            redact_error(exc)  # a Vidu request carries uploaded URLs the answer may quote
            if not isinstance(exc, InvalidRequestError):
                raise
            refusal = engine_refusal(request, exc)
            if refusal is exc:
                raise
            raise refusal from None

    async def get_video_task(self, task_id: str) -> Task:
        """A video task's state, from the general task page."""
        self._remember_page(task_id, GENERAL_PAGE)
        return await self.get_task(task_id)

    async def _create(self, body: dict[str, Any]) -> Task:
        """Send a create request once; a 2xx answer that cannot be read is uncertain."""
        if self.callback_url:
            body["callback_url"] = self.callback_url
        try:
            try:
                data = await self._call(
                    "POST", "/v1/videos/generations", json=body, idempotent=False
                )
            except WebhookNotConfiguredError:
                # A 400 created nothing: send it again without, and stop asking.
                log.warning(
                    "toapis says webhooks are not configured for this key: not sending "
                    "callback_url any more (set them up in the toapis console, or unset "
                    "TOAPIS_CALLBACK_URL); polling carries on"
                )
                self.callback_url = None
                del body["callback_url"]
                data = await self._call(
                    "POST", "/v1/videos/generations", json=body, idempotent=False
                )
        except SubmissionUncertainError:
            raise
        except ProviderError as exc:
            if says_model_is_gone(exc):
                raise self._models.refuse(str(body["model"]), exc.detail) from None
            raise
        try:
            return self._task(data)
        except ServiceUnavailableError as exc:
            # A 2xx answer means the task may well exist (and be charged): never resend.
            raise SubmissionUncertainError(exc.detail) from None

    async def get_task(self, task_id: str) -> Task:
        """The task's state; the character-task page first, the general page on 404."""
        safe_id = quote(task_id, safe="")
        page = self._pages.get(task_id, CHARACTER_PAGE)
        try:
            data = await self._call("GET", page + safe_id)
        except TaskNotFoundError:
            if page == GENERAL_PAGE:
                raise
            page = GENERAL_PAGE
            data = await self._call("GET", page + safe_id)
        self._remember_page(task_id, page)
        return self._task(data)

    def _remember_page(self, task_id: str, page: str) -> None:
        """Ask the page that answered first next time (one request per poll, not two)."""
        self._pages[task_id] = page
        self._pages.move_to_end(task_id)
        while len(self._pages) > REMEMBERED_PAGES:
            self._pages.popitem(last=False)

    async def upload_video(self, path: Path, *, filename: str | None = None) -> UploadedVideo:
        """`POST /v1/uploads/videos` (multipart, at most 50 MB)."""
        name = filename or path.name
        mime = VIDEO_TYPES.get(Path(name).suffix.lower(), "video/mp4")

        def files() -> dict[str, Any]:
            return {"file": (name, path.open("rb"), mime)}

        data = await self._call(
            "POST", "/v1/uploads/videos", files=files, form={"purpose": "generation"}
        )
        if not isinstance(data, dict) or not data.get("success", True):
            message = data.get("message") if isinstance(data, dict) else None
            raise UploadRejectedError(str(message or ""))
        try:
            return UploadedVideo.model_validate(data.get("data"))
        except ValidationError as exc:
            raise ServiceUnavailableError(f"unreadable upload answer: {exc}") from None

    async def get_balance(self) -> Balance:
        """`GET /v1/user/balance`: the account's credit (spends nothing; a status query)."""
        data = await self._call("GET", BALANCE_PAGE)
        try:
            balance = Balance.model_validate(data)
        except ValidationError as exc:
            raise ServiceUnavailableError(
                f"unreadable balance: {exc.error_count()} errors"
            ) from None
        if balance.success is False:
            raise ServiceUnavailableError(
                f"toapis did not give the balance: {error_message(data) or 'no reason given'}"
            )
        return balance

    # --- plumbing ---------------------------------------------------------------------

    @staticmethod
    def _task(data: Any) -> Task:
        if isinstance(data, dict) and "id" not in data and isinstance(data.get("data"), dict):
            data = data["data"]  # some gateways wrap the object
        try:
            return Task.model_validate(data)
        except ValidationError as exc:
            raise ServiceUnavailableError(
                f"unreadable task object: {exc.error_count()} errors"
            ) from None

    async def _call(
        self,
        method: str,
        path: str,
        *,
        json: dict[str, Any] | None = None,
        files: Callable[[], dict[str, Any]] | None = None,
        form: dict[str, str] | None = None,
        idempotent: bool = True,
    ) -> Any:
        """One API call with bounded retries; returns the parsed JSON answer."""
        attempt = 0
        while True:
            attempt += 1
            try:
                return await self._once(
                    method, path, json=json, files=files, form=form, idempotent=idempotent
                )
            except (RateLimitedError, ServiceUnavailableError) as exc:
                retry_after = getattr(exc, "retry_after", None)
                if (
                    attempt >= self.max_attempts
                    or (retry_after or 0.0) > self.max_backoff
                    or (self.budgets is not None and isinstance(exc, RateLimitedError))
                ):
                    raise  # a long Retry-After is waited out by the caller, not in here
                delay = self._delay(attempt, retry_after)
                log.warning(
                    "toapis %s %s: %s; retry %d/%d in %.1fs",
                    method,
                    path,
                    redact_urls(exc.detail) or type(exc).__name__,
                    attempt,
                    self.max_attempts - 1,
                    delay,
                )
                await self._sleep(delay)

    def _delay(self, attempt: int, retry_after: float | None) -> float:
        backoff = min(self.max_backoff, self.backoff_base * 2 ** (attempt - 1))
        return float(max(backoff, retry_after or 0.0) * random.uniform(1.0, 1.25))

    async def _once(
        self,
        method: str,
        path: str,
        *,
        json: dict[str, Any] | None,
        files: Callable[[], dict[str, Any]] | None,
        form: dict[str, str] | None,
        idempotent: bool,
    ) -> Any:
        headers = {"Authorization": f"Bearer {self._key.get_secret_value()}"}
        budget = self._budget_for(method, path)
        slot = await budget.take() if budget is not None else None
        if slot is not None:
            slot.track()  # it counts until its answer arrives (see `Slot`)
        opened = files() if files else None
        endpoint = metrics.endpoint_of(path)
        started = time.monotonic()
        data: aiohttp.FormData | None = None
        if opened or form:
            data = aiohttp.FormData()
            for key, value in (form or {}).items():
                data.add_field(key, value)
            for key, (filename, handle, mime) in (opened or {}).items():
                data.add_field(key, handle, filename=filename, content_type=mime)
        try:
            session = self._session()
            proxy, proxy_auth = self._proxy
            async with session.request(
                method,
                self.base_url + path,
                json=json,
                data=data,
                headers=headers,
                allow_redirects=False,
                proxy=proxy,
                proxy_auth=proxy_auth,
            ) as answer:
                response = Answer(answer.status, answer.headers, await answer.read())
        except (aiohttp.ClientConnectorError, aiohttp.ConnectionTimeoutError) as exc:
            metrics.TOAPIS_REQUESTS.labels(endpoint, "unreachable").inc()
            raise ServiceUnavailableError(f"cannot connect: {type(exc).__name__}") from None
        except (aiohttp.ClientError, TimeoutError) as exc:
            metrics.TOAPIS_REQUESTS.labels(endpoint, "timeout").inc()
            if not idempotent:
                raise SubmissionUncertainError(f"no answer: {type(exc).__name__}") from None
            raise ServiceUnavailableError(f"no answer: {type(exc).__name__}") from None
        finally:
            if slot is not None:
                slot.answer()
            for value in (opened or {}).values():
                value[1].close()
        metrics.TOAPIS_LATENCY.labels(endpoint).observe(time.monotonic() - started)
        metrics.TOAPIS_REQUESTS.labels(endpoint, outcome(response.status_code)).inc()
        if budget is not None:
            observe(budget, response)
        return interpret(response, idempotent=idempotent)

    def _budget_for(self, method: str, path: str) -> Budget | None:
        if self.budgets is None:
            return None
        if method == "POST" and path in SUBMITS:
            return self.budgets.submit
        if method == "GET" and path.startswith((CHARACTER_PAGE, GENERAL_PAGE, AVATAR_ASSETS)):
            return self.budgets.query
        if method == "GET" and path == BALANCE_PAGE:
            return self.budgets.query
        return None
