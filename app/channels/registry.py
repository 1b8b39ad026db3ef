"""The channel plugins of this process, by type. app/plugins.py registers them; everything
else asks here (a channel's type is data, never a branch)."""

from app.channels.plugin import ChannelPlugin
from app.core.errors import Invalid

_plugins: dict[str, ChannelPlugin] = {}


def register(plugin: ChannelPlugin) -> None:
    """Add a plugin, or replace the one of its type (idempotent)."""
    _plugins[plugin.type] = plugin


def unregister(channel_type: str) -> None:
    _plugins.pop(channel_type, None)


def get(channel_type: str) -> ChannelPlugin:
    try:
        return _plugins[channel_type]
    except KeyError:
        raise Invalid(
            f"Unknown channel type {channel_type!r}: one of {', '.join(types())}",
            "unknown_channel_type",
        ) from None


def find(channel_type: str) -> ChannelPlugin | None:
    """For reads that must work on a channel of a type no longer installed."""
    return _plugins.get(channel_type)


def all() -> list[ChannelPlugin]:
    return list(_plugins.values())


def types() -> list[str]:
    return list(_plugins)
