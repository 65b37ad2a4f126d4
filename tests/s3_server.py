"""An S3-compatible server on loopback for tests: moto's server mode, in a thread."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import pytest
from moto.server import ThreadedMotoServer

ACCESS_KEY = "AKIALIKENESSTESTKEY0"
SECRET_KEY = "likeness-test-secret-key-never-shown"
_buckets = itertools.count(1)


@contextmanager
def moto_s3() -> Iterator[str]:
    """A running moto server on 127.0.0.1 (a free port); yields its endpoint URL."""
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        yield f"http://{host}:{port}"
    finally:
        server.stop()


def use_test_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    """Dummy AWS credentials and region in the environment (moto takes any)."""
    for name in ("AWS_ENDPOINT", "AWS_ENDPOINT_URL", "AWS_PROFILE", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", ACCESS_KEY)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET_KEY)
    monkeypatch.setenv("AWS_REGION", "us-east-1")


def new_bucket(endpoint: str) -> str:
    """Create a bucket no other test uses (moto accepts the unsigned request)."""
    name = f"likeness-{next(_buckets)}"
    response = httpx.put(f"{endpoint}/{name}", timeout=10)
    response.raise_for_status()
    return name
