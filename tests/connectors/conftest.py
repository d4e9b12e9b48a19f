import pytest

from humacrona_sandbox.seed import SeedData, generate


@pytest.fixture(scope="session")
def workforce() -> SeedData:
    """A few hundred generated people, as both sandboxes hold them (some are in one system only)."""
    return generate(180, seed=11)
