"""Work a request leaves for after its answer: the client (a provider's webhook, a widget)
gets its response as soon as what it sent is committed, and the follow-up (a new lead's
routing) runs next, in the same worker, still counted as the request's load by the
shedding (this middleware sits inside it). Outside a request (pollers, the mailbox
reader) nothing is deferred: defer() says so and the caller runs the work itself."""

import logging
from collections.abc import Awaitable, Callable
from contextvars import ContextVar

from starlette.types import ASGIApp, Receive, Scope, Send

log = logging.getLogger(__name__)

Job = Callable[[], Awaitable[None]]
_DEFERRED: ContextVar[list[Job] | None] = ContextVar("chatcentre_after_answer", default=None)


def defer(job: Job) -> bool:
    """Run `job` once this request's answer is sent; False outside a request."""
    jobs = _DEFERRED.get()
    if jobs is None:
        return False
    jobs.append(job)
    return True


class AfterAnswerMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        jobs: list[Job] = []
        token = _DEFERRED.set(jobs)
        try:
            await self.app(scope, receive, send)
        finally:
            _DEFERRED.reset(token)
            # Whatever the answer was: the jobs were queued after a commit.
            for job in jobs:
                try:
                    await job()
                except Exception:
                    log.exception("a follow-up after the answer failed")
