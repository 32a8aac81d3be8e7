"""Go-live arithmetic: 10 working days from activation (day 0), the brand's public holidays and
closing days, numpy business days (issue 13 "Go-live arithmetic tests")."""
from __future__ import annotations

from datetime import date, datetime, timezone
from zoneinfo import ZoneInfo

import pytest

from marketd.plugins.brands.golive import status_of
from marketd.plugins.brands.settings import BrandSettings
from marketd.plugins.brands.workdays import Calendar


def brand(**kw):
    base = {"name": "B", "sku_prefixes": ["B-"], "country": "DE", "subdivision": "NW", "platforms": ["amazon-de"]}
    return BrandSettings.model_validate({**base, **kw})


@pytest.mark.parametrize("country, sub, closing, start, due", [
    ("DE", "NW", [], date(2024, 12, 18), date(2025, 1, 6)),        # the example
    ("DE", "BY", [], date(2024, 12, 18), date(2025, 1, 7)),        # Epiphany is a holiday in Bavaria
    ("IT", None, [], date(2024, 12, 18), date(2025, 1, 7)),        # Italian holidays (6 Jan)
    ("DE", "NW", [date(2024, 12, 24), date(2024, 12, 31)], date(2024, 12, 18), date(2025, 1, 8)),
    ("DE", "NW", [], date(2024, 12, 21), date(2025, 1, 9)),        # Saturday start rolls to Monday
    ("DE", "NW", [], date(2024, 12, 25), date(2025, 1, 13)),       # a holiday start rolls forward
])
def test_due_date(country, sub, closing, start, due):
    assert Calendar(country, sub, closing).due(start, 10) == due


def test_working_days_between_matches_research():
    assert Calendar("DE", "NW").working_days_between(date(2024, 12, 18), date(2025, 1, 10)) == 14


def test_activation_late_in_the_evening_utc_is_the_next_local_day():
    b = brand()
    cal = Calendar.of(b)
    # 23:30Z on 17 Dec is 00:30 on 18 Dec in Berlin: day 0 is the 18th
    s = status_of(b, cal, "B-1", "amazon-de", "2024-12-17T23:30:00+00:00", None, date(2025, 1, 6))
    assert s.activated == date(2024, 12, 18) and s.due == date(2025, 1, 6) and s.status == "pending"
    s_utc = status_of(brand(timezone="UTC"), Calendar.of(brand(timezone="UTC")), "B-1", "amazon-de",
                      "2024-12-17T23:30:00+00:00", None, date(2025, 1, 6))
    assert s_utc.activated == date(2024, 12, 17) and s_utc.due == date(2025, 1, 3)


def test_not_live_on_the_seventh_is_overdue_by_one_working_day():
    b = brand()
    s = status_of(b, Calendar.of(b), "B-1", "amazon-de", "2024-12-18T09:00:00+01:00", None, date(2025, 1, 7))
    assert (s.status, s.days_late) == ("overdue", 1)
    on_due = status_of(b, Calendar.of(b), "B-1", "amazon-de", "2024-12-18T09:00:00+01:00", None, date(2025, 1, 6))
    assert on_due.status == "pending"


def test_live_sku_reports_working_days_taken_and_lateness():
    b = brand()
    s = status_of(b, Calendar.of(b), "B-1", "amazon-de", "2024-12-18T09:00:00+01:00",
                  "2025-01-08T10:00:00+01:00", date(2025, 1, 20))
    assert (s.status, s.live, s.days_taken, s.days_late) == ("live", date(2025, 1, 8), 12, 2)


def test_per_platform_override_and_italian_brand_calendar():
    b = brand(platforms=["amazon-de", "ebay-de"], golive_days_by_platform={"ebay-de": 3})
    assert b.golive_days_for("ebay-de") == 3 and b.golive_days_for("amazon-de") == 10
    s = status_of(b, Calendar.of(b), "B-1", "ebay-de", "2024-12-18T09:00:00+01:00", None, date(2025, 1, 1))
    assert s.due == date(2024, 12, 23)
    it = brand(country="IT", subdivision=None, timezone="Europe/Rome")
    assert Calendar.of(it).due(date(2024, 12, 18), 10) == date(2025, 1, 7)
    assert not Calendar.of(it).is_working_day(date(2025, 1, 6))
    assert Calendar.of(brand()).is_working_day(date(2025, 1, 6))


def test_a_naive_time_is_refused():
    with pytest.raises(ValueError):
        Calendar("DE", "NW", tz=ZoneInfo("Europe/Berlin")).local_date(datetime(2025, 1, 1, 12, 0))
    assert Calendar("DE", "NW", tz=ZoneInfo("Europe/Berlin")).local_date(
        datetime(2025, 1, 1, 23, 30, tzinfo=timezone.utc)) == date(2025, 1, 2)


@pytest.mark.parametrize("bad, words", [
    ({"country": "XX"}, "not a country"),
    ({"subdivision": "ZZ"}, "subdivision"),
    ({"monitoring_weekdays": ["tues"]}, "day names"),
    ({"commission": {"default": "abc"}}, "percentage"),
    ({"golive_days_by_platform": {"otto": 5}}, "not in platforms"),
    ({"stock_locations": {"warehouse": "Bestand"}}, "name a location"),
    ({"stock_locations": {"hamburg": " "}}, "catalog column"),
])
def test_brand_settings_refuse_bad_values(bad, words):
    with pytest.raises(Exception) as exc:
        brand(**bad)
    assert words in str(exc.value)


def test_the_array_form_agrees_with_the_one_row_form(app_factory):
    """``statuses`` (numpy arrays, all rows at once) gives what ``status_of`` gives row by row."""
    import random

    from marketd.plugins.brands import golive

    app = app_factory(brands={"b": {"name": "B", "sku_prefixes": ["B-"], "country": "DE", "subdivision": "BY",
                                    "platforms": ["amazon-de", "ebay-de"], "golive_days_by_platform": {"ebay-de": 4},
                                    "closing_days": ["2024-12-24"]}})
    from marketd.plugins.brands.settings import brand_of

    b = brand_of(app, "b")
    rnd = random.Random(7)
    rows = []
    for i in range(300):
        act = datetime(2024, 11, 1, tzinfo=timezone.utc).timestamp() + rnd.randrange(0, 90 * 86400)
        a = datetime.fromtimestamp(act, timezone.utc)
        live = None if rnd.random() < 0.4 else datetime.fromtimestamp(act + rnd.randrange(0, 30 * 86400), timezone.utc)
        rows.append((f"B-{i}", rnd.choice(["amazon-de", "ebay-de"]), a.isoformat(), live and live.isoformat()))
    with app.store.transaction() as db:
        for sku, p, a, live in rows:
            db.execute("insert into golive (sku, platform, brand, activated_at, live_at) values (?,?,?,?,?)",
                       [sku, p, "b", a, live])
    today = date(2025, 1, 20)
    got = {(s.sku, s.platform): s for s in golive.statuses(app.store.db, "b", b, today)}
    cal = Calendar.of(b)
    for sku, p, a, live in rows:
        assert got[(sku, p)] == status_of(b, cal, sku, p, a, live, today)


def test_brands_defaults_apply_to_every_brand_and_closing_days_add_up():
    from marketd.plugins.brands.settings import parse_brands
    from marketd.sdk import ConfigError

    got = parse_brands({"brands": {
        "defaults": {"country": "DE", "subdivision": "NW", "closing_days": [date(2024, 12, 24)],
                     "monitoring_weekdays": ["mon"]},
        "a": {"name": "A", "sku_prefixes": ["A-"], "closing_days": [date(2024, 12, 31)]},
        "b": {"name": "B", "sku_prefixes": ["B-"], "country": "IT", "subdivision": None}}})
    assert got["a"].closing_days == [date(2024, 12, 24), date(2024, 12, 31)] and got["a"].monitoring_weekdays == ["mon"]
    assert Calendar.of(got["a"]).due(date(2024, 12, 18), 10) == date(2025, 1, 8)
    assert got["b"].country == "IT" and got["b"].closing_days == [date(2024, 12, 24)]
    with pytest.raises(ConfigError, match="cannot be a default"):
        parse_brands({"brands": {"defaults": {"sku_prefixes": ["X"]}}})
