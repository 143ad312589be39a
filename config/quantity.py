"""Kubernetes resource quantities, parsed just far enough to validate and compare them."""

from __future__ import annotations

import re
from decimal import Decimal

_QUANTITY = re.compile(r"^([+-]?(?:\d+\.?\d*|\.\d+))(Ki|Mi|Gi|Ti|Pi|Ei|n|u|m|k|M|G|T|P|E|[eE][+-]?\d+)?$")
_SUFFIX = {
    "Ki": Decimal(2) ** 10,
    "Mi": Decimal(2) ** 20,
    "Gi": Decimal(2) ** 30,
    "Ti": Decimal(2) ** 40,
    "Pi": Decimal(2) ** 50,
    "Ei": Decimal(2) ** 60,
    "n": Decimal("1e-9"),
    "u": Decimal("1e-6"),
    "m": Decimal("1e-3"),
    "k": Decimal("1e3"),
    "M": Decimal("1e6"),
    "G": Decimal("1e9"),
    "T": Decimal("1e12"),
    "P": Decimal("1e15"),
    "E": Decimal("1e18"),
}


def parse_quantity(text: str) -> Decimal:
    """Value of a quantity such as 250m, 64Mi or 1e3; ValueError names the accepted forms."""
    match = _QUANTITY.match(text)
    if not match:
        raise ValueError("must be a Kubernetes quantity such as 100m, 0.5, 64Mi or 1Gi")
    number, suffix = match.groups()
    value = Decimal(number)
    if value < 0:
        raise ValueError("must not be negative")
    if suffix is None:
        return value
    if suffix[0] in "eE":
        return value * (Decimal(10) ** int(suffix[1:]))
    return value * _SUFFIX[suffix]
