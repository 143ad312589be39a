"""Failures as the API server reports them: a `Status` body, so clients parse them as they would for real."""

from __future__ import annotations

from typing import Any

Json = dict[str, Any]

REASONS: dict[int, str] = {
    400: "BadRequest",
    401: "Unauthorized",
    403: "Forbidden",
    404: "NotFound",
    405: "MethodNotAllowed",
    409: "Conflict",
    410: "Expired",
    415: "UnsupportedMediaType",
    422: "Invalid",
    429: "TooManyRequests",
    500: "InternalError",
    503: "ServiceUnavailable",
    504: "Timeout",
}


class ApiError(Exception):
    """A request the server refuses; `status()` is the body it answers with."""

    def __init__(self, code: int, message: str, reason: str | None = None, details: Json | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.reason = reason or REASONS.get(code, "Unknown")
        self.details = details or {}

    def status(self) -> Json:
        return {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
            "details": self.details,
            "code": self.code,
        }


def qualified(group: str, plural: str) -> str:
    """`plural.group` as the server names a resource in messages (`secrets`, `managedclusters.cluster...`)."""
    return f"{plural}.{group}" if group else plural


def details(group: str, kind: str, name: str, **extra: Any) -> Json:
    """StatusDetails with the server's `omitempty` fields left out."""
    found: Json = {"name": name, "group": group, "kind": kind, **extra}
    return {key: value for key, value in found.items() if value}


def not_found(group: str, plural: str, name: str) -> ApiError:
    return ApiError(404, f'{qualified(group, plural)} "{name}" not found', details=details(group, plural, name))


def already_exists(group: str, plural: str, name: str) -> ApiError:
    return ApiError(
        409, f'{qualified(group, plural)} "{name}" already exists', "AlreadyExists", details(group, plural, name)
    )


def conflict(group: str, plural: str, name: str, why: str) -> ApiError:
    message = f'Operation cannot be fulfilled on {qualified(group, plural)} "{name}": {why}'
    return ApiError(409, message, "Conflict", details(group, plural, name))


def stale(group: str, plural: str, name: str) -> ApiError:
    why = "the object has been modified; please apply your changes to the latest version and try again"
    return conflict(group, plural, name, why)


def invalid(group: str, kind: str, name: str, field: str, message: str) -> ApiError:
    """422 Invalid for one field, worded like the server's field validation."""
    subject = f"{kind}.{group}" if group else kind
    cause = {"reason": "FieldValueInvalid", "message": message, "field": field}
    return ApiError(
        422,
        f'{subject} "{name}" is invalid: {field}: {message}',
        "Invalid",
        details(group, kind, name, causes=[cause]),
    )


def bad_request(message: str) -> ApiError:
    return ApiError(400, message)


def no_such_resource() -> ApiError:
    """What the server answers for a path it serves no resource under."""
    return ApiError(404, "the server could not find the requested resource")


def method_not_allowed() -> ApiError:
    return ApiError(405, "the server does not allow this method on the requested resource")
