"""Notification payloads in the shapes Amazon documents (hand-made: of the payload schemas only
ORDER_CHANGE's is vendored in shared/specs, and health does not act on it; each type follows the
public page in ``DOCS``; the envelope is checked against the official one in test_contracts.py). As in Amazon's own examples, two types share one
NotificationId and all share one SubscriptionId (trap 3), and ACCOUNT_STATUS_CHANGED uses the
lower-camel envelope of its documentation."""
from __future__ import annotations

_TYPES = "https://developer-docs.amazon.com/sp-api/docs/notification-type-values"
DOCS = {   # the public page each hand-made payload follows
    "ACCOUNT_STATUS_CHANGED": "https://developer-docs.amazon.com/sp-api/docs/notification-type-values"
                              "#account_status_changed",
    "LISTINGS_ITEM_ISSUES_CHANGE": f"{_TYPES}#listings_item_issues_change",
    "LISTINGS_ITEM_STATUS_CHANGE": f"{_TYPES}#listings_item_status_change",
    "ITEM_PRODUCT_TYPE_CHANGE": f"{_TYPES}#item_product_type_change",
    "BRANDED_ITEM_CONTENT_CHANGE": f"{_TYPES}#branded_item_content_change",
    "PRODUCT_TYPE_DEFINITIONS_CHANGE": f"{_TYPES}#product_type_definitions_change",
}

SHARED_ID = "8e009934-ff1c-4a4b-9a0d-c1ec4d161f60"
OTHER_ID = "0e999936-da2c-4f9c-9fc2-02b67bae5f49"


def envelope(ntype: str, payload: dict, nid: str, version: str = "1.0") -> dict:
    return {"NotificationVersion": "1.0", "NotificationType": ntype, "PayloadVersion": version,
            "EventTime": "2026-11-29T10:00:00.000Z", "Payload": payload,
            "NotificationMetadata": {"ApplicationId": "amzn1.sellerapps.app.f1234566-aaec-55a6-b123-bcb752069ec5",
                                     "SubscriptionId": "93b098e1-c42-2f45-93a1-78910a6a8369",
                                     "PublishTime": "2026-11-29T10:00:01.000Z", "NotificationId": nid}}


def examples() -> list[dict]:
    return [
        envelope("LISTINGS_ITEM_ISSUES_CHANGE", {
            "SellerId": "A3TH9S8BH6GOGM", "MarketplaceId": "A1PA6795UKMFR9", "Asin": "B0ABCDEF12", "Sku": "SKU-1",
            "Severities": ["ERROR"], "EnforcementActions": ["SEARCH_SUPPRESSED"]}, SHARED_ID, "2023-12-13"),
        envelope("LISTINGS_ITEM_STATUS_CHANGE", {
            "SellerId": "A3TH9S8BH6GOGM", "MarketplaceId": "A1PA6795UKMFR9", "Asin": "B0ABCDEF13", "Sku": "SKU-2",
            "CreatedDate": "2026-11-20T08:00:00Z", "Status": ["DISCOVERABLE"]}, SHARED_ID),
        envelope("BRANDED_ITEM_CONTENT_CHANGE", {
            "MarketplaceId": "A1PA6795UKMFR9", "BrandName": "Koffermann", "Asin": "B0ABCDEF14",
            "AttributesChanged": ["item_name", "main_product_image_locator"]}, SHARED_ID),
        envelope("ITEM_PRODUCT_TYPE_CHANGE", {
            "MarketplaceId": "A1PA6795UKMFR9", "Asin": "B0ABCDEF15", "PreviousProductType": "LUGGAGE",
            "CurrentProductType": "BACKPACK"}, OTHER_ID),
        envelope("PRODUCT_TYPE_DEFINITIONS_CHANGE", {
            "AccountId": "amzn1.merchant.o.A3TH9S8BH6GOGM", "MarketplaceId": "A1PA6795UKMFR9",
            "ProductTypeVersion": "U1234567-89ab-cdef", "NewProductTypes": ["LUGGAGE"]}, OTHER_ID),
        {"notificationVersion": "1.0", "notificationType": "ACCOUNT_STATUS_CHANGED", "payloadVersion": "2021-01-01",
         "eventTime": "2026-11-29T11:00:00.000Z",
         "payload": {"accountStatusChangeNotification": {"previousAccountStatus": "NORMAL",
                                                         "currentAccountStatus": "AT_RISK"}},
         "notificationMetadata": {"applicationId": "amzn1.sellerapps.app.x", "subscriptionId": "s-1",
                                  "publishTime": "2026-11-29T11:00:01.000Z",
                                  "notificationId": "d0e9e693-c3ad-4373-979f-ed4ec98dd746"}},
    ]
