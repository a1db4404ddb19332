"""A real server for the web tests: uvicorn on a free loopback port, serving ``create_app`` on a
fresh SQLite file, in a background thread for the whole session. Tests talk HTTP to it (httpx, or
Chromium through Playwright) — nothing is mocked."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import uvicorn

from gabaguide.web import Settings, create_app


@dataclass(frozen=True)
class LiveServer:
    url: str
    settings: Settings
    database: Path


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def start_server(settings: Settings) -> tuple[uvicorn.Server, threading.Thread, str]:
    port = _free_port()
    config = uvicorn.Config(
        create_app(settings), host="127.0.0.1", port=port, log_level="warning", lifespan="on"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the test server did not start")
        time.sleep(0.02)
    return server, thread, f"http://127.0.0.1:{port}"


@pytest.fixture(scope="session")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    database = tmp_path_factory.mktemp("web") / "gabaguide.sqlite3"
    # A generous reaction limit: the rate-limit test starts its own server with a small one.
    settings = Settings(database_url=f"sqlite:///{database}", reaction_limit=1000)
    server, thread, url = start_server(settings)
    yield LiveServer(url=url, settings=settings, database=database)
    server.should_exit = True
    thread.join(timeout=10)


@pytest.fixture
def client(live_server: LiveServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=live_server.url, timeout=60) as c:
        yield c
