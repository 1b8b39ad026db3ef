"""Issue 17 (analytics): CR is one cohort: of the leads created in the range, those that
converted (by the end of the range). Leads created before the range that convert inside it
count in neither part, so CR is never above 1 and never null while leads were created."""

from typing import Any

import pytest

from tests.analytics.history import History, day, report
from tests.conftest import Running


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return {"run_workers": False}


async def test_cr_counts_only_the_leads_created_in_the_range(run: Running) -> None:
    admin = await run.admin_token()
    async with run.ctx.sessions() as session:
        h = History(session)
        a, b, c = await h.operator("Anna"), await h.operator("Boris"), await h.operator("Clara")
        # Anna: four leads created in the range [day 0, day 10).
        await h.contact(a, "customer", day(1), day(3), day(3), 2)  # converted in the range
        await h.contact(a, "customer", day(2), day(15), day(15), 4)  # converted after it
        await h.contact(a, "lead", day(4))
        await h.contact(a, "lost", day(5), changed=day(6))
        # Boris: one lead created in the range, not converted; two older ones converted in it.
        await h.contact(b, "lead", day(7))
        await h.contact(b, "customer", day(-20), day(2), day(2), 7)
        await h.contact(b, "customer", day(-5), day(8), day(8), 3)
        # Clara: no lead created in the range; an older one converted in it.
        await h.contact(c, "customer", day(-30), day(9), day(9), 5)
        await session.commit()

    # Everyone: created in the range = Anna's 4 + Boris's 1 = 5; of those converted by
    # day 10: Anna's first only.
    data = await report(run, admin, "rates")
    assert data["cr"] == {"numerator": 1, "denominator": 5, "rate": 0.2}
    anna = await report(run, admin, "rates", operator_id=a)
    assert anna["cr"] == {"numerator": 1, "denominator": 4, "rate": 0.25}
    # Boris's two older leads converting in the range made this 2 / 1 = 2.0.
    boris = await report(run, admin, "rates", operator_id=b)
    assert boris["cr"] == {"numerator": 0, "denominator": 1, "rate": 0.0}
    # Clara had a conversion and no cohort: 0 of 0, not 1 of 0.
    clara = await report(run, admin, "rates", operator_id=c)
    assert clara["cr"] == {"numerator": 0, "denominator": 0, "rate": None}
