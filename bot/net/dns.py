"""Name resolution for media fetches, on a thread pool of its own.

Lookups get their own few threads so that no amount of media work (cuts, probes, page
downloads) can make the egress proxy wait for a free thread to resolve a name.
"""

from __future__ import annotations

import asyncio
import socket
from concurrent.futures import ThreadPoolExecutor

DNS_WORKERS = 4
_POOL = ThreadPoolExecutor(DNS_WORKERS, thread_name_prefix="dns")


def resolve_host(host: str, port: int) -> list[str]:
    """The addresses `host` resolves to (blocking; a seam for tests)."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [str(info[4][0]) for info in infos]


async def resolve(host: str, port: int) -> list[str]:
    """`resolve_host` on the lookup pool."""
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(_POOL, resolve_host, host, port)
