"""A message that goes out as several provider messages (a text and files) remembers, per
process and for a while, which parts the provider already accepted: a retry after a later
part failed sends only the rest, so no file reaches the client twice."""

from collections import OrderedDict
from collections.abc import Hashable

_LIMIT = 2048


class SentParts:
    def __init__(self, limit: int = _LIMIT) -> None:
        self.limit = limit
        self._sent: OrderedDict[Hashable, list[str]] = OrderedDict()

    def take(self, key: Hashable) -> list[str]:
        """The provider ids of the parts sent so far (and forget them: the caller keeps
        them, and remembers them again if it fails once more)."""
        return self._sent.pop(key, [])

    def remember(self, key: Hashable, sent: list[str]) -> None:
        if not sent:
            return
        self._sent[key] = sent
        while len(self._sent) > self.limit:
            self._sent.popitem(last=False)
