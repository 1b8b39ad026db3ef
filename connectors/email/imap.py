"""Reads one mailbox folder over IMAP (aioimaplib): new mail by UID, waiting with IDLE where
the server offers it and polling otherwise.

The caller (the app) keeps a MailboxState per channel, passes it in and stores the one it
gets back once the batch is ingested; ingesting is exactly-once by Message-ID, so reading
a mail twice (a crash before the state was stored, a UIDVALIDITY change) is harmless.

- Nothing is changed in the mailbox unless configured: the folder is opened read-only
  (EXAMINE) and mail is fetched with BODY.PEEK, which sets no \\Seen flag. With mark_seen
  or move_to the folder is SELECTed and mark_processed() does that after ingesting.
- A new channel starts at the folder's current end (UIDNEXT): old mail does not flood the
  inbox with leads. settings.import_existing reads the folder from its start instead.
- UIDVALIDITY changed (the folder was recreated or the server migrated): every UID we
  knew is void. The folder is read again from the date of our last check (a day earlier,
  for time zones), or from its start when we never checked."""

import asyncio
import ssl
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from types import TracebackType
from typing import Any

import aioimaplib
from aioimaplib.aioimaplib import Command

from connectors.base import PermanentError, TemporaryError
from connectors.email import account
from connectors.email.imap_wire import (
    fetched_bodies,
    fetched_sizes,
    mailbox_name,
    response_text,
    search_uids,
    select_codes,
    since,
)
from connectors.email.parse import MailLocation

DEFAULT_MAX_MESSAGE_BYTES = 50 * 1024 * 1024
_FETCH_CHUNK = 10  # mails per UID FETCH: bounds the memory one round trip holds


@dataclass(frozen=True, slots=True)
class MailboxState:
    """What the app stores per mailbox between reads (JSON: as_dict / from_dict)."""

    uidvalidity: int | None = None
    last_uid: int = 0  # the highest UID read (and handed over) so far
    checked_on: str | None = None  # ISO date of the last read: bounds a re-read

    def as_dict(self) -> dict[str, Any]:
        return {
            "uidvalidity": self.uidvalidity,
            "last_uid": self.last_uid,
            "checked_on": self.checked_on,
        }

    @classmethod
    def from_dict(cls, value: Any) -> "MailboxState":
        if not isinstance(value, dict):
            return cls()
        uidvalidity = value.get("uidvalidity")
        return cls(
            uidvalidity=int(uidvalidity) if isinstance(uidvalidity, int) else None,
            last_uid=int(value.get("last_uid") or 0),
            checked_on=value.get("checked_on")
            if isinstance(value.get("checked_on"), str)
            else None,
        )


@dataclass(frozen=True, slots=True)
class FetchedMail:
    uid: int
    raw: bytes
    location: MailLocation
    size: int = 0  # the whole mail's size on the server
    headers_only: bool = False  # over max_message_bytes: raw holds the headers alone


@dataclass(frozen=True, slots=True)
class Batch:
    mails: list[FetchedMail]
    state: MailboxState  # store it once these mails are ingested
    reset: bool = False  # UIDVALIDITY changed: these mails are a re-read (dedupe by Message-ID)
    more: bool = False  # more new mail waits: call fetch_new again before waiting


class MailboxReader:
    """One connection to one folder. Use as `async with MailboxReader(...) as box:`."""

    def __init__(self, credentials: dict[str, Any], settings: dict[str, Any]) -> None:
        self.server = account.server("imap", credentials, settings)
        self.folder = str(settings.get("imap_folder") or "INBOX")
        self.mark_seen = bool(settings.get("mark_seen"))
        self.move_to = str(settings["move_to"]) if settings.get("move_to") else None
        self.delete = bool(settings.get("delete_after_read"))
        self.use_idle = settings.get("idle", True) is not False
        self.poll_interval = float(settings.get("poll_interval") or 60.0)
        self.import_existing = bool(settings.get("import_existing"))
        self.max_message_bytes = int(settings.get("max_message_bytes") or DEFAULT_MAX_MESSAGE_BYTES)
        self.uidvalidity: int | None = None
        self.uidnext: int | None = None
        self._client: aioimaplib.IMAP4 | None = None
        self._lost = False

    @property
    def read_only(self) -> bool:
        return not (self.mark_seen or self.move_to or self.delete)

    @property
    def can_idle(self) -> bool:
        return self.use_idle and self._imap.has_capability("IDLE")

    @property
    def _imap(self) -> aioimaplib.IMAP4:
        if self._client is None:
            raise RuntimeError("MailboxReader is not connected")
        return self._client

    async def __aenter__(self) -> "MailboxReader":
        await self.connect()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def connect(self) -> None:
        server = self.server
        try:
            if server.security == "tls":
                self._client = aioimaplib.IMAP4_SSL(
                    host=server.host,
                    port=server.port,
                    timeout=server.timeout,
                    ssl_context=server.tls,
                )
            else:
                self._client = aioimaplib.IMAP4(
                    host=server.host, port=server.port, timeout=server.timeout
                )
            self._lost = False
            # Told when the server hangs up, so that a wait in IDLE ends at once.
            self._client.protocol.conn_lost_cb = self._connection_lost
            await self._client.wait_hello_from_server()
            if server.security == "starttls":
                await self._starttls()
            login = await self._login()
            if login.result != "OK":
                raise PermanentError(f"IMAP login to {server.label} failed: {response_text(login)}")
            await self._client.protocol.capability()  # the list changes after login
            await self._open_folder()
        except (PermanentError, TemporaryError):
            await self.close()
            raise
        except ssl.SSLCertVerificationError as exc:
            await self.close()
            raise PermanentError(
                f"IMAP server {server.label}: its TLS certificate is not trusted "
                f"({exc.verify_message})"
            ) from None
        except (OSError, TimeoutError, aioimaplib.AioImapException) as exc:
            await self.close()
            raise TemporaryError(f"IMAP server {server.label} unreachable: {exc!r}") from None

    async def _login(self) -> Any:
        server, client = self.server, self._imap
        if not server.oauth2_token:
            return await client.login(server.username or "", server.password or "")
        protocol = client.protocol
        plain_continuation = protocol._continuation

        def continuation(line: bytes) -> None:
            # A refused XOAUTH2 token comes back as a "+ <error>" challenge that the client
            # must answer with an empty line (Google's and Microsoft's documentation);
            # aioimaplib would wait for ever, so we answer and get the tagged NO.
            pending = protocol.pending_sync_command
            if pending is not None and pending.name == "AUTHENTICATE":
                protocol.transport.write(b"\r\n")
                return
            plain_continuation(line)

        protocol._continuation = continuation
        return await client.xoauth2(server.username or "", server.oauth2_token)

    def _connection_lost(self, exc: Exception | None) -> None:
        self._lost = True
        if self._client is not None:
            self._client.protocol.idle_queue.put_nowait(aioimaplib.STOP_WAIT_SERVER_PUSH)

    async def _starttls(self) -> None:
        """aioimaplib has no STARTTLS of its own: send the command, then upgrade the
        transport in place and ask for the capabilities again (RFC 3501 6.2.1)."""
        protocol = self._imap.protocol
        if "STARTTLS" not in protocol.capabilities:
            raise PermanentError(f"IMAP server {self.server.label} does not offer STARTTLS")
        response = await asyncio.wait_for(
            protocol.execute(Command("STARTTLS", protocol.new_tag(), loop=protocol.loop)),
            self.server.timeout,
        )
        if response.result != "OK":
            raise PermanentError(f"IMAP STARTTLS refused: {response_text(response)}")
        loop = asyncio.get_running_loop()
        assert self.server.tls is not None
        protocol.transport = await loop.start_tls(
            protocol.transport, protocol, self.server.tls, server_hostname=self.server.host
        )
        await protocol.capability()

    async def _open_folder(self) -> None:
        name = mailbox_name(self.folder)
        if self.read_only:
            response = await self._imap.examine(name)
            if response.result == "OK":
                # aioimaplib moves to SELECTED only on SELECT; EXAMINE opens the folder too.
                self._imap.protocol.state = aioimaplib.SELECTED
        else:
            response = await self._imap.select(name)
        if response.result != "OK":
            raise PermanentError(
                f"IMAP folder {self.folder!r} cannot be opened: {response_text(response)}"
            )
        self.uidvalidity, self.uidnext = select_codes(response.lines)
        if self.uidvalidity is None:
            raise PermanentError(f"IMAP folder {self.folder!r}: the server gave no UIDVALIDITY")

    async def reopen(self) -> None:
        """Opens the folder again: a folder deleted and recreated under an open connection
        is not always reported (Dovecot goes on answering for the old one), so a reader
        does this now and then to learn of a new UIDVALIDITY."""
        try:
            await asyncio.wait_for(self._open_folder(), self.server.timeout)
        except (OSError, TimeoutError, aioimaplib.AioImapException) as exc:
            raise TemporaryError(f"IMAP server {self.server.label}: {exc!r}") from None

    async def close(self) -> None:
        client, self._client = self._client, None
        if client is None:
            return
        try:
            if client.has_pending_idle():
                client.idle_done()
            await asyncio.wait_for(client.logout(), 5)
        except Exception:  # closing: the connection may be gone already
            transport = getattr(client.protocol, "transport", None)
            if transport is not None:
                transport.close()

    async def fetch_new(self, state: MailboxState, limit: int = 50) -> Batch:
        """The mail after state.last_uid, oldest first, at most `limit` of them."""
        assert self.uidvalidity is not None
        # A server tells of mail that arrived since the last command at a command's end;
        # NOOP makes sure a SEARCH sees it.
        await self._command(self._imap.noop())
        today = datetime.now(UTC).date().isoformat()
        if state.uidvalidity is None and not self.import_existing:
            # A new channel: start at the folder's end; nothing old becomes a lead.
            last = await self._last_uid()
            return Batch([], MailboxState(self.uidvalidity, last, today))
        reset = state.uidvalidity is not None and state.uidvalidity != self.uidvalidity
        if reset or state.uidvalidity is None:
            uids = await self._search_since(state.checked_on if reset else None)
            start = 0
        else:
            start = state.last_uid
            uids = await self._search(f"UID {start + 1}:*")
        uids = sorted(u for u in uids if u > start)
        chosen = uids[:limit]
        mails = await self._fetch(chosen)
        last = max([start, *chosen])
        new_state = MailboxState(self.uidvalidity, last, today)
        return Batch(mails, new_state, reset=reset, more=len(uids) > len(chosen))

    async def _last_uid(self) -> int:
        if self.uidnext is not None:
            return self.uidnext - 1
        uids = await self._search("ALL")
        return max(uids, default=0)

    async def _search_since(self, checked_on: str | None) -> list[int]:
        if checked_on is None:
            return await self._search("ALL")
        try:
            day = date.fromisoformat(checked_on) - timedelta(days=1)
        except ValueError:
            return await self._search("ALL")
        return await self._search(since(day))

    async def _search(self, criteria: str) -> list[int]:
        response = await self._command(self._imap.uid_search(criteria, charset=None))
        return search_uids(response.lines)

    async def _fetch(self, uids: list[int]) -> list[FetchedMail]:
        """Whole mails; one over max_message_bytes only by its headers (headers_only)."""
        assert self.uidvalidity is not None
        mails: list[FetchedMail] = []
        for i in range(0, len(uids), _FETCH_CHUNK):
            chunk = uids[i : i + _FETCH_CHUNK]
            sizes = await self._sizes(chunk)
            whole = [u for u in chunk if sizes.get(u, 0) <= self.max_message_bytes]
            headers = [u for u in chunk if u not in whole]
            for part, items, cut in (
                (whole, "BODY.PEEK[]", False),
                (headers, "BODY.PEEK[HEADER]", True),
            ):
                if not part:
                    continue
                uid_set = ",".join(str(u) for u in part)
                response = await self._command(self._imap.uid("fetch", uid_set, f"(UID {items})"))
                for uid, raw in fetched_bodies(response.lines):
                    location = MailLocation(self.folder, self.uidvalidity, uid)
                    mails.append(FetchedMail(uid, raw, location, sizes.get(uid, len(raw)), cut))
        mails.sort(key=lambda m: m.uid)
        return mails

    async def _sizes(self, uids: list[int]) -> dict[int, int]:
        uid_set = ",".join(str(u) for u in uids)
        response = await self._command(self._imap.uid("fetch", uid_set, "(UID RFC822.SIZE)"))
        return fetched_sizes(response.lines)

    async def fetch_raw(self, uidvalidity: int, uid: int) -> bytes | None:
        """One mail's bytes again (for an attachment download); None when the folder was
        recreated since (another UIDVALIDITY) or the mail is gone."""
        if uidvalidity != self.uidvalidity:
            return None
        response = await self._command(self._imap.uid("fetch", str(uid), "(UID BODY.PEEK[])"))
        return next((raw for u, raw in fetched_bodies(response.lines) if u == uid), None)

    async def wait_for_news(self, max_wait: float | None = None) -> bool:
        """Until the server reports new mail (IDLE) or the poll interval passes. True when
        something may have arrived; then call fetch_new. IDLE is renewed by the caller's
        loop well within the 29 minutes RFC 2177 allows (max_wait defaults to 25 min)."""
        if not self.can_idle:
            await asyncio.sleep(self.poll_interval if max_wait is None else max_wait)
            await self._command(self._imap.noop())
            return True
        wait = 25 * 60.0 if max_wait is None else max_wait
        client = self._imap
        news = False
        try:
            idle = await client.idle_start(timeout=wait)
            deadline = asyncio.get_running_loop().time() + wait
            while not news:
                left = deadline - asyncio.get_running_loop().time()
                if left <= 0:
                    break
                try:
                    pushed = await client.wait_server_push(timeout=left + 1)
                except TimeoutError:
                    break
                if self._lost:
                    raise TemporaryError(f"IMAP server {self.server.label} closed the connection")
                if pushed == aioimaplib.STOP_WAIT_SERVER_PUSH:
                    break
                # "* OK Still here" keep-alives are not news; EXISTS (and RECENT) are.
                news = any(
                    isinstance(x, bytes) and x.endswith((b"EXISTS", b"RECENT")) for x in pushed
                )
            if client.has_pending_idle():
                client.idle_done()
            await asyncio.wait_for(idle, self.server.timeout)
        except (OSError, TimeoutError, aioimaplib.AioImapException) as exc:
            raise TemporaryError(f"IMAP IDLE on {self.server.label} failed: {exc!r}") from None
        return news

    @property
    def connected(self) -> bool:
        """False once the server hung up: close() and connect again."""
        return self._client is not None and not self._lost

    async def mark_processed(self, uids: list[int]) -> None:
        """After ingesting: \\Seen, move or delete, as configured; nothing otherwise."""
        if not uids or self.read_only:
            return
        uid_set = ",".join(str(u) for u in uids)
        if self.mark_seen:
            await self._command(self._imap.uid("store", uid_set, "+FLAGS.SILENT", "(\\Seen)"))
        if self.delete:
            await self._command(self._imap.uid("store", uid_set, "+FLAGS.SILENT", "(\\Deleted)"))
            await self._expunge(uid_set)
        elif self.move_to:
            target = mailbox_name(self.move_to)
            if self._imap.has_capability("MOVE"):
                await self._command(self._imap.uid("move", uid_set, target))
            else:
                await self._command(self._imap.uid("copy", uid_set, target))
                await self._command(
                    self._imap.uid("store", uid_set, "+FLAGS.SILENT", "(\\Deleted)")
                )
                await self._expunge(uid_set)

    async def _expunge(self, uid_set: str) -> None:
        """Only these mails where the server can (UIDPLUS); otherwise they stay flagged
        \\Deleted for the mail client's next expunge (a plain EXPUNGE would remove what
        someone else flagged too)."""
        if self._imap.has_capability("UIDPLUS"):
            await self._command(self._imap.uid("expunge", uid_set))

    async def _command(self, call: Any) -> Any:
        if self._lost:
            call.close()
            raise TemporaryError(f"IMAP server {self.server.label} closed the connection")
        try:
            response = await asyncio.wait_for(call, self.server.timeout * 4)
        except (OSError, TimeoutError, aioimaplib.AioImapException) as exc:
            raise TemporaryError(f"IMAP server {self.server.label}: {exc!r}") from None
        if response.result != "OK":
            raise TemporaryError(f"IMAP server {self.server.label}: {response_text(response)}")
        return response
