"""monitoring.yml's `brand:` section: what it gives, and a clear error naming the key for what cannot work."""

from __future__ import annotations

import re

import pytest

from bot.monitoring.config import MONITORING_YML, BrandSettings, ConfigError, Keyword, MonitoringConfig
from bot.monitoring.const import COMMENT, DM, MAX_KEYWORDS, MENTION


def brand(section: object) -> BrandSettings:
    return MonitoringConfig.from_dict({"brand": section}).brand


def test_the_shipped_file_tracks_the_brand_products_and_competitors():
    config = MonitoringConfig.load(MONITORING_YML)
    groups = {k.group for k in config.brand.keywords}
    assert groups == {"own", "products", "competitors"}
    own = next(k for k in config.brand.keywords if k.group == "own")
    assert own.name == "Loom & Co" and "@loomandco" in own.terms and "loomandco" in own.terms
    assert config.brand.kinds == (MENTION, COMMENT)
    assert config.brand.spike_alerts and config.brand.volume_alerts


def test_a_brand_section():
    settings = brand(
        {
            "include_dms": True,
            "volume_alerts": False,
            "own": [{"name": "  Loom  & Co ", "terms": ["Loom & Co", "@loomandco"]}],
            "products": [{"name": "501", "terms": [501]}],  # YAML reads a bare 501 as a number
            "competitors": None,
        }
    )
    assert settings.keywords == (
        Keyword("Loom & Co", "own", ("Loom & Co", "@loomandco")),
        Keyword("501", "products", ("501",)),
    )
    assert settings.kinds == (MENTION, COMMENT, DM) and settings.spike_alerts and not settings.volume_alerts
    assert MonitoringConfig.from_dict({}).brand == BrandSettings() == brand(None)


@pytest.mark.parametrize(
    ("section", "message"),
    [
        ("Loom & Co", "brand: expected a mapping of groups (own, products, competitors)"),
        ({"customers": []}, "brand: unknown settings customers"),
        ({"own": {"name": "Loom"}}, "brand.own: expected a list of keywords"),
        ({"own": ["Loom & Co"]}, "brand.own[0]: expected a mapping with `name` and `terms`"),
        (
            {"own": [{"name": "Loom", "terms": ["loom"], "colour": "blue"}]},
            "brand.own[0]: unknown settings colour",
        ),
        ({"products": [{"terms": ["linen shirt"]}]}, "brand.products[0].name: expected a name of 1 to 80"),
        ({"products": [{"name": " ", "terms": ["x"]}]}, "brand.products[0].name"),
        ({"products": [{"name": "L" * 81, "terms": ["x"]}]}, "brand.products[0].name"),
        ({"products": [{"name": "Linen"}]}, "brand.products[0].terms: expected a list of words, phrases"),
        ({"products": [{"name": "Linen", "terms": []}]}, "brand.products[0].terms: expected a list"),
        ({"products": [{"name": "Linen", "terms": "linen"}]}, "brand.products[0].terms: expected a list"),
        (
            {"competitors": [{"name": "North", "terms": ["north knit", {"x": 1}]}]},
            "brand.competitors[0].terms[1]: expected a word, phrase or @handle",
        ),
        ({"competitors": [{"name": "North", "terms": ["  "]}]}, "brand.competitors[0].terms[0]: empty term"),
        ({"competitors": [{"name": "North", "terms": ["*"]}]}, "brand.competitors[0].terms[0]: empty term"),
        (
            {"competitors": [{"name": "North", "terms": ["@north knit"]}]},
            "brand.competitors[0].terms[0]: '@north knit' is not an @handle",
        ),
        (
            {
                "own": [{"name": "North Knit", "terms": ["a"]}],
                "competitors": [{"name": "north knit", "terms": ["b"]}],
            },
            "brand: the keyword name 'north knit' is used twice (own and competitors)",
        ),
        ({"include_dms": "no"}, "brand.include_dms: expected true or false, got 'no'"),
        ({"spike_alerts": 1}, "brand.spike_alerts: expected true or false"),
        (
            {"products": [{"name": f"p{i}", "terms": [f"p{i}"]} for i in range(MAX_KEYWORDS + 1)]},
            f"brand: {MAX_KEYWORDS + 1} keywords, more than the {MAX_KEYWORDS} allowed",
        ),
    ],
)
def test_what_cannot_work_is_an_error_naming_the_key(section, message):
    with pytest.raises(ConfigError, match=re.escape(message)):
        brand(section)


def test_a_bad_block_list_term_names_its_place():
    with pytest.raises(
        ConfigError, match=re.escape("moderation.block_list[1]: '@ss hole' is not an @handle")
    ):
        MonitoringConfig.from_dict({"moderation": {"block_list": ["idiot", "@ss hole"]}})


def test_a_broken_brand_edit_keeps_the_last_good_version(tmp_path):
    path = tmp_path / "monitoring.yml"
    path.write_text("brand:\n  own:\n    - {name: Loom & Co, terms: [loomandco]}\n")
    watched = MonitoringConfig.watch({"MONITORING_CONFIG": str(path)}, every=0)
    assert [k.name for k in watched.value.brand.keywords] == ["Loom & Co"]
    path.write_text("brand:\n  own:\n    - {name: Loom & Co}\n")  # no terms
    assert [k.name for k in watched.value.brand.keywords] == ["Loom & Co"]
    path.write_text("brand:\n  competitors:\n    - {name: North Knit, terms: [north knit]}\n")
    assert [(k.name, k.group) for k in watched.value.brand.keywords] == [("North Knit", "competitors")]
