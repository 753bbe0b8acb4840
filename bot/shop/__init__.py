"""The shop's domain: orders and who may see them, physical store locations, how replies format money."""
