"""One step of a Bots Long Poll loop. The loop itself, and making sure only one node polls
a community at a time (an advisory lock, as for Telegram polling), are the app's.

State: VK's `ts` (a string: the number of the last event seen) is what the app persists,
per channel, after it has stored what a step returned; the key and server are a session
that getLongPollServer gives out again at any time, so they live in memory only. A node
that takes over (or restarts) resumes from the persisted ts: VK keeps the queue for a
while, and what comes twice is stored once (parse.py's keys).

The documented failures, handled here:
- {"failed": 1, "ts": N}: the history is outdated or partly lost: go on from N (events
  between may be gone: `gap` is set so the app can say so);
- {"failed": 2}: the key expired: a new key (and server) from getLongPollServer, our ts kept;
- {"failed": 3}: the information is lost: a new key and a new ts (`gap` set)."""

from dataclasses import dataclass, field, replace
from typing import Any

from connectors.vk.client import LongPollServer, VkApi
from connectors.vk.errors import VkTemporaryError
from connectors.vk.parse import VkEvent, parse_event

DEFAULT_WAIT = 25  # seconds; VK recommends 25 (proxies cut idle connections at 30), max 90


@dataclass(frozen=True, slots=True)
class PollResult:
    updates: list[dict[str, Any]]  # the raw events, in order (for parse_event, or to keep)
    session: LongPollServer  # use it for the next step; persist session.ts once stored
    gap: bool = False  # VK said events may have been lost (failed 1 or 3)
    events: list[VkEvent] = field(default_factory=list)  # updates parsed, in order
    failed: int | None = None  # VK's `failed` answer (1, 2, 3), for the app's metrics


async def open_session(
    api: VkApi, token: str, group_id: int, ts: str | None = None
) -> LongPollServer:
    """A Long Poll session for the community, resuming from a persisted ts when there is one
    (none: from now on)."""
    server = await api.get_long_poll_server(token, group_id)
    return replace(server, ts=ts) if ts else server


async def poll_once(
    api: VkApi,
    token: str,
    group_id: int,
    session: LongPollServer | None,
    persisted_ts: str | None = None,
    wait: int = DEFAULT_WAIT,
) -> PollResult:
    """One a_check (at most `wait` seconds). Without a session yet, opens one first (from
    persisted_ts). A failure answer returns no updates and the session to go on with;
    network trouble and VK errors raise TemporaryError/PermanentError (the caller backs
    off and keeps its session)."""
    if session is None:
        session = await open_session(api, token, group_id, persisted_ts)
    answer = await api.a_check(session, min(max(wait, 1), 90))
    if not isinstance(answer, dict):
        raise VkTemporaryError("VK Long Poll answered something that is not an object")
    failed = answer.get("failed")
    if failed is None:
        updates = [u for u in answer.get("updates") or [] if isinstance(u, dict)]
        ts = answer.get("ts")
        if ts is None:
            raise VkTemporaryError("VK Long Poll answered without a ts")
        events = [e for u in updates for e in parse_event(u, group_id)]
        return PollResult(updates, replace(session, ts=str(ts)), events=events)
    if failed == 1 and answer.get("ts") is not None:
        return PollResult([], replace(session, ts=str(answer["ts"])), gap=True, failed=1)
    fresh = await api.get_long_poll_server(token, group_id)
    if failed == 2:
        return PollResult([], replace(fresh, ts=session.ts), failed=2)
    # 3, or a failure this module does not know: start over from VK's present.
    return PollResult([], fresh, gap=True, failed=failed if isinstance(failed, int) else 3)
