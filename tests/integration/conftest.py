"""Integration tests run the real bundled models (the `[embedded]` extra). Outside CI
they are skipped when the extra is missing; in CI (CI=true) a missing extra fails."""

from __future__ import annotations

import importlib.util
import os

import pytest


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "integration" in str(item.path):
            item.add_marker(pytest.mark.integration)


@pytest.fixture(autouse=True)
def _require_embedded() -> None:
    if importlib.util.find_spec("xllamacpp") is None:
        message = 'the [embedded] extra is not installed: pip install -e ".[embedded,dev]"'
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
