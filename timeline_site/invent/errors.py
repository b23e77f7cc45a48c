"""Typed errors raised by the Invent service module.

Messages are written for support staff and never include the API key, the
request headers or the upstream response body verbatim.
"""

from __future__ import annotations


class InventError(Exception):
    """Base class: anything that stopped us getting an answer from Invent."""

    default_message = "Invent could not be reached."

    def __init__(self, message: str | None = None) -> None:
        super().__init__(message or self.default_message)

    @property
    def message(self) -> str:
        return str(self.args[0])


class InventUnavailable(InventError):
    """Timeouts, refused connections, 5xx, unexpected statuses, malformed JSON."""

    default_message = "Invent is not answering right now."

    def __init__(self, message: str | None = None, *, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status  # the upstream HTTP status, when there was one


class InventRateLimited(InventError):
    """Invent (or our own shared budget) says: not now. Never slept on."""

    default_message = "Invent is rate limiting requests."

    def __init__(self, retry_after: int | None = None, message: str | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class InventAllowanceSpent(InventRateLimited):
    """This request, or this user, has had its share of the upstream budget; others may still
    call Invent. Never shared with other requests waiting on the same page (see invent.cache)."""


class InventNotFound(InventError):
    default_message = "Invent has no such organisation or contact."


class InventAuthError(InventError):
    """401/403: the dashboard's key is missing, wrong, revoked or not allowed here."""

    default_message = "Invent refused the dashboard's API key."
