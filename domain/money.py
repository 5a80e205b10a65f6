"""Currencies' minor units: amounts are stored in minor units (cents, won), and a few places
read or show major units (an import's decimal prices, insights' explanations)."""

from __future__ import annotations

from decimal import Decimal

# ISO 4217 currencies whose minor unit is not 1/100.
EXPONENT = {**dict.fromkeys(("BIF", "CLP", "DJF", "GNF", "ISK", "JPY", "KMF", "KRW", "PYG", "RWF", "UGX", "UYI",
                             "VND", "VUV", "XAF", "XOF", "XPF"), 0),
            **dict.fromkeys(("BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND"), 3)}


def exponent(currency: str) -> int:
    return EXPONENT.get(currency.upper(), 2)


def to_minor(amount: Decimal, currency: str) -> Decimal:
    """A major-unit amount (29.99 USD) in minor units (2999); the caller checks it is whole."""
    return amount.scaleb(exponent(currency))
