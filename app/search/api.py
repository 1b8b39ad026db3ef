from typing import Annotated

from fastapi import APIRouter, Depends, Query

from app.core.deps import Session
from app.operators import scopes
from app.operators.auth import require
from app.operators.service import Principal
from app.search import service
from app.search.schemas import SearchResults, SearchType

router = APIRouter(prefix="/api/v1", tags=["search"])

# Conversations and their messages; contacts are found through the conversations one sees.
Reader = Annotated[Principal, Depends(require(scopes.CONVERSATIONS_READ))]


@router.get(
    "/search",
    response_model=SearchResults,
    responses={422: {"description": "empty_query, query_too_long, invalid_cursor"}},
)
async def search(
    principal: Reader,
    session: Session,
    q: Annotated[str, Query(max_length=service.MAX_QUERY, description="what to look for")],
    type: Annotated[
        SearchType | None, Query(description="one group only (needed to page with cursor)")
    ] = None,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
    limit: Annotated[int, Query(ge=1, le=50)] = 10,
) -> SearchResults:
    return await service.search(session, principal, q, type_=type, cursor=cursor, limit=limit)
