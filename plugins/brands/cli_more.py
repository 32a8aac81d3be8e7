"""``marketd brands`` commands for the data package and the statement (links, tokens, weekly
reports, statements, services billed separately)."""
from __future__ import annotations


def more_commands(brands) -> None:
    return None
