"""The Notifications API v1 side of the fake SP-API (``fake.py``): destinations and subscriptions.

Destinations are grantless: they accept only an access token LWA issued for
``client_credentials`` with the notifications scope, and refuse a seller token (403), as Amazon
does; subscriptions want the seller's token and refuse a grantless one. One subscription per
notification type: a second ``createSubscription`` answers 409 ``Conflict``, and deleting a
destination that subscriptions use answers 409 as well. What the fake holds is what tests read
(``destinations``, ``subscriptions``).
"""
from __future__ import annotations

import uuid

from .fake_orders import Reply, _errors

GRANTLESS = {"getDestinations", "createDestination", "getDestination", "deleteDestination"}
NOTIFICATION_LIMITS = {op: (1.0, 5) for op in (
    "getDestinations", "createDestination", "getDestination", "deleteDestination", "getSubscription",
    "createSubscription", "getSubscriptionById", "deleteSubscriptionById")}
NOTIFICATION_ROUTES = [
    ("GET", r"/notifications/v1/destinations", "getDestinations"),
    ("POST", r"/notifications/v1/destinations", "createDestination"),
    ("GET", r"/notifications/v1/destinations/(?P<destinationId>[^/]+)", "getDestination"),
    ("DELETE", r"/notifications/v1/destinations/(?P<destinationId>[^/]+)", "deleteDestination"),
    ("GET", r"/notifications/v1/subscriptions/(?P<notificationType>[A-Z_]+)", "getSubscription"),
    ("POST", r"/notifications/v1/subscriptions/(?P<notificationType>[A-Z_]+)", "createSubscription"),
    ("GET", r"/notifications/v1/subscriptions/(?P<notificationType>[A-Z_]+)/(?P<subscriptionId>[^/]+)",
     "getSubscriptionById"),
    ("DELETE", r"/notifications/v1/subscriptions/(?P<notificationType>[A-Z_]+)/(?P<subscriptionId>[^/]+)",
     "deleteSubscriptionById"),
]


class NotificationsApi:
    """Mixin of :class:`~marketd.plugins.amazon.fake.SpApiFake`."""

    def _notifications_init(self) -> None:
        self.destinations: dict[str, dict] = {}
        self.subscriptions: dict[str, dict] = {}   # notificationType -> Subscription

    def grant_problem(self, op: str, token: str) -> Reply | None:
        """403 when the token's grant does not fit the operation (grantless vs seller)."""
        grant = self.token_grants.get(token)
        if op in GRANTLESS and grant != "client_credentials":
            return Reply(403, _errors("Unauthorized", "Access to requested resource is denied.",
                                      "This is a grantless operation: use an LWA client_credentials token."))
        if op in NOTIFICATION_LIMITS and op not in GRANTLESS and grant == "client_credentials":
            return Reply(403, _errors("Unauthorized", "Access to requested resource is denied.",
                                      "Subscriptions need the selling partner's authorisation."))
        return None

    def _uid(self) -> str:
        return str(uuid.UUID(int=self.rng.getrandbits(128)))

    def _op_getDestinations(self, params, body, base) -> Reply:
        return Reply(200, {"payload": list(self.destinations.values())})

    def _op_createDestination(self, params, body, base) -> Reply:
        arn = ((body.get("resourceSpecification") or {}).get("sqs") or {}).get("arn")
        if not arn:
            return Reply(400, _errors("InvalidInput", "Invalid Input", "only SQS destinations are faked"))
        if any(d["resource"]["sqs"]["arn"] == arn for d in self.destinations.values()):
            return Reply(409, _errors("Conflict", "A destination with this resource already exists."))
        did = self._uid()
        self.destinations[did] = {"name": body["name"], "destinationId": did, "resource": {"sqs": {"arn": arn}}}
        return Reply(200, {"payload": self.destinations[did]})

    def _op_getDestination(self, params, body, base, destinationId) -> Reply:
        d = self.destinations.get(destinationId)
        return Reply(200, {"payload": d}) if d else Reply(404, _errors("NotFound", "Destination not found."))

    def _op_deleteDestination(self, params, body, base, destinationId) -> Reply:
        if destinationId not in self.destinations:
            return Reply(404, _errors("NotFound", "Destination not found."))
        if any(s["destinationId"] == destinationId for s in self.subscriptions.values()):
            return Reply(409, _errors("Conflict", "The destination has subscriptions."))
        del self.destinations[destinationId]
        return Reply(200, {})

    def _op_getSubscription(self, params, body, base, notificationType) -> Reply:
        s = self.subscriptions.get(notificationType)
        if s is None or (params.get("payloadVersion") and params["payloadVersion"] != s["payloadVersion"]):
            return Reply(404, _errors("NotFound", f"No subscription for {notificationType}."))
        return Reply(200, {"payload": s})

    def _op_createSubscription(self, params, body, base, notificationType) -> Reply:
        if notificationType in self.subscriptions:
            return Reply(409, _errors("Conflict", "Subscription for this notification type already exists."))
        if body["destinationId"] not in self.destinations:
            return Reply(400, _errors("InvalidInput", "Invalid Input", "unknown destinationId"))
        self.subscriptions[notificationType] = {"subscriptionId": self._uid(), "payloadVersion": body["payloadVersion"],
                                                "destinationId": body["destinationId"]}
        return Reply(200, {"payload": self.subscriptions[notificationType]})

    def _op_getSubscriptionById(self, params, body, base, notificationType, subscriptionId) -> Reply:
        s = self.subscriptions.get(notificationType)
        if not s or s["subscriptionId"] != subscriptionId:
            return Reply(404, _errors("NotFound", "Subscription not found."))
        return Reply(200, {"payload": s})

    def _op_deleteSubscriptionById(self, params, body, base, notificationType, subscriptionId) -> Reply:
        s = self.subscriptions.get(notificationType)
        if not s or s["subscriptionId"] != subscriptionId:
            return Reply(404, _errors("NotFound", "Subscription not found."))
        del self.subscriptions[notificationType]
        return Reply(200, {})
