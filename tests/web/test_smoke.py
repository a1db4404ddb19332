"""The server answers its main routes."""

from __future__ import annotations

import httpx


def test_home_lists_demo_patients_and_education_pages(client: httpx.Client) -> None:
    r = client.get("/")
    assert r.status_code == 200
    assert "demo-1-phn-ckd3" in r.text
    assert "/learn/side-effects" in r.text
    assert "never change your dose yourself" in r.text
