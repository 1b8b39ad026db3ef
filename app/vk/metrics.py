"""VK's own counters, next to the generic ones (ingested, sent, send failures by channel)."""

from prometheus_client import Counter

VK_EVENTS = Counter(
    "chatcentre_vk_events_total",
    "VK events received, by how (callback, longpoll) and type",
    ["source", "type"],
)
VK_LONG_POLL_FAILED = Counter(
    "chatcentre_vk_long_poll_failed_total",
    "Bots Long Poll `failed` answers (1: history lost in part, 2: key expired, 3: all lost)",
    ["failed"],
)
