"""The error family: each error knows its HTTP status and renders the vendor envelope.

Services only ``raise``; one Flask handler turns every :class:`ApiError` into
``{"error": ..., "code": ...}`` (plus the extra keys some vendor errors carry).
"""

from __future__ import annotations

from typing import Any

from mock_server import messages


class ApiError(Exception):
    """Base of every error the mock answers; ``status`` is the HTTP status and the body ``code``."""

    status = 500

    def __init__(self, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.message = message
        self.extra = extra

    def body(self) -> dict[str, Any]:
        """The JSON body in the vendor envelope."""
        return {"error": self.message, **self.extra, "code": self.status}


class BadRequest(ApiError):
    status = 400


class Unauthorized(ApiError):
    status = 401

    def __init__(self) -> None:
        super().__init__(messages.UNAUTHORIZED)


class PaymentRequired(ApiError):
    status = 402

    def __init__(self) -> None:
        super().__init__(messages.SUBSCRIPTION_EXPIRED)


class NotFound(ApiError):
    status = 404


class MethodNotAllowed(ApiError):
    status = 405


class PayloadTooLarge(ApiError):
    status = 413


class Moderated(ApiError):
    """422: the prompt tripped moderation; the job exists with status ``moderated``."""

    status = 422

    def __init__(self, jobid: str) -> None:
        super().__init__(messages.MODERATED, jobid=jobid, status="moderated")


class MaxJobsExecuting(ApiError):
    """429 (case 1): the chosen account already runs ``maxJobs`` jobs."""

    status = 429

    def __init__(self, max_jobs: int, executing_jobs: list[str]) -> None:
        super().__init__(
            messages.MAX_JOBS_EXECUTING.format(max_jobs=max_jobs), executingJobs=list(executing_jobs)
        )


class DiscordThrottled(ApiError):
    """429 (case 2): Discord answered 429 to the interaction POST."""

    status = 429

    def __init__(self, details: str = messages.DISCORD_THROTTLED_DETAILS) -> None:
        super().__init__(messages.DISCORD_THROTTLED, errorDetails=details)


class ServerFault(ApiError):
    """A 5xx the mock was told to answer (fault injection), never an accident."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


class StoreUnavailable(ApiError):
    """503: a shared store (Redis) cannot be reached; the next request tries again."""

    status = 503


class ConnectionDropped(ApiError):
    """Fault ``drop``: the connection is closed with no answer (see ``http/drop.py``)."""

    def __init__(self) -> None:
        super().__init__("connection dropped by fault injection")
