"""The listings jobs: ``listings-push`` (every 5 minutes: resumes or polls the batch in flight,
else starts the next content or price/stock batch per approved platform) and ``listings-pull``
(daily: remote listings pulled, then the audit and its deviations reports)."""
from __future__ import annotations

from marketd.sdk import JobSpec

from . import deviations, pull, push


def pull_job(app, since) -> dict:
    pulled = pull.pull(app)
    return {"pulled": pulled, "audit": deviations.run_audit(app)}


def listings_jobs(register) -> None:
    register(JobSpec("listings-push", push.push_job, seconds=300,
                     description="listings out: checked content and catalog price/stock to approved platforms"))
    register(JobSpec("listings-pull", pull_job, seconds=86400,
                     description="remote listings pulled from the platforms, then the listing audit"))
