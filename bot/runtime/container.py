"""The core services wired together: storage, provider and tracker (no Discord here)."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

from bot.domain.changes import GUILD_SETTINGS, JOB_OUTCOME, OWNER
from bot.jobs.again import PrepareAgain
from bot.jobs.binder import Binder
from bot.jobs.create import guild_likenesses
from bot.jobs.tracker import JobListener, JobTracker, ListenerHub, TrackerTimings
from bot.media.assets import checked_download
from bot.media.intake import MediaIntake
from bot.media.likeness_store import LikenessStore, open_likeness_store
from bot.media.orders import CreateOrder, OrderError
from bot.media.workers import MediaWorkers
from bot.net.rate_budget import AccountBudgets, tier_limits
from bot.policy.guild_settings import SettingsService
from bot.policy.owner_controls import OwnerControls
from bot.policy.retention import DataLifecycle, Forgotten
from bot.policy.spending_limits import SpendingLimits
from bot.providers.interface import CharacterProvider
from bot.providers.toapis import ToapisClient
from bot.runtime.config import Settings
from storage import (
    BindingRepository,
    CharacterRepository,
    Database,
    JobRepository,
    RetentionRepository,
    StateRepository,
    open_database,
)
from storage.guild_settings import GuildSettingsRepository
from storage.postgres.budget_ledger import BudgetLedger, budget_ledger
from storage.postgres.notices import ChangeNotices, change_notices
from storage.webhooks import WebhookEventRepository

log = logging.getLogger(__name__)

RECALL_SECONDS = 11.0  # toapis' longest window (10 s), and a margin

TASK_NOT_HERE = (
    "That task was not made in this server: `from_task` takes the task id of a character "
    "or video made here."
)


@dataclass
class Core:
    """Everything a front (Discord, CLI, tests) drives."""

    settings: Settings
    database: Database
    jobs: JobRepository
    characters: CharacterRepository
    state: StateRepository
    provider: CharacterProvider
    tracker: JobTracker
    listeners: ListenerHub
    guild_settings: SettingsService
    limits: SpendingLimits
    owner: OwnerControls
    webhook_events: WebhookEventRepository
    intake: MediaIntake
    lifecycle: DataLifecycle
    likenesses: LikenessStore
    # Shared by every process on the database (PostgreSQL); None when there is one.
    ledger: BudgetLedger | None = None
    notices: ChangeNotices | None = None

    async def close(self) -> None:
        """Stop following jobs, then close the provider and the database (each once).

        The database is closed even if closing the provider fails or is interrupted, so
        its worker thread never keeps the process alive.
        """
        try:
            await self.tracker.stop()
            await self.provider.aclose()
        finally:
            self.intake.workers.shutdown()
            await self.likenesses.aclose()
            if self.notices is not None:
                await self.notices.close()
            await self.database.close()

    async def delete_character(self, guild_id: int, character_id: str) -> bool:
        """Delete a character of a guild and then its kept likeness (unless another
        character of the same task keeps it); False if the guild did not have it."""
        character = await self.characters.get(guild_id, character_id, with_avatar=False)
        deleted = await self.characters.delete(guild_id, character_id)
        if deleted and character is not None and character.likeness is not None:
            await self._drop_likenesses([character.likeness])
        return deleted

    async def forget_member(
        self, guild_id: int, user_id: int, *, delete_characters: bool
    ) -> Forgotten:
        """Forget a member in a guild; with their characters, their likenesses go too."""
        bindings = BindingRepository(self.database)
        keys = await bindings.likenesses_of_creator(guild_id, user_id) if delete_characters else []
        done = await self.lifecycle.forget(guild_id, user_id, delete_characters=delete_characters)
        await self._drop_likenesses(keys)
        return done

    async def _drop_likenesses(self, keys: list[str]) -> None:
        """Delete kept likenesses no character uses any more (a failure is logged: the
        characters are gone either way)."""
        bindings = BindingRepository(self.database)
        for key in dict.fromkeys(keys):
            if await bindings.likeness_in_use(key):
                continue
            try:
                await self.likenesses.delete(key)
            except Exception as exc:  # the store may be unreachable; the rows are gone
                log.warning("could not delete a kept likeness (%s)", type(exc).__name__)

    async def check_task_source(self, guild_id: int, order: CreateOrder) -> None:
        """A member's `from_task` must name a task made for their server: every server
        shares one toapis account, and task ids are printed on cards (OrderError if not).
        The command line, run by the owner, may use any task of the account."""
        if order.from_task and not await self.jobs.task_made_in(guild_id, order.from_task):
            raise OrderError(TASK_NOT_HERE)


async def recall_sent(budgets: AccountBudgets, jobs: JobRepository) -> None:
    """The create requests sent in the last seconds (by this bot before a restart) count
    in the submit budget's windows, so the restarted bot does not go over the tier. Not
    counted: uploads (clips, stills, avatar assets), which the row of a job does not date."""
    now = time.time()
    sent = await jobs.sent_since(now - RECALL_SECONDS)
    budgets.submit.recall(now - at for at in sent)


def make_budgets(settings: Settings) -> AccountBudgets:
    """The account's submit and query budgets (`TOAPIS_TIER` and its overrides)."""
    limits = tier_limits(
        settings.toapis_tier,
        submit_per_second=settings.toapis_submit_per_second,
        query_per_second=settings.toapis_query_per_second,
    )
    return AccountBudgets.create(limits, query_share=settings.toapis_query_share)


async def follow_changes(
    notices: ChangeNotices,
    guild_settings: SettingsService,
    owner: OwnerControls,
    tracker: JobTracker | None = None,
) -> None:
    """Forget what the other processes changed (everything after a reconnection), and
    announce at once the outcomes they stored of jobs this process follows."""

    def changed(topic: str, key: str) -> None:
        if topic == GUILD_SETTINGS and key.isdigit():
            guild_settings.forget(int(key))
        elif topic == OWNER:
            owner.forget()
        elif topic == JOB_OUTCOME and key.isdigit():
            if tracker is not None:
                tracker.outcome_stored(int(key))
        else:
            log.warning("unknown change notice %r %r; ignored", topic, key)

    def missed() -> None:
        guild_settings.forget_all()
        owner.forget()

    await notices.listen(changed, missed)


def make_provider(
    settings: Settings, budgets: AccountBudgets | None = None, *, attempts: int = 5
) -> CharacterProvider:
    """The configured character provider (toapis is the only one so far).

    `attempts` bounds the retries inside one call (a front that reports each failed
    round itself, like the CLI, wants few).
    """
    settings.require("TOAPIS_API_KEY")
    assert settings.toapis_api_key is not None
    return ToapisClient(
        settings.toapis_base_url,
        settings.toapis_api_key,
        max_attempts=attempts,
        callback_url=settings.toapis_callback_url,
        budgets=budgets or make_budgets(settings),
    )


async def open_core(
    settings: Settings,
    listener: JobListener | None = None,
    *,
    provider: CharacterProvider | None = None,
    timings: TrackerTimings | None = None,
) -> Core:
    """Open the database and build the services; the tracker is not started yet.

    Fronts register their listeners with `core.listeners.add` before `tracker.start()`.
    """
    likenesses = open_likeness_store(
        settings.likeness_store,
        settings.data_path,
        settings.likeness_s3_endpoint_url,
        s3_config=settings.likeness_s3_config(),
    )
    provider = provider or make_provider(settings)
    budgets = getattr(provider, "budgets", None) or make_budgets(settings)
    database = await _open_database(settings, provider)
    ledger = budget_ledger(database)
    jobs = JobRepository(database)
    if ledger is not None:  # several processes: each request is counted over all of them
        budgets.share(ledger)
    else:  # one process: the one before it (a restart) sent these
        await recall_sent(budgets, jobs)
    characters = CharacterRepository(database)
    hub = ListenerHub()
    if listener is not None:
        hub.add(listener)
    tracker = JobTracker(
        provider,
        jobs,
        characters,
        hub,
        timings=timings or tracker_timings(settings),
        download=checked_download(allow_private=settings.allow_private_urls),
        budgets=budgets,
    )
    notices = change_notices(database)
    guild_settings = SettingsService(GuildSettingsRepository(database), notices)
    state = StateRepository(database)
    owner = OwnerControls(state, notices)
    if notices is not None:
        await _follow_notices(notices, guild_settings, owner, tracker, provider, database)
    intake = MediaIntake(
        provider,
        allow_private=settings.allow_private_urls,
        workers=MediaWorkers.create(settings.media_workers),
    )
    # Jobs whose video a process that is gone was preparing are prepared again here.
    tracker.preparer = PrepareAgain(intake, allow_private=settings.allow_private_urls)
    lifecycle = DataLifecycle(
        RetentionRepository(database),
        guild_days=settings.guild_retention_days,
        job_days=settings.job_retention_days,
    )

    async def drop_guild_likenesses(guild_id: int) -> None:
        await likenesses.delete(guild_likenesses(guild_id))

    lifecycle.on_purged = drop_guild_likenesses
    # Binding jobs: a character's likeness made to work on Seedance 2 and Vidu Q3.
    tracker.binder = Binder(provider, jobs, BindingRepository(database), likenesses)
    return Core(
        settings,
        database,
        jobs,
        characters,
        state,
        provider,
        tracker,
        hub,
        guild_settings,
        SpendingLimits(guild_settings, jobs, owner, tracker),
        owner,
        WebhookEventRepository(database),
        intake,
        lifecycle,
        likenesses,
        ledger,
        notices,
    )


async def _open_database(settings: Settings, provider: CharacterProvider) -> Database:
    """The configured database; the provider is closed if it cannot be opened."""
    try:
        return await open_database(settings.database_target, pool_size=settings.database_pool_size)
    except BaseException:
        await provider.aclose()
        raise


def tracker_timings(settings: Settings) -> TrackerTimings:
    """How the tracker polls, retries and holds leases, from the settings."""
    return TrackerTimings(
        poll_interval=settings.poll_interval_seconds,
        timeout=settings.job_timeout_seconds,
        submit_retry=settings.poll_interval_seconds * 3,
        video_first_poll=settings.poll_interval_seconds,
        video_poll_interval=settings.poll_interval_seconds * 2,
        video_timeout=settings.job_timeout_seconds * 2,
        lease=settings.lease_seconds,
    )


async def _follow_notices(
    notices: ChangeNotices,
    guild_settings: SettingsService,
    owner: OwnerControls,
    tracker: JobTracker,
    provider: CharacterProvider,
    database: Database,
) -> None:
    """Listen to what the other processes change; if that fails, close what is open."""
    try:
        tracker.changes = notices
        await follow_changes(notices, guild_settings, owner, tracker)
    except BaseException:
        await notices.close()
        await provider.aclose()
        await database.close()
        raise
