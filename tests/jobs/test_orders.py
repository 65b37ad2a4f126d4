"""Input checks that run before the bot answers: each refusal has its own clear message."""

from __future__ import annotations

from typing import Any

import pytest

from bot.domain.records import SourceKind
from bot.media.orders import AttachmentInfo, OrderError, plan_order, resolve
from bot.net import dns
from bot.net.address_guard import is_public_address

CLIP: dict[str, Any] = {"start": "1", "end": "3"}
VIDEO = AttachmentInfo("https://cdn.example/a.mp4", "a.mp4", 1000, "video/mp4")


def test_one_source_of_each_kind_is_accepted():
    assert plan_order(video=VIDEO, **CLIP).kind is SourceKind.ATTACHMENT
    order = plan_order(url="https://example.com/clip.MP4", **CLIP)
    assert order.kind is SourceKind.URL and order.request().url == order.url
    order = plan_order(from_task="task_01KBYT59JDHB4A3KDDR9N9JVWP", model="sora-2-pro", **CLIP)
    assert order.request().from_task == "task_01KBYT59JDHB4A3KDDR9N9JVWP"
    assert order.model == "sora-2-pro"


@pytest.mark.parametrize(
    ("kwargs", "needle"),
    [
        ({}, "exactly one source"),
        ({"video": VIDEO, "url": "https://example.com/a.mp4"}, "`video`, `url`"),
        ({"url": "ftp://example.com/a.mp4"}, "Only http"),
        ({"url": "file:///etc/passwd"}, "Only http"),
        ({"url": "javascript:alert(1)"}, "Only http"),
        ({"url": "data:video/mp4;base64,AAAA"}, "Only http"),
        ({"url": "http://127.0.0.1/a.mp4"}, "private network"),
        ({"url": "http://[::1]/a.mp4"}, "private network"),
        ({"url": "http://[::ffff:10.0.0.1]/a.mp4"}, "private network"),
        ({"url": "http://169.254.169.254/latest.mp4"}, "private network"),
        ({"url": "http://localhost:8000/a.mp4"}, "private network"),
        ({"url": "https://user:pw@example.com/a.mp4"}, "user name"),
        ({"url": "https://example.com/" + "a" * 3000 + ".mp4"}, "too long"),
        ({"from_task": "../../etc"}, "task id"),
        ({"from_task": "x'; DROP TABLE jobs;--"}, "task id"),
        ({"from_task": "t" * 101}, "task id"),
        (
            {"video": AttachmentInfo("https://cdn/x.txt", "notes.txt", 10, "text/plain")},
            "not a video",
        ),
        (
            {"video": AttachmentInfo("https://cdn/x.mp4", "big.mp4", 10**10, "video/mp4")},
            "limit is",
        ),
        ({"video": VIDEO, "model": "sora-3"}, "Unknown model"),
    ],
)
def test_refusals_explain_themselves(kwargs, needle):
    with pytest.raises(OrderError) as info:
        plan_order(**{**CLIP, **kwargs})
    assert needle in str(info.value)


@pytest.mark.parametrize(
    ("start", "end"),
    [
        ("x", "3"),
        ("-1", "1"),
        ("nan", "2"),
        ("inf", "3"),
        ("3", "1"),
        ("1", "1.5"),
        ("1", "5"),
        ("99999999", "100000001"),
    ],
)
def test_bad_ranges_are_refused(start, end):
    with pytest.raises(OrderError):
        plan_order(video=VIDEO, start=start, end=end)


def test_page_links_become_page_orders():
    order = plan_order(url="https://www.youtube.com/watch?v=dQw4w9WgXcQ", **CLIP)
    assert order.kind is SourceKind.PAGE and order.url == order.reference


def test_private_addresses_allowed_only_when_configured():
    order = plan_order(url="http://127.0.0.1:8000/a.mp4", allow_private=True, **CLIP)
    assert order.url == "http://127.0.0.1:8000/a.mp4"


@pytest.mark.parametrize(
    "address",
    [
        "10.1.2.3",
        "192.168.0.1",
        "172.16.5.4",
        "127.0.0.1",
        "::1",
        "fe80::1",
        "224.0.0.1",
        "0.0.0.0",
        "100.64.0.1",
    ],
)
def test_private_and_special_addresses_are_not_public(address):
    assert not is_public_address(address)


def test_public_addresses_are_public():
    assert is_public_address("93.184.216.34") and is_public_address("2606:2800:220:1::1")


async def test_unknown_host_is_refused_after_resolution():
    order = plan_order(url="http://no-such-host.invalid/a.mp4", **CLIP)
    with pytest.raises(OrderError, match="could not be found"):
        await resolve(order, allow_private=False)


async def test_names_that_resolve_to_private_addresses_are_refused(monkeypatch):
    def rebinding_dns(host, port):  # a public-looking name, a private answer
        return ["10.0.0.5"]

    monkeypatch.setattr(dns, "resolve_host", rebinding_dns)
    order = plan_order(url="https://videos.example.com/a.mp4", **CLIP)
    with pytest.raises(OrderError, match="private network"):
        await resolve(order, allow_private=False)
    assert await resolve(order, allow_private=True) is order


@pytest.mark.parametrize(
    "url",
    [
        "https://" + "a" * 64 + ".com/x.mp4",
        "https://exa..mple.com/x.mp4",
        "https://example.com:99999/x.mp4",
        "https://example.com:0/x.mp4",
        "https://[::1/x.mp4",
    ],
)
def test_malformed_hosts_are_refused_not_crashed(url):
    with pytest.raises(OrderError):
        plan_order(url=url, **CLIP)
