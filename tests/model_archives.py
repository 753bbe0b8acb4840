"""Model files for the hot-swap tests of both runtimes, made from the trained model.

A Rasa model archive is a gzipped tar with `metadata.json` (its `model_id`, a fresh uuid per training)
beside the components' resources (rasa/engine/storage/local_model_storage.py). `repack` writes the same
model with another model_id: a model that behaves exactly as the served one, yet that a server's
`GET /status` tells apart. `corrupt` writes a file named like a model that no tar reader accepts.
"""

from __future__ import annotations

import io
import json
import tarfile
import uuid
from pathlib import Path

METADATA = "metadata.json"


def repack(source: Path, target: Path, model_id: str | None = None) -> str:
    """Copy the model at `source` to `target` with `model_id` (default: a new uuid); the model_id."""
    model_id = model_id or uuid.uuid4().hex
    with tarfile.open(source, "r:gz") as old, tarfile.open(target, "w:gz", compresslevel=1) as new:
        found = False
        for member in old:
            data = old.extractfile(member) if member.isfile() else None
            if member.name.lstrip("./") == METADATA and data is not None:
                metadata = json.load(data)
                metadata["model_id"] = model_id
                raw = json.dumps(metadata).encode()
                member.size = len(raw)
                new.addfile(member, io.BytesIO(raw))
                found = True
            else:
                new.addfile(member, data)
    if not found:
        raise ValueError(f"{source} has no {METADATA}")
    return model_id


def corrupt(target: Path) -> Path:
    """A file named like a model whose bytes are not a gzipped tar."""
    target.write_bytes(b"\x1f\x8b not really gzip, and not a Rasa model either" * 100)
    return target
