"""The SQS queue Amazon delivers an account's notifications to, read for the health plugin
(``health_notifications_receive`` / ``health_notifications_delete`` on the channel).

boto3 is the well-kept SQS client; it is optional (``pip install marketd[sqs]``) because sellers
without AWS drop notification files instead. Credentials are never boto3's own lookup (profiles,
instance metadata): the key id and secret come from environment variables or systemd
credentials, by default ``MARKETD_AMAZON_<ACCOUNT>_AWS_ACCESS_KEY_ID`` / ``…_AWS_SECRET_ACCESS_KEY``.
The region is read from the queue URL (``https://sqs.<region>.amazonaws.com/<id>/<name>``)
unless ``aws_region`` is set; ``sqs_endpoint_url`` points elsewhere (tests: moto on loopback).

A message is deleted only after the health plugin committed it: a crash in between makes SQS
deliver it again, and the health plugin's (type, id) dedupe drops the second copy.
"""
from __future__ import annotations

import re

from marketd.sdk import ConfigError, TransientError

from .settings import env_name

_REGION = re.compile(r"^https://sqs\.([a-z0-9-]+)\.amazonaws\.com/")


class NotificationQueue:
    def __init__(self, channel):
        s = channel.settings
        if not s.notifications_queue_url:
            raise ConfigError(f"[channels.{channel.name}] notifications_queue_url is not set: the account has no "
                              "SQS queue to read (or drop notification files into inbox/notifications/)")
        try:
            import boto3
        except ImportError:
            raise ConfigError("reading Amazon notifications from SQS needs boto3: pip install 'marketd[sqs]'") from None
        self.url = s.notifications_queue_url
        m = _REGION.match(self.url)
        region = s.aws_region or (m.group(1) if m else None)
        if not region:
            raise ConfigError(f"[channels.{channel.name}] set aws_region: it cannot be read from {self.url!r}")
        key_id = channel.app.secret(s.aws_access_key_id_secret or env_name(channel.name, "AWS_ACCESS_KEY_ID"))
        secret = channel.app.secret(s.aws_secret_access_key_secret or env_name(channel.name, "AWS_SECRET_ACCESS_KEY"))
        self.client = boto3.session.Session().client(
            "sqs", region_name=region, endpoint_url=s.sqs_endpoint_url or None, aws_access_key_id=key_id,
            aws_secret_access_key=secret)

    def receive(self, max_messages: int = 10, wait_seconds: int = 20, visibility: int = 120) -> list[dict]:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            resp = self.client.receive_message(QueueUrl=self.url, MaxNumberOfMessages=max(1, min(10, max_messages)),
                                               WaitTimeSeconds=wait_seconds, VisibilityTimeout=visibility,
                                               MessageSystemAttributeNames=["ApproximateReceiveCount"])
        except (BotoCoreError, ClientError) as exc:
            raise TransientError(f"SQS receive_message: {exc}") from None
        return [{"id": m["MessageId"], "handle": m["ReceiptHandle"], "body": m.get("Body", ""),
                 "receive_count": int((m.get("Attributes") or {}).get("ApproximateReceiveCount", "1"))}
                for m in resp.get("Messages") or []]

    def delete(self, handles: list[str]) -> int:
        from botocore.exceptions import BotoCoreError, ClientError

        done = 0
        for i in range(0, len(handles), 10):
            part = handles[i:i + 10]
            try:
                resp = self.client.delete_message_batch(
                    QueueUrl=self.url, Entries=[{"Id": str(n), "ReceiptHandle": h} for n, h in enumerate(part)])
            except (BotoCoreError, ClientError) as exc:
                raise TransientError(f"SQS delete_message_batch: {exc}") from None
            done += len(resp.get("Successful") or [])
        return done

    def depth(self) -> int | None:
        try:
            attrs = self.client.get_queue_attributes(QueueUrl=self.url, AttributeNames=["ApproximateNumberOfMessages"])
            return int(attrs["Attributes"]["ApproximateNumberOfMessages"])
        except Exception:  # status only: a failure shows as "unknown"
            return None
