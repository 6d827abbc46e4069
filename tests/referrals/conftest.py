import pytest

from tests.referrals.factories import covered_world


@pytest.fixture
def cw(world):
    """The world with an active plan–CBO contract covering T2041-U6, S5170-U6, G9008-U1, H0014-U6."""
    return covered_world(world)
