from pydantic import BaseModel, Field


class WsTicketRead(BaseModel):
    ticket: str = Field(description="Connect with ?ticket=<this>; it works once")
    expires_in: int = Field(description="Seconds it stays valid (at most 60)")
