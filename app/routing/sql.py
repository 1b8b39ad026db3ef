"""Routing's SQL functions, fed by its Python policy."""

from pathlib import Path

from app.business_hours.sql import BUSINESS_DUE_AT
from app.db.sqlfunctions import SqlFunction, literal
from app.routing.service import DEFAULT_POLICY

RESPONSE_DUE_AT = SqlFunction(
    "chatcentre_response_due_at",
    Path(__file__).parent / "sql" / "response_due_at.sql",
    params={"DEFAULT_TARGET": literal(DEFAULT_POLICY.response_target_seconds)},
    depends_on=(BUSINESS_DUE_AT.name,),
)
