"""The ERP's tracking numbers in, the unified models out. Pure functions: the manual carrier
calls no API, so there is no ``client.py`` and no fake; this is all it translates."""
from __future__ import annotations

from marketd.sdk import Message, ParcelResult


def tracking_numbers(value) -> list[str]:
    """``tracking_number`` as the shipment line gives it: one number, or one per parcel joined by ``|``."""
    return [t.strip() for t in str(value or "").split("|") if t.strip()]


def problems(account: str, numbers: list[str], parcels: int) -> list[Message]:
    """What is wrong with a line's tracking numbers for ``parcels`` parcels."""
    if not numbers:
        return [Message(account, "a manual carrier line needs the ERP's tracking_number", "tracking_number",
                        details={"fix": "fill tracking_number (and carrier_code) on this line"})]
    if len(numbers) not in (1, parcels):
        return [Message(account, f"{len(numbers)} tracking numbers for {parcels} parcels", "tracking_number",
                        details={"fix": "give one tracking number, or one per parcel"})]
    return []


def parcel_results(numbers: list[str], parcels: int) -> list[ParcelResult]:
    """One result per parcel: each its own number, or all the shipment's one number."""
    return [ParcelResult(parcel_number=numbers[i] if len(numbers) > 1 else numbers[0],
                         tracking_number=numbers[i] if len(numbers) > 1 else numbers[0])
            for i in range(parcels)]
