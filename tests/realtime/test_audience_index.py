"""The hub's audience index answers exactly what app.inbox.visibility.operator_sees answers.

The hub no longer asks every socket whether it sees an event; it looks the recipients up.
This holds the two equal for any mix of admins, operators in teams, visitors, assignees and
previous assignees, including after sockets leave."""

from typing import Any, cast

from hypothesis import given, settings
from hypothesis import strategies as st

from app.inbox.schemas import ConversationRead
from app.inbox.visibility import operator_sees
from app.realtime.hub import Audience, Connection

OPERATORS = st.integers(min_value=1, max_value=6)
TEAMS = st.integers(min_value=1, max_value=3)

operator_socket = st.builds(
    lambda op, admin, teams: Connection(
        ws=cast(Any, None),
        kind="operator",
        operator_id=op,
        sees_everything=admin,
        team_ids=frozenset(teams),
    ),
    OPERATORS,
    st.booleans(),
    st.frozensets(TEAMS, max_size=2),
)
visitor_socket = st.builds(
    lambda contact, channel: Connection(
        ws=cast(Any, None), kind="visitor", contact_id=contact, channel_id=channel
    ),
    st.integers(1, 3),
    st.integers(1, 2),
)


def conversation(assignee: int | None, team: int | None) -> ConversationRead:
    return ConversationRead.model_construct(assignee_id=assignee, team_id=team)


def sees(conn: Connection, conv: ConversationRead, previous: int | None) -> bool:
    """The rule itself, asked of one socket: who the index must return."""
    if conn.kind != "operator":
        return False
    return operator_sees(
        conn.sees_everything, conn.operator_id, conn.team_ids, conv.assignee_id, conv.team_id
    ) or (previous is not None and previous == conn.operator_id)


@settings(max_examples=300, deadline=None)
@given(
    sockets=st.lists(st.one_of(operator_socket, visitor_socket), max_size=12),
    leaving=st.sets(st.integers(0, 11), max_size=4),
    assignee=st.one_of(st.none(), OPERATORS),
    team=st.one_of(st.none(), TEAMS),
    previous=st.one_of(st.none(), OPERATORS),
)
def test_recipients_are_who_sees_it(
    sockets: list[Connection],
    leaving: set[int],
    assignee: int | None,
    team: int | None,
    previous: int | None,
) -> None:
    audience = Audience()
    for conn in sockets:
        audience.add(conn)
    for i in sorted(leaving):
        if i < len(sockets):
            audience.discard(sockets[i])
    present = [c for i, c in enumerate(sockets) if i not in leaving]

    conv = conversation(assignee, team)
    expected = {c for c in present if sees(c, conv, previous)}
    assert audience.recipients(conv, previous) == expected

    for op in range(1, 7):
        assert audience.of_operator(op) == {
            c for c in present if c.kind == "operator" and c.operator_id == op
        }
    for contact in range(1, 4):
        for channel in (1, 2):
            assert audience.of_visitor(contact, channel) == {
                c
                for c in present
                if c.kind == "visitor" and (c.contact_id, c.channel_id) == (contact, channel)
            }


def test_empty_buckets_are_dropped() -> None:
    audience = Audience()
    visitor = Connection(ws=cast(Any, None), kind="visitor", contact_id=7, channel_id=1)
    operator = Connection(
        ws=cast(Any, None), kind="operator", operator_id=3, team_ids=frozenset({2})
    )
    audience.add(visitor)
    audience.add(operator)
    audience.discard(visitor)
    audience.discard(operator)
    assert audience.visitors == {}
    assert audience.by_operator == {}
    assert audience.by_team == {}
    assert audience.operators == set()
