"""Issue 17 (chains): a second delay that promises a later date is news: the client is told
and the watchdog moves; the same date again stays `repeated`."""

from datetime import UTC, datetime

from app.chains.tasks import ChainWatchdogs
from tests.chains.support import drain, post_event, put_order
from tests.chains.test_watchdog import CHAT, _setup
from tests.conftest import Running
from tests.telegram.fake_bot_api import FakeBotApi


async def test_a_later_delay_is_news_the_same_one_is_repeated(
    run: Running, fake_api: FakeBotApi
) -> None:
    key, _, _ = await _setup(run, fake_api)
    await put_order(run.client, key, "o", client={"telegram_id": CHAT}, promised_date="2026-11-20")
    # 20 Nov + 3 days: the promise now runs to the 23rd.
    r = await post_event(run.client, key, "o", "d1", "delayed", days=3, reason="a storm")
    assert r.json()["outcome"] == "sent"
    # Same date again (another event id): nothing new for the client.
    r = await post_event(run.client, key, "o", "d2", "delayed", days=3, reason="a storm")
    assert r.json()["outcome"] == "repeated"
    # 20 Nov + 5 days = the 25th: later than promised, so the client hears of it.
    r = await post_event(run.client, key, "o", "d3", "delayed", days=5, reason="a flood")
    assert r.json()["outcome"] == "sent"
    assert r.json()["message_id"] is not None
    # And 25th again is nothing new; an earlier date does not undo the later promise.
    r = await post_event(run.client, key, "o", "d4", "delayed", days=5, reason="a flood")
    assert r.json()["outcome"] == "repeated"
    r = await post_event(run.client, key, "o", "d5", "delayed", days=4, reason="a flood")
    assert r.json()["outcome"] == "repeated"
    await drain(run.ctx)
    texts = [c.params["text"] for c in fake_api.calls_of("sendMessage")]
    assert len(texts) == 2
    assert "delayed by 3 day(s) because of a storm" in texts[0]
    assert "delayed by 5 day(s) because of a flood" in texts[1]

    watchdogs = ChainWatchdogs(run.ctx)
    assert await watchdogs.tick(now=datetime(2026, 11, 24, 0, 1, tzinfo=UTC)) == 0
    assert await watchdogs.tick(now=datetime(2026, 11, 25, 23, 59, tzinfo=UTC)) == 0
    assert await watchdogs.tick(now=datetime(2026, 11, 26, 0, 1, tzinfo=UTC)) == 1
