"""Akeneo's floor rule in integers, and what counts as a value (research §7 items 2 and 3)."""
from __future__ import annotations

import math

import pytest

from marketd.plugins.content.model_base import ratio
from marketd.plugins.content.values import (canonical_locale, clean, ean_problem, gtin_valid, locale_suffixes,
                                            norm_column, split_locale_column, truthy)


@pytest.mark.parametrize("required, missing, expected", [(5, 2, 60), (3, 1, 66), (0, 0, 100), (100, 43, 57),
                                                         (1, 1, 0), (7, 0, 100), (3, 2, 33)])
def test_floor_rule(required, missing, expected):
    assert ratio(required, missing) == expected


def test_integer_floor_differs_from_dividing_first():
    """The float trap the design found: dividing first gives 56 for 100/43, the integer rule 57."""
    assert math.floor(100 * ((100 - 43) / 100)) == 56
    assert ratio(100, 43) == 57
    for r in range(1, 400):
        for m in range(0, r + 1):
            assert ratio(r, m) == (100 * (r - m)) // r


@pytest.mark.parametrize("text", ["", " ", "-", "--", "N/A", "n/a", "#N/A", "null", "  -  "])
def test_no_value_spellings_are_empty(text):
    assert clean(text) == ""


def test_clean_trims_and_normalises_to_nfc():
    decomposed = "Gru\u0308n"  # u + combining diaeresis
    assert clean(f"  {decomposed} ") == "Grün"
    assert clean("0") == "0" and clean("None") == "None"


@pytest.mark.parametrize("ean, problem", [("4006381333931", None), ("4006381333932", "checksum"),
                                          ("400638133393", "length"), ("40063813339311", "length"),
                                          ("40063813339A1", "length")])
def test_ean_rules_give_one_problem(ean, problem):
    assert ean_problem(ean) == problem


def test_gtin_lengths():
    assert gtin_valid("4006381333931") and gtin_valid("96385074") and not gtin_valid("4006381333932")


def test_locales_and_suffixes():
    configured = ["de_DE", "fr_FR", "fr_BE"]
    assert canonical_locale("de-de", configured) == "de_DE"
    assert canonical_locale("de", configured) == "de_DE"
    assert canonical_locale("fr", configured) is None          # two French locales: ambiguous
    assert canonical_locale("english please", configured) is None
    sfx = locale_suffixes(configured)
    assert split_locale_column("title_de", sfx) == ("title", "de_DE")
    assert split_locale_column("bullet_3_fr_be", sfx) == ("bullet_3", "fr_BE")
    assert split_locale_column("size_eu", sfx) == ("size_eu", None)
    assert split_locale_column("title_fr", sfx) == ("title_fr", None)   # ambiguous language: no locale


def test_column_names_and_booleans():
    assert norm_column(" Bullet-1 ") == "bullet_1"
    assert norm_column("attr.Besondere Merkmale") == "attr.Besondere Merkmale"
    assert [truthy(x) for x in ("Y", "ja", "1", "nein", "false", "", "maybe")] == [True, True, True, False, False,
                                                                                   None, None]
