"""Writing chosen characters into a prompt the engine's way (bot/providers/casting.py)."""

from __future__ import annotations

import pytest

from bot.providers.casting import Cast, cast_prompt, vidu_tokens
from bot.providers.engines import Engine
from bot.providers.video import ImageRole, Subject, request_problem

SKY = Cast(
    "Sky",
    "abc.sky",
    ["sky1", "sky2", "sky3"],
    ["https://img/sky1.png", "https://img/sky2.png", "https://img/sky3.png"],
)
WALKER = Cast("Sky Walker", "def.walker", ["w1", "w2", "w3"], ["https://img/w1.png"])
ROBOT = Cast("R2-D2 (v.2)*", "ghi.robot", ["r1", "r2", "r3"], ["https://img/r1.png"])


def roles(*asset_ids: str) -> tuple[ImageRole, ...]:
    return tuple(ImageRole(url=f"asset://{a}", role="reference_image") for a in asset_ids)


# --- Sora ----------------------------------------------------------------------------------


def test_sora_writes_a_named_character_as_its_username():
    cast = cast_prompt(Engine.SORA, "sky dances with SKY WALKER", [SKY, WALKER])
    assert cast.prompt == "@abc.sky dances with @def.walker"
    assert cast.image_with_roles == () and cast.subjects == () and cast.unbound == ()


def test_sora_puts_unnamed_characters_in_front_as_before():
    cast = cast_prompt(Engine.SORA, "  @abc.sky meets a dog ", [SKY, WALKER])
    assert cast.prompt == "@def.walker @abc.sky meets a dog"


def test_sora_keeps_a_username_already_written_and_its_full_stop():
    cast = cast_prompt(Engine.SORA, "Meet @abc.sky.", [SKY])
    assert cast.prompt == "Meet @abc.sky."


def test_sora_leaves_a_character_without_username_as_written():
    nameless = Cast("Nova", None, ["n1"], ["https://img/n.png"])
    cast = cast_prompt(Engine.SORA, "Nova waves", [nameless, SKY])
    assert cast.prompt == "@abc.sky Nova waves"
    assert cast.unbound == ("Nova",)


# --- whole words only ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "prompt",
    [
        "a skyline at dusk",
        "the sky-blue sea",
        "skyward they go",
        "email@sky",
        "xsky and skyx",
    ],
)
def test_a_name_inside_another_word_is_not_a_mention(prompt):
    cast = cast_prompt(Engine.VIDU, prompt, [SKY])
    assert cast.prompt == f"{prompt}, with @Sky"


def test_the_longer_name_wins_where_one_contains_the_other():
    cast = cast_prompt(Engine.VIDU, "Sky Walker waves at Sky", [SKY, WALKER])
    assert cast.prompt == "@Sky_Walker waves at @Sky"
    assert [s.name for s in cast.subjects] == ["Sky", "Sky_Walker"]


def test_a_name_spread_over_several_spaces_is_still_named():
    cast = cast_prompt(Engine.VIDU, "sky   walker runs", [WALKER])
    assert cast.prompt == "@Sky_Walker runs"


def test_names_with_regex_characters_are_matched_literally():
    cast = cast_prompt(Engine.SORA, "r2-d2 (v.2)* beeps; R2-D2 (v 2) does not", [ROBOT])
    assert cast.prompt == "@ghi.robot beeps; R2-D2 (v 2) does not"
    dotted = Cast("a.b", "x.y", ["d1"], ["https://img/d.png"])
    assert cast_prompt(Engine.SORA, "axb meets a.b", [dotted]).prompt == "axb meets @x.y"


def test_a_username_is_a_mention_only_when_written_whole():
    cast = cast_prompt(Engine.VIDU, "@abc.skyline and @abc.sky.", [SKY])
    assert cast.prompt == "@abc.skyline and @Sky."


def test_an_at_sign_before_a_name_is_kept_once():
    cast = cast_prompt(Engine.VIDU, "@sky and @Sky", [SKY])
    assert cast.prompt == "@Sky and @Sky"


# --- Seedance 2 ---------------------------------------------------------------------------


def test_seedance_names_characters_by_their_images_in_order():
    cast = cast_prompt(Engine.SEEDANCE, "Sky Walker chases sky", [SKY, WALKER])
    assert cast.prompt == "The character from images 4-6 chases the character from images 1-3"
    assert cast.image_with_roles == roles("sky1", "sky2", "sky3", "w1", "w2", "w3")


def test_three_characters_on_seedance_are_nine_images_and_unnamed_ones_come_last():
    cast = cast_prompt(Engine.SEEDANCE, "A race. @def.walker wins!", [SKY, WALKER, ROBOT])
    assert len(cast.image_with_roles) == 9
    assert cast.image_with_roles == roles(
        "sky1", "sky2", "sky3", "w1", "w2", "w3", "r1", "r2", "r3"
    )
    assert cast.prompt == (
        "A race. The character from images 4-6 wins, with the character from images 1-3 "
        "and the character from images 7-9!"
    )
    request = cast.request("seedance-2", 5, "16:9")
    assert request_problem(request) is None
    assert request.body()["image_with_roles"][8] == {
        "url": "asset://r3",
        "role": "reference_image",
    }


def test_seedance_counts_a_single_image_as_one():
    single = Cast("Pip", None, ["p1"], [])
    cast = cast_prompt(Engine.SEEDANCE, "pip hops", [single, SKY])
    assert cast.prompt == "The character from image 1 hops, with the character from images 2-4"
    assert cast_prompt(Engine.SEEDANCE, "", [SKY]).prompt == "The character from images 1-3"


def test_seedance_leaves_a_character_without_assets_unbound():
    vidu_only = Cast("Nova", "n.ova", [], ["https://img/n.png"])
    cast = cast_prompt(Engine.SEEDANCE, "Nova and Sky", [vidu_only, SKY])
    assert cast.prompt == "Nova and the character from images 1-3"
    assert cast.unbound == ("Nova",)


# --- Vidu Q3 ------------------------------------------------------------------------------


def test_vidu_writes_tokens_and_sends_each_character_as_a_subject():
    cast = cast_prompt(Engine.VIDU, "Sky hugs the robot R2-D2 (v.2)*", [SKY, ROBOT])
    assert cast.prompt == "@Sky hugs the robot @R2_D2_v_2"
    assert cast.subjects == (
        Subject(name="Sky", images=tuple(SKY.image_urls)),
        Subject(name="R2_D2_v_2", images=("https://img/r1.png",)),
    )
    body = cast.request("viduq3", 8, "1:1").body()
    assert body["metadata"] == {
        "subjects": [
            {"name": "Sky", "images": list(SKY.image_urls)},
            {"name": "R2_D2_v_2", "images": ["https://img/r1.png"]},
        ]
    }
    assert "image_with_roles" not in body


def test_vidu_adds_an_unnamed_character_at_the_end():
    cast = cast_prompt(Engine.VIDU, "A quiet morning.", [SKY])
    assert cast.prompt == "A quiet morning, with @Sky."


def test_vidu_sends_at_most_three_images_per_character():
    many = Cast("Many", None, [], [f"https://img/{n}.png" for n in range(5)])
    [subject] = cast_prompt(Engine.VIDU, "Many", [many]).subjects
    assert len(subject.images) == 3


def test_vidu_tokens_are_safe_distinct_and_never_empty():
    assert vidu_tokens(["Zoë", "zoe", "日本", "", "a b!c", "日本", "char3"]) == [
        "Zoe",
        "zoe_2",
        "char3",
        "char4",
        "a_b_c",
        "char6",
        "char3_2",
    ]
    assert vidu_tokens(["x" * 50]) == ["x" * 32]


def test_vidu_two_characters_with_one_name_get_two_tokens():
    twin = Cast("Sky", None, [], ["https://img/t.png"])
    cast = cast_prompt(Engine.VIDU, "Sky waves", [SKY, twin])
    assert cast.prompt == "@Sky waves, with @Sky_2"
    assert [s.name for s in cast.subjects] == ["Sky", "Sky_2"]
