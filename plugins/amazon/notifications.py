"""Notifications API v1: the SQS destination and the subscriptions the health plugin needs
(``marketd health notifications setup``; ``capabilities.notifications`` on the channel).

Destinations are *grantless*: their token comes from LWA ``client_credentials`` with the scope
``sellingpartnerapi::notifications``, not from the seller's refresh token; subscriptions use the
seller's token (research api-contracts §1.2). Setup is idempotent: a destination with the same
queue ARN is reused, and a subscription that exists (409) is read back instead of created.
Every operation's default usage plan is 1 request/s, burst 5 (notifications.json).
"""
from __future__ import annotations

import re

from .client import SpApiClient, SpApiError
from .lwa import LwaClient

BASE = "/notifications/v1"
SCOPE = "sellingpartnerapi::notifications"
OPERATIONS = ("getDestinations", "createDestination", "getDestination", "deleteDestination", "getSubscription",
              "createSubscription", "getSubscriptionById", "deleteSubscriptionById")
LIMITS = {op: (1.0, 5.0) for op in OPERATIONS}
ARN = re.compile(r"^arn:aws:sqs:\S+:\S+:\S+")


def _limits(api: SpApiClient) -> None:
    for op, lim in LIMITS.items():
        api.limiter.limits.setdefault(op, lim)


def grantless_api(channel) -> SpApiClient:
    clock = channel.app.clock
    lwa = LwaClient(channel.credentials, endpoint=channel.lwa_endpoint, transport=channel._transport, clock=clock,
                    account=channel.name, scope=SCOPE)
    api = SpApiClient(channel.endpoint, lwa, transport=channel._transport, clock=clock, limits=channel.limits,
                      account=f"{channel.name} (grantless)")
    _limits(api)
    return api


def setup(channel, queue_arn: str, types: dict[str, str]) -> dict:
    """Destination for ``queue_arn`` plus a subscription per type (``{type: payloadVersion}``)."""
    from marketd.sdk import ConfigError

    if not ARN.match(queue_arn):
        raise ConfigError(f"{queue_arn!r} is not an SQS queue ARN (arn:aws:sqs:<region>:<aws account>:<queue>)")
    g = grantless_api(channel)
    try:
        dests = g._json(g.call("GET", f"{BASE}/destinations", "getDestinations"), "getDestinations").get("payload") or []
        found = [d for d in dests if ((d.get("resource") or {}).get("sqs") or {}).get("arn") == queue_arn]
        if found:
            dest_id, dest_state = found[0]["destinationId"], "reused"
        else:
            body = {"name": f"marketd-{channel.name}"[:256], "resourceSpecification": {"sqs": {"arn": queue_arn}}}
            doc = g._json(g.call("POST", f"{BASE}/destinations", "createDestination", json_body=body),
                          "createDestination")
            dest_id, dest_state = doc["payload"]["destinationId"], "created"
    finally:
        g.close()
    api = channel.api
    _limits(api)
    subs = {}
    for ntype, version in sorted(types.items()):
        resp = api.call("POST", f"{BASE}/subscriptions/{ntype}", "createSubscription",
                        json_body={"payloadVersion": version, "destinationId": dest_id})
        if resp.status_code == 409:
            doc = api._json(api.call("GET", f"{BASE}/subscriptions/{ntype}", "getSubscription",
                                     params={"payloadVersion": version}), "getSubscription")
            state = "exists"
        else:
            doc, state = api._json(resp, "createSubscription"), "created"
        p = doc.get("payload") or {}
        subs[ntype] = {"state": state, "subscription_id": p.get("subscriptionId"), "payload_version": version,
                       "destination_id": p.get("destinationId")}
    return {"destination_id": dest_id, "destination": dest_state, "subscriptions": subs}


def status(channel, types=("ACCOUNT_STATUS_CHANGED", "LISTINGS_ITEM_ISSUES_CHANGE", "LISTINGS_ITEM_STATUS_CHANGE",
                            "ITEM_PRODUCT_TYPE_CHANGE", "BRANDED_ITEM_CONTENT_CHANGE",
                            "PRODUCT_TYPE_DEFINITIONS_CHANGE")) -> dict:
    """The account's subscription per type as Amazon reports it (None: not subscribed)."""
    api = channel.api
    _limits(api)
    out = {}
    for ntype in types:
        resp = api.call("GET", f"{BASE}/subscriptions/{ntype}", "getSubscription")
        if resp.status_code == 404:
            out[ntype] = None
            continue
        try:
            out[ntype] = api._json(resp, "getSubscription").get("payload")
        except SpApiError as exc:
            out[ntype] = {"error": str(exc)}
    return out
