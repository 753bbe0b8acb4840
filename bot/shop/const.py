"""Names and numbers of the shop's policies, in one place."""

from __future__ import annotations

import re

RETURN_WINDOW_DAYS = 30
ORDER_ID_PATTERN = re.compile(r"(?<![\d-])1\d{5}(?![\d-])")

# Words customers use for catalogue categories, mapped to words in our titles and categories.
PRODUCT_WORD_SYNONYMS = {
    "trainers": "sneakers",
    "trainer": "sneakers",
    "jumper": "sweater",
    "t-shirt": "tee",
    "tshirt": "tee",
    "trousers": "pants",
    "hoody": "hoodie",
    "bum": "belt",
}
