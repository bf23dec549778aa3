"""A client with its own cookie jar per test: a visitor of its own, not the session's."""

from __future__ import annotations

import pytest
from starlette.testclient import TestClient


@pytest.fixture
def visitor(app):
    with TestClient(app, base_url="http://testserver") as c:
        yield c
