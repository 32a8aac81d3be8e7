"""Times an operator reads: one zone (the instance's ``[daemon] timezone``), to the second, with the
offset. A new user saw ``marketd status`` print ``+00:00`` next to ``+01:00`` and microseconds
(``17:52:59.040955``); ``shipments`` cut the offset off altogether (``[:19]``)."""
from __future__ import annotations

import re
from datetime import datetime, timezone
from zoneinfo import ZoneInfo

import pytest
from click.testing import CliRunner

from marketd.cli import cli
from marketd.clock import shown_time

from tests.conftest import write_config

ROME = ZoneInfo("Europe/Rome")


@pytest.mark.parametrize("value, expected", [
    ("2026-11-30T17:52:59.040955+00:00", "2026-11-30 18:52:59+01:00"),   # stored UTC, microseconds dropped
    ("2026-07-01T10:00:00+00:00", "2026-07-01 12:00:00+02:00"),          # summer time
    ("2026-11-30T17:52:59", "2026-11-30 18:52:59+01:00"),                # a naive stored time is UTC
    (datetime(2026, 11, 30, 23, 30, tzinfo=timezone.utc), "2026-12-01 00:30:00+01:00"),  # the date moves too
    (1796080800.5, "2026-12-01 00:20:00+01:00"),                         # epoch seconds (retry "until")
])
def test_a_stored_time_is_shown_in_the_instance_zone_to_the_second(value, expected):
    assert shown_time(value, ROME) == expected
    assert shown_time(value, "Europe/Rome") == expected


@pytest.mark.parametrize("value, expected", [(None, "-"), ("", "-"), ("soon", "soon")])
def test_no_time_is_a_dash_and_a_non_time_is_printed_as_it_is(value, expected):
    assert shown_time(value, ROME) == expected


def test_status_and_jobs_print_every_time_in_the_configured_zone(tmp_path):
    cfg = write_config(tmp_path / "i", daemon={"timezone": "Europe/Rome"})
    for args in (["status"], ["jobs"]):
        out = CliRunner().invoke(cli, ["--config", str(cfg), *args], catch_exceptions=False).output
        stamps = re.findall(r"\d{4}-\d\d-\d\d[ T]\d\d:\d\d:\d\d\S*", out)
        assert stamps, out
        for stamp in stamps:
            # Rome is +01:00 or +02:00; never UTC's +00:00, never a fraction of a second
            assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\+0[12]:00", stamp), (args, stamp)


def test_an_empty_order_list_says_how_to_get_orders_when_no_channel_is_configured(tmp_path):
    """A new user ran ``orders list`` on a fresh instance and saw only "no orders"."""
    bare = write_config(tmp_path / "bare")
    out = CliRunner().invoke(cli, ["--config", str(bare), "orders", "list"], catch_exceptions=False).output
    assert "no orders" in out and "no channel is configured yet" in out and "[channels.NAME]" in out
    configured = write_config(tmp_path / "ch", channels={"amazon-de": {"type": "amazon", "marketplace": "DE"}})
    out = CliRunner().invoke(cli, ["--config", str(configured), "orders", "list"], catch_exceptions=False).output
    assert "no orders" in out and "no channel is configured" not in out


def test_the_report_list_says_how_to_pass_each_reports_options(tmp_path):
    """A new user tried ``report fees --month 2026-11``; the list never said ``--set month=``."""
    cfg = write_config(tmp_path / "i")
    out = CliRunner().invoke(cli, ["--config", str(cfg), "report"], catch_exceptions=False).output
    [fees] = [line for line in out.splitlines() if line.startswith("fees ")]
    assert fees.endswith("[--set month=…]"), fees
