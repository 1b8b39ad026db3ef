"""Maps a channel type to its connector. Each channel's plugin registers its own when a
process starts (app/plugins.py, with the deployment's settings); tests plug stand-ins here.
No connector is named here, so a new one needs no line in this file."""

from connectors.base import Connector

_connectors: dict[str, Connector] = {}


def get_connector(channel_type: str) -> Connector:
    try:
        return _connectors[channel_type]
    except KeyError:
        raise LookupError(f"no connector for channel type {channel_type!r}") from None


async def close_all() -> None:
    """Release what connectors keep per process (HTTP connection pools) at shutdown: those
    that keep any have an async close()."""
    for connector in list(_connectors.values()):
        close = getattr(connector, "close", None)
        if close is not None:
            await close()


def register(connector: Connector) -> None:
    """Add or replace a connector (new channel types; tests plug a provider stand-in here)."""
    _connectors[connector.channel_type] = connector


def unregister(channel_type: str) -> None:
    _connectors.pop(channel_type, None)
