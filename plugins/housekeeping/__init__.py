"""Built-in plugin: the daily ``retention`` job, pruning archived inputs past their retention.

What is archived, where, and since when is the inbox's business (``marketd.sdk.prune_archives``);
this plugin only schedules it.
"""
from __future__ import annotations

from marketd.sdk import JobSpec, hookimpl, prune_archives


def prune(app, since=None) -> int:
    """The job: ``since`` (the last successful run) does not matter, ages are absolute."""
    return prune_archives(app)


@hookimpl
def register_jobs(register):
    register(JobSpec("retention", prune, trigger="cron", cron={"hour": 3, "minute": 30},
                     description="prune .done/.duplicate/.error archives past their retention"))
