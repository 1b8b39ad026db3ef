"""The visibility rule as a pure function (the inbox's SQL, its Python check and the
realtime hub all follow it): admins and integrations see everything; an operator sees what
is assigned to them, and unassigned conversations of their teams or of no team. The SQL
form (app/operators/visibility.py where()) answers exactly as the Python one, in PostgreSQL."""

import itertools

import pytest
from sqlalchemy import text
from sqlalchemy.dialects import postgresql

from app.inbox.visibility import operator_sees, visible_to
from app.operators.models import Role
from app.operators.service import Principal
from tests.conftest import Running

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


async def test_the_sql_form_answers_as_the_python_form(run: Running) -> None:
    """Every (assignee, team) against operators in no team, one team and two, and an admin:
    the WHERE clause, run by PostgreSQL over those rows, keeps exactly what operator_sees
    says."""
    ids = [None, ME, SOMEONE]
    teams = [None, SALES, SUPPORT]
    rows = list(itertools.product(ids, teams))
    values = ", ".join(
        f"({'NULL' if a is None else a}::bigint, {'NULL' if t is None else t}::bigint, {i})"
        for i, (a, t) in enumerate(rows)
    )
    callers = [
        Principal(kind="operator", id=ME, scopes=frozenset(), role=Role.operator, team_ids=teams_)
        for teams_ in (frozenset(), frozenset({SALES}), frozenset({SALES, SUPPORT}))
    ] + [Principal(kind="operator", id=ME, scopes=frozenset(), role=Role.admin)]
    async with run.ctx.sessions() as session:
        for caller in callers:
            clauses = visible_to(caller)
            condition = (
                " AND ".join(
                    str(
                        c.compile(
                            dialect=postgresql.dialect(), compile_kwargs={"literal_binds": True}
                        )
                    )
                    for c in clauses
                )
                or "true"
            )
            kept = await session.scalars(
                text(
                    f"SELECT n FROM (VALUES {values}) AS conversations(assignee_id, team_id, n) "
                    f"WHERE {condition}"
                )
            )
            expected = {
                i
                for i, (a, t) in enumerate(rows)
                if operator_sees(caller.sees_everything, caller.operator_id, caller.team_ids, a, t)
            }
            assert set(kept.all()) == expected, (caller, condition)
