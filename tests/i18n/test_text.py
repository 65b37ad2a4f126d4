"""A core sentence kept as a msgid: English for logs and the command line, the member's
language where a front renders it."""

from __future__ import annotations

from bot.domain.ranges import ClipRange, RangeError
from bot.i18n.text import Text, TextError, words
from bot.media.scoring import Window
from bot.policy.spending_limits import wait_words


def test_a_range_error_is_english_in_logs_and_german_for_a_member() -> None:
    try:
        ClipRange.parse("1", "0.5")
    except RangeError as exc:
        assert str(exc) == "`end` must be after `start`."
        assert words(exc, "de") == "`end` muss nach `start` liegen."
        assert words(exc, "en-US") == str(exc)
    else:
        raise AssertionError("a backwards range was accepted")


def test_a_param_that_is_a_sentence_is_rendered_in_the_same_language() -> None:
    text = Text(
        "You have used your {limit} jobs for today (UTC): try again in {again}.",
        limit=3,
        again=wait_words(3 * 3600 + 5 * 60),
    )
    assert str(text) == "You have used your 3 jobs for today (UTC): try again in 3 h 5 min."
    assert text.render("ja") == (
        "今日（UTC）の 3 件のジョブを使い切りました。3時間5分後にもう一度お試しください。"
    )


def test_plain_text_errors_are_shown_as_they_are() -> None:
    assert words(TextError("not a msgid at all"), "fr") == "not a msgid at all"
    assert words(ValueError("plain"), "fr") == "plain"


def test_a_windows_reasons_follow_the_locale() -> None:
    window = Window(1.0, 3.0, 0.5, 2, None, 0.38, "speech", True)
    assert window.reasons == "2 faces, 38 % of the frame, speech, a scene cut"
    assert window.reasons_in("fr") == "2 visages, 38 % de l'image, parole, une coupure de plan"
