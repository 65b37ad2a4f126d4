"""Answers the simulator gives in several places: the contract's error shape and a
model the service no longer offers."""

from __future__ import annotations

from typing import Any

from aiohttp import web


def api_error(status: int, code: int | str, message: str, kind: str | None = None) -> web.Response:
    """An error answer in the `{"error": {...}}` shape of the contract."""
    error: dict[str, Any] = {"code": code, "message": message}
    if kind is not None:
        error["type"] = kind
    return web.json_response({"error": error}, status=status)


def invalid(message: str) -> web.Response:
    """A 400 `invalid_request_error` with this message."""
    return api_error(400, 400, message, "invalid_request_error")


def retired(model: str) -> web.Response:
    """What resellers answered in 2026 for a model they no longer offer."""
    return api_error(
        400,
        "model_not_found",
        f"The model `{model}` does not exist or is not available",
        "invalid_request_error",
    )
