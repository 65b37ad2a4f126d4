"""Refusing URLs that point into private networks (SSRF guard), shared by every intake."""

from __future__ import annotations

import asyncio
import ipaddress
from urllib.parse import urlsplit

from bot.i18n.text import Text, TextError
from bot.net import dns

MAX_URL_LENGTH = 2048


class UnsafeURLError(TextError):
    """A URL we will not fetch; the message is shown to the user as is."""


def is_public_address(address: str) -> bool:
    """True for a globally routable unicast address."""
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return not (
        ip.is_private
        or ip.is_loopback
        or ip.is_link_local
        or ip.is_reserved
        or ip.is_multicast
        or ip.is_unspecified
        or not ip.is_global
    )


def check_url_shape(url: str, *, allow_private: bool) -> str:
    """Refuse non-http(s), credentials, over-long URLs and private IP literals (no I/O).

    Returns the host name.
    """
    if len(url) > MAX_URL_LENGTH:
        raise UnsafeURLError(Text("That link is too long."))
    try:
        parts = urlsplit(url.strip())
    except ValueError:  # e.g. "Invalid IPv6 URL"
        raise UnsafeURLError(Text("That link is not a valid web address.")) from None
    if parts.scheme.lower() not in ("http", "https"):
        raise UnsafeURLError(Text("Only http:// and https:// links can be used."))
    if parts.username or parts.password:
        raise UnsafeURLError(Text("Links with a user name or password cannot be used."))
    try:
        host = parts.hostname
        port = parts.port  # raises ValueError on a malformed port
    except ValueError:
        raise UnsafeURLError(Text("That link is not a valid web address.")) from None
    if not host:
        raise UnsafeURLError(Text("That link has no host name."))
    if port == 0:
        raise UnsafeURLError(Text("That link is not a valid web address."))
    try:
        host.encode("idna")  # labels over 63 characters, empty labels, invalid characters
    except UnicodeError:
        raise UnsafeURLError(Text("That link's host name is not valid.")) from None
    if not allow_private:
        literal = _ip_literal(host)
        if literal is not None and not is_public_address(literal):
            raise UnsafeURLError(Text("That link points to a private network address."))
        if host.lower() == "localhost" or host.lower().endswith(".localhost"):
            raise UnsafeURLError(Text("That link points to a private network address."))
    return host


async def check_host_resolves_public(host: str, *, allow_private: bool) -> None:
    """Resolve `host` and refuse it if any address is not public (unless allowed)."""
    try:
        addresses = await asyncio.wait_for(dns.resolve(host, 0), timeout=10)
    except (OSError, TimeoutError, UnicodeError, ValueError):
        raise UnsafeURLError(
            Text("The host `{host}` could not be found.", host=host[:80])
        ) from None
    if allow_private:
        return
    for address in addresses:
        if not is_public_address(address):
            raise UnsafeURLError(Text("That link points to a private network address."))


def _ip_literal(host: str) -> str | None:
    try:
        return str(ipaddress.ip_address(host.strip("[]")))
    except ValueError:
        return None
