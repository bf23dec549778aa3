"""The suite shares one test client: cookies a security test earns on purpose (the opt-out
cookie from driving every route, a cleared session) must not stay in its jar for the next test."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _clean_cookie_jar(client):
    client.cookies.clear()
    yield
    client.cookies.clear()
