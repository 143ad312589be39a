"""URLs the stack names (the hub API server, Helm repositories) and vela's endpoints: parsed, not matched.

A URL carrying `user:password@` is refused with a message that does not repeat it: such a message is
shown in CI logs and PR comments.
"""

from __future__ import annotations

import ipaddress
import re
from urllib.parse import urlsplit

# pydantic error type whose input is never shown (config.loader hides the value of such problems).
HIDDEN_INPUT = "value_not_shown"
_HOSTNAME = re.compile(r"^[A-Za-z0-9]([-A-Za-z0-9_]*[A-Za-z0-9])?(\.[A-Za-z0-9]([-A-Za-z0-9_]*[A-Za-z0-9])?)*\.?$")
CREDENTIALS = "must not carry a user or password (user:password@); it is not shown here"
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "::1", "localhost"})


def url_problem(value: str, schemes: tuple[str, ...]) -> str | None:
    """Why `value` is not a usable URL with one of `schemes` (its text is never quoted), or None."""
    allowed = " or ".join(f"{scheme}://" for scheme in schemes)
    if any(char.isspace() for char in value):
        return f"must be an {allowed} URL without spaces"
    parts = urlsplit(value)
    if parts.scheme not in schemes or not value.startswith(f"{parts.scheme}://"):
        return f"must be an {allowed} URL"
    if "@" in parts.netloc:
        return CREDENTIALS
    if parts.query or parts.fragment or "?" in value or "#" in value:
        return "must have no query (?…) or fragment (#…)"
    try:
        port = parts.port
    except ValueError:
        return "has a port that is not a number from 1 to 65535"
    if port == 0 or (parts.netloc.endswith(":") and port is None):
        return "has a port that is not a number from 1 to 65535"
    host = parts.hostname or ""
    if not host:
        return "has no host"
    if not _HOSTNAME.match(host):
        try:
            ipaddress.ip_address(host)
        except ValueError:
            return "has a host that is neither a DNS name nor an IP address"
    return None


def checked_url(value: str, schemes: tuple[str, ...]) -> str:
    """For pydantic validators: the URL without a trailing '/', or an error that never shows the input
    when it carries credentials."""
    problem = url_problem(value, schemes)
    if problem == CREDENTIALS:
        from pydantic_core import PydanticCustomError  # here: the provider process reads URLs without pydantic

        raise PydanticCustomError(HIDDEN_INPUT, problem)
    if problem:
        raise ValueError(problem)
    return value.rstrip("/")
