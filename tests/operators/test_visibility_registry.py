"""The visibility builder (app/operators/visibility.py) knows a rule for every model a
scoped read asks about, once app/models.py is imported (as every process does), and refuses
a model nobody registered a rule for, even for a caller who sees everything: a forgotten
rule must fail, never show every row."""

import pytest

import app.models
from app.db.base import Base
from app.operators import visibility
from app.operators.models import Role
from app.operators.service import Principal

ADMIN = Principal(kind="operator", id=1, scopes=frozenset(), role=Role.admin)
OPERATOR = Principal(kind="operator", id=2, scopes=frozenset(), role=Role.operator)


class _Unruled:
    """A model nobody registered a rule for (the lookup fails before any column is read)."""


@pytest.mark.parametrize(
    "model",
    [
        app.models.Conversation,
        app.models.Contact,
        app.models.ChannelAccount,
        app.models.Touchpoint,
        app.models.Team,
    ],
)
def test_every_scoped_model_has_a_rule(model: type[Base]) -> None:
    assert visibility.where(ADMIN, model) == []
    assert len(visibility.where(OPERATOR, model)) == 1


@pytest.mark.parametrize("caller", [ADMIN, OPERATOR])
def test_a_model_without_a_rule_is_an_error_not_everything(caller: Principal) -> None:
    with pytest.raises(RuntimeError, match="no visibility rule"):
        visibility.where(caller, _Unruled)
    with pytest.raises(RuntimeError, match="no visibility rule"):
        visibility.clause(caller, _Unruled)


def test_a_second_rule_for_a_model_is_refused() -> None:
    with pytest.raises(RuntimeError, match="already registered"):
        visibility.register(
            app.models.Conversation, lambda p: visibility.owned_by(p, 0), refusal=("x", "y")
        )
