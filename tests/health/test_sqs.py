"""Notifications from SQS: the queue faked by moto's server on loopback, read through the Amazon
channel with boto3. Each official-shaped example fed twice gives its alert once; a message is
deleted only after its commit; an unreadable message is set aside after max_receives."""
from __future__ import annotations

import json

import pytest

from .notification_examples import examples

boto3 = pytest.importorskip("boto3")
moto_server = pytest.importorskip("moto.server")


@pytest.fixture
def sqs(monkeypatch):
    server = moto_server.ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    url = f"http://{host}:{port}"
    client = boto3.client("sqs", endpoint_url=url, region_name="eu-west-1", aws_access_key_id="x",
                          aws_secret_access_key="y")
    queue = client.create_queue(QueueName="marketd-health", Attributes={"VisibilityTimeout": "0"})["QueueUrl"]
    monkeypatch.setenv("MARKETD_AMAZON_AMZ_DE_AWS_ACCESS_KEY_ID", "x")
    monkeypatch.setenv("MARKETD_AMAZON_AMZ_DE_AWS_SECRET_ACCESS_KEY", "y")
    yield client, queue, url
    server.stop()


def _world(world, sqs, **job):
    client, queue, url = sqs
    w = world(jobs={"health-notifications": {"accounts": ["amz-de"], "wait_seconds": 0, "visibility_seconds": 0,
                                             **job}})
    ch = w.app.channel("amz-de")
    # the channel's settings are frozen: a second App is not needed, the queue settings go in here
    ch.settings = ch.settings.model_copy(update={"notifications_queue_url": queue, "sqs_endpoint_url": url,
                                                 "aws_region": "eu-west-1"})
    return w, client, queue


def depth(client, queue) -> int:
    a = client.get_queue_attributes(QueueUrl=queue, AttributeNames=["ApproximateNumberOfMessages",
                                                                    "ApproximateNumberOfMessagesNotVisible"])["Attributes"]
    return int(a["ApproximateNumberOfMessages"]) + int(a["ApproximateNumberOfMessagesNotVisible"])


def test_examples_sent_twice_give_each_alert_once_and_the_queue_is_emptied(world, sqs):
    w, client, queue = _world(world, sqs)
    for _ in range(2):
        for d in examples():
            client.send_message(QueueUrl=queue, MessageBody=json.dumps(d))
    w.run("health-notifications")
    assert depth(client, queue) == 0
    n = w.app.store.db.execute("select count(*) from health_notifications").fetchone()[0]
    assert n == 6
    assert len(w.alerts()) == 5 and all(a["occurrences"] == 1 for a in w.alerts())
    assert all(a["account"] == "amz-de" for a in w.alerts())
    assert all(r[0].startswith("sqs:") for r in w.app.store.db.execute("select source from health_notifications"))


def test_an_unreadable_message_is_set_aside_after_max_receives(world, sqs):
    w, client, queue = _world(world, sqs, max_batches=1)
    client.send_message(QueueUrl=queue, MessageBody="{not json")
    client.send_message(QueueUrl=queue, MessageBody=json.dumps(examples()[0]))
    w.run("health-notifications")
    assert len(w.alerts()) == 1 and depth(client, queue) == 1      # the bad one stays for another try
    for _ in range(6):
        w.run("health-notifications")
    assert depth(client, queue) == 0
    rejected = list((w.app.state_dir / "health" / "rejected").glob("*.json"))
    assert len(rejected) == 1 and (rejected[0].stat().st_mode & 0o777) == 0o600
    assert json.loads(rejected[0].read_text())["body"] == "{not json"


def test_a_delete_lost_after_the_commit_redelivers_and_the_dedupe_drops_it(world, sqs):
    from marketd.sdk import TransientError

    w, client, queue = _world(world, sqs)
    for d in examples()[:3]:
        client.send_message(QueueUrl=queue, MessageBody=json.dumps(d))
    ch = w.app.channel("amz-de")
    real_delete = ch.notifications_delete

    def lost(handles):
        raise TransientError("SQS delete_message_batch: connection reset")

    ch.notifications_delete = lost                  # SQS unreachable right after our commit
    assert w.app.store.db.execute("select count(*) from health_notifications").fetchone()[0] == 0
    from marketd.sdk.testing import run_job

    assert "connection reset" in run_job(w.app, "health-notifications")
    assert w.app.store.db.execute("select count(*) from health_notifications").fetchone()[0] == 3
    assert depth(client, queue) == 3                # still there: redelivered next time
    ch.notifications_delete = real_delete
    w.run("health-notifications")
    assert depth(client, queue) == 0
    assert len(w.alerts()) == 3 and all(a["occurrences"] == 1 for a in w.alerts())
    events = w.app.store.db.execute("select count(*) from health_events").fetchone()[0]
    assert events == 3
