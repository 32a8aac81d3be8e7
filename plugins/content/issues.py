"""One problem found in content: the row every report, the diff and the store share.

An issue's identity (for "fixed / new / still open") is ``(sku, platform, locale, attribute,
rule)``: the value and the message are left out, so a title that is still too long but now
differently so stays "still open" instead of counting as one fixed and one new.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from .messages import text_for

ERROR, WARNING, INFO = "ERROR", "WARNING", "INFO"
RANK = {ERROR: 0, WARNING: 1, INFO: 2}

ISSUE_COLUMNS = ["sku", "parent_sku", "platform", "locale", "attribute", "rule", "severity", "message_de",
                 "message_en", "value_found", "expected"]


@dataclass(frozen=True, slots=True)
class Issue:
    sku: str
    platform: str
    locale: str
    attribute: str
    rule: str
    severity: str
    message_en: str
    message_de: str
    value_found: str = ""
    expected: str = ""
    parent_sku: str = ""
    missing: bool = False          # a required value is absent (what "top gaps" counts)

    @property
    def key(self) -> tuple[str, str, str, str, str]:
        return (self.sku, self.platform, self.locale, self.attribute, self.rule)

    def row(self) -> list[str]:
        return [self.sku, self.parent_sku, self.platform, self.locale, self.attribute, self.rule, self.severity,
                self.message_de, self.message_en, self.value_found, self.expected]


def make(rule: str, severity: str, *, sku: str = "", platform: str = "", locale: str = "", attribute: str = "",
         value: str = "", expected: str = "", parent: str = "", missing: bool = False, **fmt) -> Issue:
    """An issue with its messages from the rule's DE/EN templates (``fmt`` fills them)."""
    en, de = text_for(rule, attribute=attribute, value=value, expected=expected, platform=platform,
                      locale=locale, **fmt)
    return Issue(sku, platform, locale, attribute, rule, severity, en, de, value, expected, parent, missing)


def with_parent(issue: Issue, parent: str) -> Issue:
    if issue.parent_sku == parent:
        return issue
    return Issue(issue.sku, issue.platform, issue.locale, issue.attribute, issue.rule, issue.severity,
                 issue.message_en, issue.message_de, issue.value_found, issue.expected, parent, issue.missing)


def ordered(issues: list[Issue]) -> list[Issue]:
    """The report order: severity, then how often the rule occurs (most first), then the key.
    Deterministic for the same input, so re-runs write byte-identical files."""
    freq = Counter(i.rule for i in issues)
    return sorted(issues, key=lambda i: (RANK[i.severity], -freq[i.rule], i.sku, i.platform, i.locale,
                                         i.attribute, i.rule, i.value_found))


def dedupe(issues: list[Issue]) -> list[Issue]:
    """One issue per identity: the first (most severe after ordering) wins."""
    seen: set = set()
    out = []
    for i in sorted(issues, key=lambda i: RANK[i.severity]):
        if i.key not in seen:
            seen.add(i.key)
            out.append(i)
    return out
