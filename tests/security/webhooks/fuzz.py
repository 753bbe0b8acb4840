"""A seeded mutator of recorded webhook bodies: what a careless or hostile sender could post.

`mutate(rng, body)` returns the bytes of one variant of a recorded body: a few structural mutations of
its JSON tree (types changed, keys deleted or duplicated, huge and non-finite numbers, deep nesting,
odd unicode and lone surrogates, oversized strings, shuffled lists), and sometimes a mutation of the
bytes themselves (truncation, noise, another encoding). The same seed gives the same bodies.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from typing import Any


class Raw(str):
    """JSON text written as is (numbers and escapes Python's `json` would never produce)."""


class Twice(tuple):
    """Two values for one key of an object: the key is written twice (the decoder keeps the last)."""


NUMBERS = [
    0,
    -1,
    1,
    2**31,
    2**53 + 1,
    2**63,
    2**64,
    10**30,
    -(10**20),
    0.5,
    -0.0,
    1.7e308,
    Raw("1e400"),
    Raw("-1e400"),
    Raw("NaN"),
    Raw("Infinity"),
    Raw("-Infinity"),
    Raw("1E-400"),
    Raw("00012"),
    Raw("1.0e+2"),
]
TEXTS = [
    "",
    " ",
    "hi",
    "123",
    "/restart",
    '/cancel_order{"order_id": "100871"}',
    "GET_STARTED",
    "https://evil.example/x.png",
    "<script>alert(1)</script>",
    "\u202eevil\u202c",
    "\u200b\u200d\ufeff",
    "\x00\x01\x1f",
    "e\u0301\u0301\u0301",
    "😀" * 50,
    "𝔘𝔫𝔦𝔠𝔬𝔡𝔢",
    "null",
    "{}",
]
SURROGATES = [Raw('"\\ud800"'), Raw('"\\udfff x"'), Raw('"a\\ud83d"'), Raw('"\\ud83d\\ude00"')]
BODY_NOISE = [b"", b"null", b"[]", b"{}", b"\xff\xfe\x00", b"<xml/>", b'{"object":', b"\xef\xbb\xbf{}"]


def dump(node: Any) -> str:
    """JSON text of a tree that may hold `Raw` text and `Twice` values."""
    if isinstance(node, Raw):
        return str(node)
    if isinstance(node, dict):
        pairs = [(k, w) for k, v in node.items() for w in (v if isinstance(v, Twice) else (v,))]
        return "{" + ",".join(f"{json.dumps(str(k))}:{dump(v)}" for k, v in pairs) + "}"
    if isinstance(node, list):
        return "[" + ",".join(dump(v) for v in node) + "]"
    return json.dumps(node, ensure_ascii=False)


def _slots(node: Any, found: list[tuple[Any, Any]]) -> list[tuple[Any, Any]]:
    """Every (container, key or index) in the tree (recorded bodies are shallow: recursion is fine)."""
    items = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else []
    for key, value in items:
        found.append((node, key))
        _slots(value, found)
    return found


def scalar(rng: random.Random) -> Any:
    """A value of a random type."""
    return rng.choice(
        [
            lambda: rng.choice(NUMBERS),
            lambda: rng.choice(TEXTS),
            lambda: rng.choice(SURROGATES),
            lambda: rng.choice([True, False, None]),
            lambda: [rng.choice(TEXTS), rng.choice(NUMBERS)],
            lambda: {"id": rng.choice(NUMBERS), "x": rng.choice(TEXTS)},
            lambda: [],
            lambda: {},
        ]
    )()


def nested(rng: random.Random, inner: Any) -> Any:
    """`inner` under many levels of lists or objects (sometimes more than the decoder can recurse)."""
    depth = rng.choice([20, 33, 40, 200, 900, 5000, 50_000])
    if rng.random() < 0.5:
        return Raw("[" * depth + dump(inner) + "]" * depth)
    return Raw('{"a":' * depth + dump(inner) + "}" * depth)


def retype(value: Any, rng: random.Random) -> Any:
    """The same information in another type where there is one (str ↔ int ↔ float ↔ list ↔ dict)."""
    if isinstance(value, str) and value.isdigit():
        return rng.choice([int(value), float(value), [value], {"id": value}])
    if isinstance(value, bool) or value is None:
        return rng.choice(["true", 1, 0, "", [], {}])
    if isinstance(value, (int, float)):
        return rng.choice([str(value), [value], {"value": value}, Raw("1e400"), float(value)])
    if isinstance(value, str):
        return rng.choice([[value], {"text": value}, 123, 1.5, None, True])
    if isinstance(value, dict):
        return rng.choice([list(value.values()), json.dumps(value), 5, None])
    if isinstance(value, list):
        return rng.choice([{str(i): v for i, v in enumerate(value)}, value[:1], 5, "x", None])
    return scalar(rng)


Mutation = Callable[[random.Random, Any, Any], None]


def _replace(rng: random.Random, parent: Any, key: Any) -> None:
    parent[key] = scalar(rng)


def _retype(rng: random.Random, parent: Any, key: Any) -> None:
    parent[key] = retype(parent[key], rng)


def _delete(rng: random.Random, parent: Any, key: Any) -> None:
    del parent[key]


def _duplicate_key(rng: random.Random, parent: Any, key: Any) -> None:
    if isinstance(parent, dict):
        first, second = parent[key], scalar(rng)
        parent[key] = Twice((first, second) if rng.random() < 0.5 else (second, first))
    else:
        parent.insert(key, parent[key])


def _nest(rng: random.Random, parent: Any, key: Any) -> None:
    parent[key] = nested(rng, parent[key])


def _odd_text(rng: random.Random, parent: Any, key: Any) -> None:
    parent[key] = rng.choice([*TEXTS, *SURROGATES])


def _long_text(rng: random.Random, parent: Any, key: Any) -> None:
    size = rng.choice([2_001, 10_001, 100_000, 600_000, 1_200_000])  # the last one is past the 1 MiB limit
    parent[key] = rng.choice(["x", "é", "😀", "\\"]) * size


def _number(rng: random.Random, parent: Any, key: Any) -> None:
    parent[key] = rng.choice(NUMBERS)


def _shuffle(rng: random.Random, parent: Any, key: Any) -> None:
    value = parent[key]
    if isinstance(value, list) and value:
        rng.shuffle(value)
        value.append(value[0])  # a repeated event in the same batch
    else:
        parent[key] = [value, value]


# (mutation, weight): the first ones keep most bodies close enough to real ones to reach the parsers
MUTATIONS: list[tuple[Mutation, int]] = [
    (_retype, 30),
    (_replace, 20),
    (_delete, 15),
    (_number, 10),
    (_odd_text, 10),
    (_shuffle, 5),
    (_duplicate_key, 4),
    (_nest, 3),
    (_long_text, 2),
]


def mutate_tree(rng: random.Random, body: Any) -> Any:
    """1–4 structural mutations of a copy of `body`."""
    tree = json.loads(json.dumps(body))
    operations, weights = zip(*MUTATIONS, strict=True)
    for _ in range(rng.randint(1, 4)):
        slots = _slots(tree, [])
        if not slots:
            break
        parent, key = rng.choice(slots)
        rng.choices(operations, weights)[0](rng, parent, key)
    return tree


def mutate_bytes(rng: random.Random, raw: bytes) -> bytes:
    """A mutation of the bytes: truncated, noise, another encoding, or a JSON value of the wrong kind."""
    choice = rng.randrange(6)
    if choice == 0:
        return raw[: rng.randrange(len(raw) + 1)]
    if choice == 1:
        return bytes(rng.randrange(256) for _ in range(rng.randint(1, 200)))
    if choice == 2:
        return raw.decode("utf-8", "surrogatepass").encode("utf-16", "surrogatepass")
    if choice == 3:
        position = rng.randrange(len(raw) + 1)
        return raw[:position] + rng.choice(BODY_NOISE) + raw[position:]
    if choice == 4:
        return rng.choice(BODY_NOISE)
    return b"\xef\xbb\xbf" + raw  # a byte order mark


def mutate(rng: random.Random, body: Any) -> bytes:
    """One variant of a recorded body, as bytes to post."""
    raw = dump(mutate_tree(rng, body)).encode("utf-8", "surrogatepass")
    if rng.random() < 0.12:
        raw = mutate_bytes(rng, raw)
    return raw
