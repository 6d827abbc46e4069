"""Reference data the contracts tests rely on. Data migrations load it, but a browser test's
flush (transaction=True) empties every table, so put it back when it is missing."""

from __future__ import annotations

import pytest

from tests.contracts.factories import ensure_reference_data


@pytest.fixture(autouse=True)
def _reference_data(db):
    ensure_reference_data()
