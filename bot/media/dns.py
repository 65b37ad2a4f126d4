"""Name resolution for media fetches (a seam for tests)."""

from __future__ import annotations

import socket


def resolve_host(host: str, port: int) -> list[str]:
    """The addresses `host` resolves to (a seam for tests)."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [str(info[4][0]) for info in infos]
