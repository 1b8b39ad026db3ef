"""The visibility rule as a pure function (the inbox's SQL, its Python check and the
realtime hub all follow it): admins and integrations see everything; an operator sees what
is assigned to them, and unassigned conversations of their teams or of no team."""

import pytest

from app.inbox.service import operator_sees

ME, SOMEONE = 7, 8
SALES, SUPPORT = 1, 2


@pytest.mark.parametrize(
    ("assignee_id", "team_id", "expected"),
    [
        (None, None, True),  # the common queue
        (None, SALES, True),  # my team's queue
        (None, SUPPORT, False),  # another team's queue
        (ME, None, True),
        (ME, SUPPORT, True),  # assigned to me beats the team
        (SOMEONE, None, False),
        (SOMEONE, SALES, False),  # my team, but someone else's
    ],
)
def test_an_operator_in_sales(assignee_id: int | None, team_id: int | None, expected: bool) -> None:
    assert operator_sees(False, ME, frozenset({SALES}), assignee_id, team_id) is expected


@pytest.mark.parametrize(("assignee_id", "team_id"), [(None, SUPPORT), (SOMEONE, SALES)])
def test_admins_and_integrations_see_everything(assignee_id: int | None, team_id: int) -> None:
    assert operator_sees(True, ME, frozenset(), assignee_id, team_id)
    assert operator_sees(True, None, frozenset(), assignee_id, team_id)


def test_an_operator_in_no_team_sees_only_the_common_queue_and_their_own() -> None:
    assert operator_sees(False, ME, frozenset(), None, None)
    assert not operator_sees(False, ME, frozenset(), None, SALES)
    assert operator_sees(False, ME, frozenset(), ME, SALES)
    # Without an operator id (not a person) only the common queue would be visible.
    assert not operator_sees(False, None, frozenset(), SOMEONE, None)
