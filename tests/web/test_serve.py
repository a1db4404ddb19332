"""`gabaguide serve`: the README's main job starts the app on embedded defaults with demo data."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import httpx

from tests.web.conftest import _free_port

GABAGUIDE = [sys.executable, "-c", "from gabaguide.cli import main; main()"]


def test_serve_starts_on_the_given_port_with_demo_patients(tmp_path: Path) -> None:
    port = _free_port()
    env = os.environ | {"GABAGUIDE_DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}"}
    proc = subprocess.Popen(
        [*GABAGUIDE, "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                r = httpx.get(f"http://127.0.0.1:{port}/")
                break
            except httpx.ConnectError:
                assert proc.poll() is None, proc.stdout.read() if proc.stdout else ""
                assert time.monotonic() < deadline, "server did not start"
                time.sleep(0.1)
        assert r.status_code == 200
        assert "demo-3-hemodialysis" in r.text
    finally:
        proc.terminate()
        out, _ = proc.communicate(timeout=20)
    assert f"serving on http://127.0.0.1:{port}" in out
    assert (tmp_path / "db.sqlite3").is_file()


def test_serve_with_a_bad_setting_exits_2_naming_it() -> None:
    env = os.environ | {"GABAGUIDE_REACTION_LIMIT": "lots"}
    proc = subprocess.run(
        [*GABAGUIDE, "serve", "--port", "1"], env=env, capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 2
    assert "GABAGUIDE_REACTION_LIMIT must be a whole number; got 'lots'" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_the_access_log_keeps_no_query_strings() -> None:
    import logging

    from gabaguide.web.security import drop_query_strings

    args = ("127.0.0.1:5000", "GET", "/assess/suggest?med_name=oxycodone", "1.1", 200)
    record = logging.LogRecord("uvicorn.access", logging.INFO, "", 0, "%s %s %s %s %d", args, None)
    assert drop_query_strings(record)
    assert record.getMessage() == "127.0.0.1:5000 GET /assess/suggest 1.1 200"
