"""Saved views: an operator's own named sets of conversation-list filters and a sort order,
shown as extra tabs in the console. Personal: nobody else reads or changes them. A filter
naming a channel, team, operator or label that does not exist is refused when saved."""

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Response
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import BigInteger, ForeignKey, Identity, Index, String, func, select, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from app.channels.models import ChannelAccount
from app.core.deps import Session
from app.core.errors import Conflict, Forbidden, Invalid, NotFound
from app.core.schemas import RequestModel
from app.db.base import Base, TimestampMixin
from app.inbox.models import ConversationStatus
from app.labels.models import Label
from app.operators.auth import current_principal
from app.operators.models import Operator, Team
from app.operators.service import Principal

MAX_VIEWS = 50  # per operator: a tab bar, not a database

Sort = Literal["activity", "waiting"]


class SavedView(TimestampMixin, Base):
    __tablename__ = "saved_views"

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    operator_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("operators.id", ondelete="CASCADE"), nullable=False
    )
    name: Mapped[str] = mapped_column(String(60), nullable=False)
    filters: Mapped[dict[str, Any]] = mapped_column(JSONB, nullable=False)

    __table_args__ = (
        Index("uq_saved_views_name", "operator_id", text("lower(name)"), unique=True),
    )


class ViewFilters(RequestModel):
    """The query parameters of GET /conversations a view stands for."""

    status: ConversationStatus | None = None
    assignee: str | None = Field(
        default=None, pattern=r"^(me|none|[1-9][0-9]{0,17})$", description="'me', 'none' or an id"
    )
    channel: int | None = Field(default=None, ge=1)
    team: int | None = Field(default=None, ge=1)
    label: str | None = Field(default=None, min_length=1, max_length=50)
    sort: Sort = "activity"


class SavedViewWrite(RequestModel):
    name: str = Field(min_length=1, max_length=60, pattern=r"\S")
    filters: ViewFilters


class SavedViewUpdate(RequestModel):
    name: str | None = Field(default=None, min_length=1, max_length=60, pattern=r"\S")
    filters: ViewFilters | None = None


class SavedViewRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    filters: ViewFilters
    created_at: datetime


# ---------------------------------------------------------------- service


async def _check_refs(session: AsyncSession, f: ViewFilters) -> None:
    checks: list[tuple[Any, Any, str, str]] = [
        (f.channel, ChannelAccount, "channel", "unknown_channel"),
        (f.team, Team, "team", "unknown_team"),
    ]
    if f.assignee not in (None, "me", "none"):
        checks.append((int(str(f.assignee)), Operator, "operator", "unknown_operator"))
    for ref, model, what, code in checks:
        if ref is not None and await session.get(model, ref) is None:
            raise Invalid(f"No {what} {ref}", code)
    if f.label is not None and (
        await session.scalar(select(Label.id).where(func.lower(Label.name) == f.label.lower()))
        is None
    ):
        raise Invalid(f"No label {f.label!r}", "unknown_label")


async def _own(session: AsyncSession, operator_id: int, view_id: int) -> SavedView:
    view = await session.get(SavedView, view_id)
    if view is None or view.operator_id != operator_id:
        raise NotFound(f"Saved view {view_id} not found")  # another's is as good as none
    return view


async def _flush_unique(session: AsyncSession, name: str) -> None:
    try:
        async with session.begin_nested():
            await session.flush()
    except IntegrityError as exc:
        raise Conflict(f"You already have a view named {name!r}", "view_name_taken") from exc


# ---------------------------------------------------------------- API

router = APIRouter(prefix="/api/v1", tags=["saved views"])


async def _operator(principal: Annotated[Principal, Depends(current_principal)]) -> int:
    if principal.operator_id is None:
        raise Forbidden("An API key is not an operator", "operator_only")
    return principal.operator_id


Me = Annotated[int, Depends(_operator)]


def _read(view: SavedView) -> SavedViewRead:
    return SavedViewRead.model_validate(view)


@router.get("/saved-views", response_model=list[SavedViewRead])
async def list_views(me: Me, session: Session) -> list[SavedViewRead]:
    rows = await session.scalars(
        select(SavedView).where(SavedView.operator_id == me).order_by(SavedView.id)
    )
    return [_read(v) for v in rows]


@router.post("/saved-views", response_model=SavedViewRead, status_code=201)
async def create_view(body: SavedViewWrite, me: Me, session: Session) -> SavedViewRead:
    count = await session.scalar(
        select(func.count()).select_from(SavedView).where(SavedView.operator_id == me)
    )
    if (count or 0) >= MAX_VIEWS:
        raise Invalid(f"At most {MAX_VIEWS} saved views", "too_many_views")
    await _check_refs(session, body.filters)
    view = SavedView(
        operator_id=me,
        name=body.name.strip(),
        filters=body.filters.model_dump(exclude_none=True),
    )
    session.add(view)
    await _flush_unique(session, view.name)
    await session.commit()
    await session.refresh(view)
    return _read(view)


@router.patch("/saved-views/{view_id}", response_model=SavedViewRead)
async def update_view(
    view_id: int, body: SavedViewUpdate, me: Me, session: Session
) -> SavedViewRead:
    view = await _own(session, me, view_id)
    if body.name is not None:
        view.name = body.name.strip()
    if body.filters is not None:
        await _check_refs(session, body.filters)
        view.filters = body.filters.model_dump(exclude_none=True)
    await _flush_unique(session, view.name)
    await session.commit()
    await session.refresh(view)
    return _read(view)


@router.delete("/saved-views/{view_id}", status_code=204)
async def delete_view(view_id: int, me: Me, session: Session) -> Response:
    await session.delete(await _own(session, me, view_id))
    await session.commit()
    return Response(status_code=204)
