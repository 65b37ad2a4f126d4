"""Reading private-avatar assets tolerantly (docs/engines.md section 2: other status words
are not stated)."""

from __future__ import annotations

import pytest

from bot.providers.avatars import AssetStatus, AvatarAsset, field_of
from bot.providers.base import AssetRefusedError, FaceRefusedError


@pytest.mark.parametrize(
    ("answer", "status", "message"),
    [
        ({"asset_id": "a", "status": "active"}, AssetStatus.ACTIVE, ""),
        ({"asset_id": "a", "status": " ACTIVE "}, AssetStatus.ACTIVE, ""),
        ({"asset_id": "a", "status": "processing"}, AssetStatus.PROCESSING, ""),
        ({"asset_id": "a", "status": "pending_review"}, AssetStatus.PROCESSING, ""),
        ({"asset_id": "a"}, AssetStatus.PROCESSING, ""),
        ({"asset_id": "a", "status": "Rejected", "reason": "blurry"}, AssetStatus.FAILED, "blurry"),
        ({"asset_id": "a", "status": "failed"}, AssetStatus.FAILED, ""),
        (
            {"asset_id": "a", "status": "active", "error": {"code": 7, "message": "no"}},
            AssetStatus.FAILED,
            "no",
        ),
        ({"id": "a", "status": "processing", "error": "unread"}, AssetStatus.FAILED, "unread"),
        ({"asset_id": "a", "status": "active", "error": None}, AssetStatus.ACTIVE, ""),
        ({"asset_id": "a", "status": "active", "error": {}}, AssetStatus.ACTIVE, ""),
    ],
)
def test_status_reads_as_one_of_three(answer, status, message):
    asset = AvatarAsset.model_validate(answer)
    assert asset.asset_id == "a"
    assert asset.status is status and asset.error_message == message
    assert (asset.refusal() is None) == (status is not AssetStatus.FAILED)


@pytest.mark.parametrize(
    ("error", "face"),
    [
        ({"code": "face_not_allowed", "message": "x"}, True),
        ({"code": "review_failed", "message": "Real human faces are not supported"}, True),
        ({"code": "review_failed", "message": "The image shows a real person"}, True),
        ({"code": "review_failed", "message": "Surface too dark"}, False),
        ({"code": "review_failed", "message": "Image too small"}, False),
    ],
)
def test_a_face_refusal_is_told_apart(error, face):
    asset = AvatarAsset.model_validate({"asset_id": "a", "status": "failed", "error": error})
    assert asset.face_refused is face
    refusal = asset.refusal()
    assert isinstance(refusal, AssetRefusedError)
    assert isinstance(refusal, FaceRefusedError) is face
    assert refusal.detail == error["message"] and refusal.code == error["code"]


def test_a_url_in_the_reason_is_hidden():
    asset = AvatarAsset.model_validate(
        {"asset_id": "a", "status": "failed", "error": {"message": "cannot read https://x/y.png"}}
    )
    assert asset.error_message == "cannot read <url>"


def test_ids_are_read_wrapped_or_not():
    assert field_of({"success": True, "data": {"group_id": "g1"}}, "group_id") == "g1"
    assert field_of({"group_id": "g2"}, "group_id", "id") == "g2"
    assert field_of({"data": {"id": 5}}, "group_id", "id") == "5"
    assert field_of({"data": {"group_id": ""}}, "group_id") is None
    assert field_of(["g"], "group_id") is None
