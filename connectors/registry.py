"""Maps a channel type to its connector."""

from connectors.base import Connector
from connectors.telegram.client import close_shared_sessions
from connectors.telegram.connector import TelegramConnector
from connectors.webchat.connector import WebchatConnector
from connectors.whatsapp.connector import WhatsAppConnector

_connectors: dict[str, Connector] = {
    "webchat": WebchatConnector(),
    "telegram": TelegramConnector(),
    "whatsapp": WhatsAppConnector(),
}


def get_connector(channel_type: str) -> Connector:
    try:
        return _connectors[channel_type]
    except KeyError:
        raise LookupError(f"no connector for channel type {channel_type!r}") from None


async def close_all() -> None:
    """Release what connectors keep per process (HTTP connection pools) at shutdown."""
    await close_shared_sessions()


def register(connector: Connector) -> None:
    """Add or replace a connector (new channel types; tests plug a provider stand-in here)."""
    _connectors[connector.channel_type] = connector
