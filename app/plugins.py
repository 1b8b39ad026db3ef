"""The channel plugins of this installation, registered on import. Adding a channel: its
folder under connectors/, its app-side package with a plugin module, and one line here."""

from app.channels import registry
from app.channels.plugin import ChannelPlugin
from app.config import Settings
from app.email.plugin import EmailPlugin
from app.telegram.plugin import TelegramPlugin
from app.vk.plugin import VkPlugin
from app.webchat.plugin import WebchatPlugin
from app.whatsapp.plugin import WhatsAppPlugin

PLUGINS: tuple[ChannelPlugin, ...] = (
    TelegramPlugin(),
    WhatsAppPlugin(),
    WebchatPlugin(),
    EmailPlugin(),
    VkPlugin(),
)

for _plugin in PLUGINS:
    registry.register(_plugin)


def configure(settings: Settings) -> None:
    """Install every plugin's connector with this deployment's settings (idempotent)."""
    for plugin in registry.all():
        plugin.configure(settings)
