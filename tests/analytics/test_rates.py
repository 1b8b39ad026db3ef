"""CR, CLR and SR (from surveys, and adjusted by the negative signals surveys miss)."""

from typing import Any

import pytest

from tests.analytics.history import History, day, report
from tests.conftest import Running


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return {"run_workers": False}


async def test_conversion_and_closure_rates(run: Running) -> None:
    admin = await run.admin_token()
    async with run.ctx.sessions() as session:
        h = History(session)
        a, b = await h.operator("Anna"), await h.operator("Boris")
        # Eight leads created in the range: one won, two lost, five still leads.
        await h.contact(a, "customer", day(1), day(2), day(2), 5)
        await h.contact(a, "lost", day(1), changed=day(3))
        await h.contact(b, "lost", day(1), changed=day(3))
        for owner in (a, a, a, b, b):
            await h.contact(owner, "lead", day(1))
        # Created before the range: one won and one lost in it, one of each before it.
        await h.contact(b, "customer", day(-20), day(4), day(4), 8)
        await h.contact(a, "customer", day(-20), day(-2), day(-2), 8)
        await h.contact(b, "lost", day(-20), changed=day(5))
        await h.contact(a, "lost", day(-20), changed=day(-1))
        # Created after the range.
        await h.contact(a, "lead", day(12))
        await session.commit()

    data = await report(run, admin, "rates")
    # CR: of the 8 created in the range, 1 converted (the older ones are another cohort).
    assert data["cr"] == {"numerator": 1, "denominator": 8, "rate": 0.125}
    assert data["clr"] == {"numerator": 2, "denominator": 5, "rate": 0.4}

    anna = await report(run, admin, "rates", operator_id=a)
    assert anna["cr"] == {"numerator": 1, "denominator": 5, "rate": 0.2}
    assert anna["clr"] == {"numerator": 1, "denominator": 2, "rate": 0.5}

    nobody = await report(run, admin, "rates", operator_id=999)
    assert nobody["cr"] == {"numerator": 0, "denominator": 0, "rate": None}
    assert nobody["satisfaction"]["sr"] is None


async def test_satisfaction_rate_and_its_adjusted_variant(run: Running) -> None:
    admin = await run.admin_token()
    async with run.ctx.sessions() as session:
        h = History(session)
        a, b = await h.operator("Anna"), await h.operator("Boris")
        tg, wa = await h.channel("telegram"), await h.channel("whatsapp")
        c = await h.contact(a)
        convs = [await h.conversation(c, tg, a) for _ in range(5)]
        # Answers in the range: 5, 5, 4, 3, 1 -> 3 of 5 satisfied.
        for conv, rating in zip(convs, [5, 5, 4, 3, 1], strict=True):
            await h.survey(conv, rating, day(2))
        bad = convs[4]
        # Outside the range, or never answered: ignored.
        await h.survey(await h.conversation(c, tg, a), 1, day(-1))
        await h.survey(await h.conversation(c, tg, a), None, None)
        # One answer on WhatsApp by Boris, rated 2.
        wa_conv = await h.conversation(c, wa, b)
        await h.survey(wa_conv, 2, day(3))

        plain = await h.conversation(c, tg, a)
        negative = {"reaction": "negative", "operator": a}
        # Negative signals: a failed delivery, a complaint (an operator's mark)...
        await h.touch(c, day(1), kind="delivery_failure", conversation=plain, **negative)
        await h.touch(c, day(1), direction="inbound", conversation=plain, **negative)
        # ... and a failed delivery in the badly rated conversation.
        await h.touch(c, day(1), kind="delivery_failure", conversation=bad, **negative)
        # Not signals: the bad rating copied onto its conversation's message, the survey
        # touch itself, an internal alert, a failed delivery outside the range, a positive.
        await h.touch(c, day(1), direction="inbound", conversation=bad, **negative)
        await h.touch(c, day(2), kind="survey", direction="inbound", conversation=bad, **negative)
        await h.touch(c, day(1), kind="alert", direction="internal", channel="internal", **negative)
        await h.touch(c, day(-1), kind="delivery_failure", conversation=plain, **negative)
        await h.touch(c, day(1), conversation=plain, reaction="positive", operator=a)
        # A failed WhatsApp delivery by Boris.
        await h.touch(
            c, day(1), kind="delivery_failure", channel="whatsapp", operator=b, reaction="negative"
        )
        await session.commit()

    sat = (await report(run, admin, "rates"))["satisfaction"]
    assert (sat["answers"], sat["positive"], sat["negative_signals"]) == (6, 3, 4)
    assert sat["negative_signals_by_kind"] == {"delivery_failure": 3, "message": 1}
    assert sat["sr"] == 0.5
    assert sat["sr_adjusted"] == 0.3  # 3 / (6 + 4)

    telegram = (await report(run, admin, "rates", channel="telegram"))["satisfaction"]
    assert (telegram["answers"], telegram["positive"], telegram["negative_signals"]) == (5, 3, 3)
    assert telegram["sr"] == 0.6
    assert telegram["sr_adjusted"] == 0.375

    boris = (await report(run, admin, "rates", operator_id=b))["satisfaction"]
    assert (boris["answers"], boris["positive"], boris["negative_signals"]) == (1, 0, 1)
    assert (boris["sr"], boris["sr_adjusted"]) == (0.0, 0.0)
