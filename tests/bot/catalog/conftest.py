"""A migrated SQLite catalogue with the demo photos, and the real encoders (loaded once)."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.catalog.encoders import EfficientNetLiteEncoder, SentenceTransformerEncoder, text_encoder
from bot.storage.db import create_sync_engine
from bot.storage.seed import seed


@pytest.fixture(scope="session")
def image_model() -> EfficientNetLiteEncoder:
    return EfficientNetLiteEncoder()


@pytest.fixture(scope="session")
def text_model() -> SentenceTransformerEncoder:
    return text_encoder()  # type: ignore[return-value]


@pytest.fixture
def shop(tmp_path: Path, fresh_database):
    """(engine, catalog_dir, database url) of a freshly seeded shop with demo photos."""
    url = fresh_database("sqlite")
    engine = create_sync_engine(url)
    seed(engine, catalog_dir=tmp_path / "catalog")
    yield engine, tmp_path / "catalog", url
    engine.dispose()
