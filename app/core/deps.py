"""FastAPI dependencies shared by every domain's api.py."""

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.context import AppContext


# Dependencies are `async def` even when they do not await: FastAPI runs plain `def`
# dependencies in a thread pool, which costs more than the work itself here.
async def get_ctx(request: Request) -> AppContext:
    ctx: AppContext = request.app.state.ctx
    return ctx


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    ctx: AppContext = request.app.state.ctx
    async with ctx.sessions() as session:
        yield session


def client_ip(request: Request) -> str:
    return request.client.host if request.client else "unknown"


Ctx = Annotated[AppContext, Depends(get_ctx)]
Session = Annotated[AsyncSession, Depends(get_session)]
