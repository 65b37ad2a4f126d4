"""Sentences the core builds (ranges, orders, links, limits) reach a member in their
language, numbers included; an English member reads them as before."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from tests.cogs.conftest import Running
from tests.cogs.test_bad_input import answered_after_defer
from tests.cogs.test_character_create import EDIT_REPLY
from tests.cogs.test_languages import EPHEMERAL, answer
from tests.cogs.test_limits import one_card
from tests.fakes import GUILD_ID, OTHER_USER_ID, payloads
from tests.fakes.seen import shown_text


def create(locale: str, **options: Any) -> dict[str, Any]:
    user_id = int(options.pop("user_id", OTHER_USER_ID))
    return payloads.slash_command(
        "create", options, group="character", locale=locale, user_id=user_id
    )


async def test_a_too_long_range_is_refused_in_german_with_its_numbers(
    sora: Running, simulator: Any
) -> None:
    long = {"url": "https://example.org/v.mp4", "start": "1", "end": "9.5"}
    german = await answer(sora, create("de", **long))
    assert german["flags"] == EPHEMERAL
    assert german["content"] == "Der Bereich ist 8.5 s lang; er darf höchstens 3 s lang sein."
    english = await answer(sora, create("en-US", **long))
    assert english["content"] == "The range is 8.5 s long; it can be at most 3 s."
    japanese = await answer(sora, create("ja", **long))
    assert japanese["content"] == "範囲の長さは 8.5 秒です。最長 3 秒までです。"
    assert simulator.requests == []


async def test_a_bad_time_and_a_bad_link_are_refused_in_french(
    sora: Running, simulator: Any
) -> None:
    typo = {"url": "https://example.org/v.mp4", "start": "1", "end": "abc"}
    french = await answer(sora, create("fr", **typo))
    assert french["content"] == (
        "`end` doit être en secondes (comme `1.5`) ou en minutes:secondes (comme `1:05`), "
        "pas `abc`."
    )
    ftp = {"url": "ftp://example.org/v.mp4", "start": "1", "end": "3"}
    french = await answer(sora, create("fr", **ftp))
    assert french["content"] == "Seuls les liens http:// et https:// peuvent être utilisés."
    english = await answer(sora, create("en-GB", **ftp))
    assert english["content"] == "Only http:// and https:// links can be used."
    assert simulator.requests == []


async def test_a_daily_limit_is_told_in_german_with_the_wait(
    sora: Running, simulator: Any, media_server: str, short_video: Any
) -> None:
    await sora.core.guild_settings.set(GUILD_ID, jobs_per_day=1)
    url = f"{media_server}/{short_video.name}"
    today = datetime.now(UTC).replace(hour=22, minute=47, second=30, microsecond=0)
    sora.core.limits._clock = lambda: today.timestamp()
    await one_card(sora, url, OTHER_USER_ID)
    german = await answer(sora, create("de", url=url, start="1", end="3"))
    assert german["flags"] == EPHEMERAL
    assert german["content"] == (
        "Du hast deine 1 Aufträge für heute (UTC) aufgebraucht: Versuche es in 1 Std. 12 Min. "
        "erneut."
    )
    japanese = await answer(sora, create("ja", url=url, start="1", end="3"))
    assert japanese["content"] == (
        "今日（UTC）の 1 件のジョブを使い切りました。1時間12分後にもう一度お試しください。"
    )


async def test_the_owners_pause_is_told_in_spanish_with_the_owners_words(
    sora: Running, simulator: Any
) -> None:
    await sora.core.owner.change(paused="back soon")
    spanish = await answer(
        sora, create("es-ES", url="https://example.org/v.mp4", start="1", end="3")
    )
    assert spanish["content"] == "El propietario del bot ha pausado los trabajos nuevos: back soon"
    assert simulator.requests == []


async def test_a_silent_video_is_refused_in_brazilian_portuguese(
    sora: Running, simulator: Any, media_server: str, silent_video: Any
) -> None:
    url = f"{media_server}/{silent_video.name}"
    text = await answered_after_defer(sora, create("pt-BR", url=url, start="0", end="2"))
    assert text == (
        "Esse vídeo não tem som; o toapis precisa de uma faixa de áudio para criar um personagem."
    )
    english = await answered_after_defer(sora, create("en-US", url=url, start="0", end="2"))
    assert english == (
        "That video has no sound; toapis needs an audio track to create a character."
    )
    assert [r for r in simulator.requests if r[1] == "/v1/videos/generations"] == []


async def test_a_range_past_the_end_is_refused_in_german_with_the_length(
    sora: Running, simulator: Any, media_server: str, short_video: Any
) -> None:
    url = f"{media_server}/{short_video.name}"
    text = await answered_after_defer(sora, create("de", url=url, start="60", end="62"))
    assert text.startswith("Das Video ist nur 0:0"), text
    assert text.endswith(" lang; wähle einen Bereich innerhalb des Videos."), text


async def test_a_retired_model_is_told_to_the_next_member_in_japanese(
    sora: Running, simulator: Any, media_server: str, short_video: Any
) -> None:
    from tests.cogs.test_character_create import EDIT_REPLY
    from tests.cogs.test_character_create import create as english_create

    simulator.scenario.update(retired_models=["sora-2-pro"])
    url = f"{media_server}/{short_video.name}"
    sora.feed(english_create(url=url, model="sora-2-pro"))
    await sora.wait_call("PATCH", EDIT_REPLY, lambda c: "Couldn't" in str(c.json))
    japanese = await answer(sora, create("ja", url=url, model="sora-2-pro", start="1", end="3"))
    assert japanese["flags"] == EPHEMERAL
    assert japanese["content"] == (
        "sora-2-pro は現在サービスで利用できません。"
        "別のモデルを試すか、後でもう一度お試しください。"
    )


async def test_an_unknown_model_in_the_settings_is_told_in_german(sora: Running) -> None:
    from tests.cogs.test_limits import private_answer, settings

    text = await private_answer(sora, settings("video", {"models": "sora-3"}, locale="de"))
    assert text == (
        "Nicht geändert: sora-3 ist kein Modell (wähle aus sora-2, sora-2-pro, seedance-2, "
        "seedance-2-fast, seedance-2-mini, viduq3, sora-2-vip oder 'all')."
    )
    text = await private_answer(sora, settings("engines", {"engines": "kling"}, locale="fr"))
    assert text.startswith("Non modifié\u00a0: kling n'est pas un moteur (choisissez parmi "), text


def video(locale: str, **options: Any) -> dict[str, Any]:
    return payloads.slash_command("create", options, group="video", locale=locale)


async def test_a_video_duration_the_model_cannot_make_is_refused_in_french(
    sora: Running, simulator: Any
) -> None:
    asked = {"prompt": "jumps", "character": "abc123", "duration": 25}
    french = await answer(sora, video("fr", **asked))
    assert french["flags"] == EPHEMERAL
    assert french["content"] == "sora-2 crée des vidéos de 10 s ou 15 s, pas de 25 s."
    english = await answer(sora, video("en-US", **asked))
    assert english["content"] == "sora-2 makes videos of 10 s or 15 s, not 25 s."
    assert simulator.requests == []


async def failed_card(sora: Running, locale: str, url: str, title: str) -> str:
    sora.fake.clear()
    sora.feed(create(locale, url=url, start="1", end="3"))
    call = await sora.wait_call("PATCH", EDIT_REPLY, lambda c: title in str(c.json))
    return shown_text(call)


async def test_a_german_members_failed_job_card_says_why_and_what_next_in_german(
    sora: Running, simulator: Any, media_server: str, short_video: Any
) -> None:
    simulator.scenario.update(characters=0)
    url = f"{media_server}/{short_video.name}"
    german = await failed_card(sora, "de", url, "Charakter konnte nicht erstellt werden")
    assert "Der Dienst ist fertig, hat in diesem Moment aber keinen Charakter gefunden." in german
    assert (
        "**Was du jetzt tun kannst:** Versuch es mit einem Bereich, in dem ein Charakter "
        "deutlich zu sehen ist." in german
    )
    assert "found no character" not in german
    english = await failed_card(sora, "en-US", url, "Couldn't create a character")
    assert "The service finished but found no character in that moment." in english


async def test_toapis_own_reason_stays_in_its_words_on_a_german_card(
    sora: Running, simulator: Any, media_server: str, short_video: Any
) -> None:
    simulator.scenario.update(fail_with=["generation_failed", "Generation failed: Policy X"])
    url = f"{media_server}/{short_video.name}"
    german = await failed_card(sora, "de", url, "Charakter konnte nicht erstellt werden")
    assert "Policy X" in german and "Was du jetzt tun kannst" in german


async def test_a_held_line_tells_a_german_member_why_in_german(
    sora: Running, simulator: Any, media_server: str, short_video: Any
) -> None:
    """The account needs a top-up: the place in line says so in the asker's language."""
    simulator.scenario.update(out_of_credit=True)
    url = f"{media_server}/{short_video.name}"
    sora.feed(create("de", url=url, start="1", end="3"))
    held = await sora.wait_call(
        "PATCH", EDIT_REPLY, lambda call: "toapis-Konto" in shown_text(call)
    )
    text = shown_text(held)
    assert "Wartet: Das toapis-Konto des Bots muss aufgeladen werden." in text
    assert "top-up" not in text
