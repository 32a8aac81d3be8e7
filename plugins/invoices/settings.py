"""``[jobs.invoices]``: who issues, to whom, in which series (keys in docs/plugins/invoices.md).

Only channel accounts listed under ``channels`` are invoiced: an account nobody configured may be
invoiced by the marketplace itself (Amazon VCS, MALL self-billing) or by an external provider,
and a second invoice for one supply is a tax problem, so "unknown" means "do not issue".
Rates are percent as text (``"19"``, ``"7.7"``): TOML floats would not be exact.
"""
from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Literal

from pydantic import Field, field_validator

from marketd.sdk import JobSettings, Settings, TimeZoneName


def _rate(value: str | None) -> str | None:
    if value is None:
        return None
    try:
        rate = Decimal(value)
    except InvalidOperation:
        raise ValueError(f"{value!r} is not a VAT rate in percent (write it as text, e.g. \"19\" or \"7.7\")")
    if not (Decimal(0) <= rate < Decimal(100)) or not rate.is_finite():
        raise ValueError(f"VAT rate {value!r} is not between 0 and 100 percent")
    return value


class Seller(Settings):
    name: str = ""
    address: list[str] = Field(default_factory=list)   # lines as printed: street, postcode city, country
    vat_id: str = ""
    tax_number: str = ""
    country: str = ""                                   # ISO 3166 alpha-2 of the seller's establishment
    footer: list[str] = Field(default_factory=list)    # legal lines (register, capital, bank)


class FatturaPASettings(Settings):
    """``[jobs.invoices.fatturapa]``: the seller's SdI intermediary (docs/plugins/invoices.md)."""
    intermediary: str = Field(pattern=r"^[A-Za-z0-9_-]{1,40}$")   # folder outbox/fatturapa/<intermediary>/
    transmitter_id: str = Field(pattern=r"^[A-Za-z0-9]{1,28}$")    # IdTrasmittente/IdCodice (the intermediary's)
    transmitter_country: str = Field("IT", pattern=r"^[A-Z]{2}$")
    regime_fiscale: str = Field("RF01", pattern=r"^RF(0[1-9]|1[0-9])$")
    recipient_code: str = Field("0000000", pattern=r"^[A-Z0-9]{6,7}$")   # CodiceDestinatario for Italian buyers
    province: str = Field("", pattern=r"^([A-Z]{2})?$")               # the seller's Provincia (sigla)


class ChannelInvoicing(Settings):
    trigger: Literal["shipped", "paid"] | None = None   # None: the table's trigger
    issuer: Literal["seller", "marketplace", "provider"] = "seller"  # who invoices this account's orders
    series: str | None = None                          # default: the account name
    vat_rate: str | None = None                        # rate of lines the order does not give one for
    credit_notes: bool = True
    facturx: Literal["never", "b2b", "always"] | None = None  # None: the table's
    # "api": the account's channel uploads it (capability upload_invoice); "manual": a person does,
    # from outbox/reports/invoices-pending-upload-<account>.csv; "off": nobody
    upload: Literal["off", "manual", "api"] = "off"
    # issuer = "provider": the provider's name; orders go to outbox/invoicing/<provider>/ and its
    # PDFs come back through inbox/provider-invoices/
    provider: str = Field("provider", pattern=r"^[A-Za-z0-9_-]{1,40}$")
    # Amazon VCS with self-invoicing: VAT rates from Amazon's VAT invoice data report, upload
    # results read there (vcs.py); the channel must offer invoice_status
    vcs: bool = False

    _check_rate = field_validator("vat_rate")(_rate)


class InvoicesSettings(JobSettings):
    seller: Seller = Field(default_factory=Seller)
    channels: dict[str, ChannelInvoicing] = Field(default_factory=dict)
    trigger: Literal["shipped", "paid"] = "shipped"
    vat_rate: str | None = None
    invoice_prefix: str = "INV-{series}-{year}-"
    credit_prefix: str = "CN-{series}-{year}-"
    width: int = Field(6, ge=1, le=12)
    timezone: TimeZoneName = "Europe/Berlin"                    # the issue date's day and year are the seller's
    batch: int = Field(500, ge=1)
    # refunds reported in payouts get credit notes for invoices issued within this many days
    refund_window_days: int = Field(400, ge=1)
    # Factur-X (PDF/A-3 with the EN 16931 XML): "b2b" for buyers with a VAT id when the seller is
    # established in DE or FR (where B2B e-invoices are due), "always", or "never"
    facturx: Literal["never", "b2b", "always"] = "b2b"
    font: str | None = None                            # a TTF with the buyers' scripts; default DejaVu Sans
    # FatturaPA for an Italian seller's business buyers, written for the SdI intermediary
    fatturapa: FatturaPASettings | None = None

    _check_rate = field_validator("vat_rate")(_rate)

    @field_validator("invoice_prefix", "credit_prefix")
    @classmethod
    def _prefix(cls, value: str) -> str:
        try:
            value.format(series="s", year=2026)
        except (KeyError, IndexError, ValueError) as exc:
            raise ValueError(f"{value!r}: only {{series}} and {{year}} may appear in braces ({exc})")
        return value

    def configured(self) -> bool:
        return bool(self.seller.name and (self.seller.vat_id or self.seller.tax_number) and self.channels)


def invoice_settings(app) -> InvoicesSettings:
    cfg = (app.config.get("jobs") or {}).get("invoices")
    if isinstance(cfg, InvoicesSettings):
        return cfg
    return InvoicesSettings.model_validate(dict(cfg or {}))
