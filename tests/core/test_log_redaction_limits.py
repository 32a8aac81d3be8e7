"""Redaction and log lines stay cheap whatever a file holds: every pattern runs in linear time
(possessive runs, starts pinned by a look-behind), and no log line carries a megabyte of input.

The quadratic e-mail pattern took a minute on a 130 KB cell and hours on 2 MB, on the inbox
worker thread; these inputs would not finish within the timeouts below if it came back.
"""
from __future__ import annotations

import logging
import re
from re import _parser as sre_parse  # the stdlib parser (sre_parse is its deprecated alias)

import pytest

from marketd import logs
from marketd.logs import EMAIL, MAX_LINE, RedactingFilter, cap_lines, quote_input, redact

TWO_MB = 2 * 1024 * 1024

ADVERSARIAL = {
    "letters": "a" * TWO_MB,
    "digits after an at": "a@" + "1" * TWO_MB,
    "many ats": "a@" * (TWO_MB // 2),
    "dotted domain without a tld": "x@" + "a." * (TWO_MB // 2),
    "dotted local part": "a." * (TWO_MB // 2) + "@",
    "dots": "." * TWO_MB,
    "hyphen labels": "x@" + "a-" * (TWO_MB // 2),
    "blanks after bearer": "bearer" + " " * TWO_MB,
    "repeated token names": "x-amz-access-token: " * (TWO_MB // 20),
    "a weight cell": "weight_kg '" + "1,5" * (TWO_MB // 3) + "' is not a number",
}


def _unbounded_backtracking_runs(pattern: re.Pattern) -> list[str]:
    """Greedy unbounded repeats (``+``/``*``/``{n,}`` without ``+`` possessive) in a pattern:
    each one can be re-entered from every start position."""
    found = []

    def walk(items):
        for op, arg in items:
            name = str(op)
            if name in ("MAX_REPEAT", "MIN_REPEAT") and arg[1] == sre_parse.MAXREPEAT:
                found.append(name)
            if name in ("MAX_REPEAT", "MIN_REPEAT", "POSSESSIVE_REPEAT"):
                walk(arg[2])
            elif name == "SUBPATTERN":
                walk(arg[3])
            elif name == "BRANCH":
                for b in arg[1]:
                    walk(b)
            elif name == "ATOMIC_GROUP":
                walk(arg)
    walk(sre_parse.parse(pattern.pattern, pattern.flags))
    return found


def test_the_email_pattern_only_backtracks_over_domain_labels():
    """Local part and labels are possessive; the one greedy repeat left is the label group, so a
    trailing dot (``john@example.com.``) still finds its top-level domain."""
    assert _unbounded_backtracking_runs(EMAIL) == ["MAX_REPEAT"]
    for pattern in (logs._BEARER, logs._REFRESH):
        assert _unbounded_backtracking_runs(pattern) == []


@pytest.mark.timeout(60)
@pytest.mark.parametrize("name", sorted(ADVERSARIAL))
def test_two_megabyte_values_are_redacted(name):
    text = ADVERSARIAL[name]
    out = redact(text)
    assert len(out) <= len(text)


@pytest.mark.parametrize("text, expected", [
    ("Write to john@example.com.", "Write to <email>."),
    ("a@b@c.com", "a@<email>"),
    ("mailto:Jörg.Müller@beispiel.de;", "mailto:<email>;"),
    ("no address: x@y", "no address: x@y"),
    ("u@mail.example.co.uk!", "<email>!"),
    ("foo bar.baz@x.com", "foo <email>"),
    ("Authorization: Bearer abc.def-1", "Authorization: Bearer ***"),
    ("token Atzr|IwEBIabc-1 ok", "token Atzr|*** ok"),
])
def test_redaction_still_masks_what_it_did(text, expected):
    assert redact(text) == expected


def test_quote_input_keeps_an_excerpt_and_the_length():
    assert quote_input("12,5") == "'12,5'"
    long = quote_input("9" * 130_000)
    assert long.startswith("'999") and long.endswith("… (130000 characters)") and len(long) < 100
    assert quote_input("a\x00b") == "'a\\x00b'"  # control characters come out escaped


@pytest.mark.timeout(60)
def test_a_log_line_never_carries_megabytes(caplog):
    """A message that quotes an exception text of 2 MB (with an e-mail address at its end) is
    redacted first and cut after, so no cut can reveal half a secret."""
    record = logging.LogRecord("marketd.test", logging.WARNING, __file__, 1, "bad value %s", ("v" * TWO_MB,), None)
    RedactingFilter().filter(record)
    assert len(record.getMessage()) <= MAX_LINE + 60 and "more characters cut" in record.getMessage()
    text = "x" * 2000 + " buyer@example.com\nnext line"
    out = cap_lines(redact(text))
    assert "buyer@" not in out and out.endswith("\nnext line")
    assert all(len(line) <= MAX_LINE + 60 for line in out.split("\n"))
