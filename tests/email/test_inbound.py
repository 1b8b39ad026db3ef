"""Mail read from a real Dovecot mailbox by the app's own reader: conversations, touchpoints
and routing; exactly once; UIDVALIDITY changes; threading; automated mail; encodings and
attachments; nothing marked read unless configured."""

import asyncio
from email import policy
from email.parser import BytesParser
from typing import Any

from sqlalchemy import select

from app.touchpoints.models import Touchpoint
from tests.conftest import Running
from tests.connectors.email.conftest import fixture
from tests.connectors.email.servers import Dovecot, SmtpServer
from tests.email.helpers import (
    all_messages,
    conversations,
    create_mailbox,
    mail,
    messages,
    until,
)
from tests.helpers import auth
from tests.routing.test_routing import make_operators

NAMES = ["Счёт №1042.pdf", "Прайс-лист декабрь.xlsx", "заметки.txt"]


async def connect(run: Running, dovecot: Dovecot, smtp: SmtpServer, **extra: Any) -> Any:
    admin = await run.admin_token()
    user = dovecot.new_user()
    if extra.get("imap_folder"):
        dovecot.command(user, ("create", extra["imap_folder"]))
    r = await create_mailbox(run.client, admin, dovecot, smtp, user, **extra)
    assert r.status_code == 201, r.text
    return admin, user, r.json()


async def count_is(run: Running, admin: str, n: int) -> bool:
    return len(await all_messages(run.client, admin)) == n


async def test_a_mail_becomes_a_routed_conversation_with_a_touchpoint(
    run: Running, dovecot: Dovecot, smtp: SmtpServer
) -> None:
    admin, user, channel = await connect(run, dovecot, smtp)
    [op] = await make_operators(run, admin, 1)
    raw, _ = mail(
        body="Where is my order?\n\n-- \nClient\n\nOn Fri, Support wrote:\n> Your order ships.",
        name="Анна Client",
    )
    dovecot.append(user, raw)
    [conv] = await until(lambda: conversations(run.client, admin))
    assert conv["channel_id"] == channel["id"] and conv["channel_type"] == "email"
    await until(lambda: _assigned(run, admin, conv["id"], op))
    [message] = await messages(run.client, admin, conv["id"])
    assert message["direction"] == "inbound"
    assert message["text"] == "Where is my order?"  # no signature, no quote
    assert "Your order ships." in message["original_text"]
    assert message["subject"] == "Hello"
    contact_id = conv["contact"]["id"]
    contact = (await run.client.get(f"/api/v1/contacts/{contact_id}", headers=auth(admin))).json()
    assert contact["name"] == "Анна Client"
    timeline = await run.client.get(f"/api/v1/contacts/{contact_id}/timeline", headers=auth(admin))
    assert any(t["channel"] == "email" and t["direction"] == "inbound" for t in timeline.json())
    # Nothing was marked read (mark_seen is off by default).
    assert all("\\Seen" not in flags for flags in dovecot.flags(user).values())


async def _assigned(run: Running, admin: str, conversation_id: int, op: int) -> bool:
    r = await run.client.get(f"/api/v1/conversations/{conversation_id}", headers=auth(admin))
    return bool(r.json().get("assignee_id") == op)


async def test_a_mail_read_twice_is_stored_once_and_marked_seen_when_configured(
    run: Running, dovecot: Dovecot, smtp: SmtpServer
) -> None:
    admin, user, _ = await connect(run, dovecot, smtp, mark_seen=True)
    raw, _ = mail()
    dovecot.append(user, raw)
    dovecot.append(user, raw)  # redelivered: the same Message-ID under a new UID
    marker, _ = mail(body="the last one")
    dovecot.append(user, marker)
    await until(lambda: count_is(run, admin, 2))
    await asyncio.sleep(1.5)
    assert [m["text"] for m in await all_messages(run.client, admin)] == [
        "Where is my order?",
        "the last one",
    ]
    await until(lambda: all("\\Seen" in f for f in dovecot.flags(user).values()))


async def test_a_uidvalidity_change_brings_no_duplicates(
    run: Running, dovecot: Dovecot, smtp: SmtpServer
) -> None:
    admin, user, channel = await connect(run, dovecot, smtp, imap_folder="Support")
    first, _ = mail(body="one")
    second, _ = mail(body="two")
    dovecot.append(user, first, "Support")
    dovecot.append(user, second, "Support")
    await until(lambda: count_is(run, admin, 2))
    before = await run.client.get(f"/api/v1/channels/{channel['id']}", headers=auth(admin))
    await asyncio.sleep(1.1)  # Dovecot's UIDVALIDITY is time-based
    dovecot.command(user, ("delete", "Support"), ("create", "Support"))
    third, _ = mail(body="three")
    for raw in (first, second, third):
        dovecot.append(user, raw, "Support")
    await until(lambda: count_is(run, admin, 3))
    await asyncio.sleep(1.5)
    assert [m["text"] for m in await all_messages(run.client, admin)] == ["one", "two", "three"]
    after = await run.client.get(f"/api/v1/channels/{channel['id']}", headers=auth(admin))
    assert after.json()["settings"]["uidvalidity"] != before.json()["settings"]["uidvalidity"]


async def test_a_reply_joins_its_conversation_and_a_same_subject_from_another_does_not(
    run: Running, dovecot: Dovecot, smtp: SmtpServer
) -> None:
    admin, user, _ = await connect(run, dovecot, smtp)
    raw, first_id = mail(subject="Order 42")
    dovecot.append(user, raw)
    [conv] = await until(lambda: conversations(run.client, admin))
    r = await run.client.post(
        f"/api/v1/conversations/{conv['id']}/messages",
        json={"text": "On its way"},
        headers=auth(admin),
    )
    assert r.status_code in (200, 201), r.text
    await until(lambda: smtp.handler.received)
    ours = smtp.handler.received[0].content.decode()
    our_id = ours.split("Message-ID: <")[1].split(">")[0]
    reply_to = ours.split("Reply-To: ")[1].split("\r\n")[0]
    assert reply_to.startswith("support+c") and reply_to.endswith("@shop.example")

    reply, _ = mail(
        subject="Re: Order 42",
        body="Thanks",
        headers={"In-Reply-To": f"<{our_id}>", "References": f"<{first_id}> <{our_id}>"},
    )
    other, _ = mail(sender="someone.else@example.org", subject="Order 42", body="Me too")
    dovecot.append(user, reply)
    dovecot.append(user, other)
    await until(lambda: count_is(run, admin, 4))
    convs = await conversations(run.client, admin)
    assert len(convs) == 2
    texts = [m["text"] for m in await messages(run.client, admin, conv["id"])]
    assert texts == ["Where is my order?", "On its way", "Thanks"]


async def test_a_colleagues_reply_joins_the_thread_under_their_own_contact(
    run: Running, dovecot: Dovecot, smtp: SmtpServer
) -> None:
    """Issue 19: a reply matched by our Message-IDs or the signed token joins the matched
    conversation whoever sent it; a resolved one is followed by the normal rule (a new
    conversation of the thread's client, not of the colleague)."""
    admin, user, _ = await connect(run, dovecot, smtp)
    raw, first_id = mail(subject="Order 77", name="Anna Client")
    dovecot.append(user, raw)
    [conv] = await until(lambda: conversations(run.client, admin))
    client_contact = conv["contact"]["id"]
    r = await run.client.post(
        f"/api/v1/conversations/{conv['id']}/messages",
        json={"text": "On its way"},
        headers=auth(admin),
    )
    assert r.status_code in (200, 201), r.text
    await until(lambda: smtp.handler.received)
    ours = smtp.handler.received[0].content.decode()
    our_id = ours.split("Message-ID: <")[1].split(">")[0]
    reply_to = ours.split("Reply-To: ")[1].split("\r\n")[0]

    by_id, _ = mail(
        sender="boss@example.com",
        name="Boris Boss",
        subject="Re: Order 77",
        body="Please deliver before noon",
        headers={"In-Reply-To": f"<{our_id}>", "Cc": "client@example.com"},
    )
    by_token, _ = mail(
        sender="clerk@example.com", name="Carl Clerk", body="Gate 3, please", to=reply_to
    )
    forged = reply_to.replace("support+c", "support+c9")  # a made-up tag: its own conversation
    stranger, _ = mail(sender="stranger@example.org", body="Hi there", to=forged)
    for item in (by_id, by_token, stranger):
        dovecot.append(user, item)
    await until(lambda: count_is(run, admin, 5))
    thread = await messages(run.client, admin, conv["id"])
    assert [(m["text"], m["sender_name"]) for m in thread] == [
        ("Where is my order?", None),
        ("On its way", None),
        ("Please deliver before noon", "Boris Boss"),
        ("Gate 3, please", "Carl Clerk"),
    ]
    convs = await conversations(run.client, admin)
    assert len(convs) == 2  # the thread's, and the stranger's own
    assert {c["contact"]["id"] for c in convs if c["id"] == conv["id"]} == {client_contact}
    senders = [m["contact_id"] for m in thread if m["direction"] == "inbound"]
    assert senders[0] == client_contact
    names = [await _contact_name(run, admin, c) for c in senders]
    assert names == ["Anna Client", "Boris Boss", "Carl Clerk"]
    async with run.ctx.sessions() as session:
        touched = await session.scalars(
            select(Touchpoint.contact_id).where(
                Touchpoint.conversation_id == conv["id"], Touchpoint.direction == "inbound"
            )
        )
        assert set(touched) == {client_contact}  # the thread's client was touched

    r = await run.client.post(
        f"/api/v1/conversations/{conv['id']}/status",
        json={"status": "resolved"},
        headers=auth(admin),
    )
    assert r.status_code == 200, r.text
    late, _ = mail(
        sender="boss@example.com",
        name="Boris Boss",
        body="One more thing",
        headers={"References": f"<{first_id}> <{our_id}>"},
    )
    dovecot.append(user, late)
    await until(lambda: count_is(run, admin, 6))
    convs = await conversations(run.client, admin)
    assert len(convs) == 3  # none of the colleague's own
    [reopened] = [
        c for c in convs if c["contact"]["id"] == client_contact and c["id"] != conv["id"]
    ]
    assert reopened["status"] == "open"
    [message] = await messages(run.client, admin, reopened["id"])
    assert (message["text"], message["sender_name"]) == ("One more thing", "Boris Boss")


async def _contact_name(run: Running, admin: str, contact_id: int) -> str:
    r = await run.client.get(f"/api/v1/contacts/{contact_id}", headers=auth(admin))
    assert r.status_code == 200, r.text
    return str(r.json()["name"])


async def test_automated_mail_opens_no_lead(
    run: Running, dovecot: Dovecot, smtp: SmtpServer
) -> None:
    admin, user, _ = await connect(run, dovecot, smtp)
    for name in ("auto_reply.eml", "out_of_office.eml", "mailing_list.eml"):
        dovecot.append(user, fixture(name))
    bulk, _ = mail(sender="news@example.net", headers={"Precedence": "bulk"})
    dovecot.append(user, bulk)
    person, _ = mail(body="A person")
    dovecot.append(user, person)
    await until(lambda: count_is(run, admin, 1))
    await asyncio.sleep(1.5)
    [conv] = await conversations(run.client, admin)
    assert [m["text"] for m in await messages(run.client, admin, conv["id"])] == ["A person"]


async def test_russian_encodings_and_encoded_words(
    run: Running, dovecot: Dovecot, smtp: SmtpServer
) -> None:
    admin, user, _ = await connect(run, dovecot, smtp)
    for name in ("cp1251_plain.eml", "koi8r_qp.eml", "rfc2047_reply.eml"):
        dovecot.append(user, fixture(name))
    await until(lambda: count_is(run, admin, 3))
    # Line ends as IMAP APPEND sends them (CRLF): compared word by word.
    got = {m["subject"]: " ".join(m["text"].split()) for m in await all_messages(run.client, admin)}
    assert got["Счет на оплату"] == "Добрый вечер. Счёт получил, оплачу завтра."
    assert got["Re: Заказ №1042"].startswith("Здравствуйте! Подскажите, когда привезут")
    assert got["Вопрос по доставке"].startswith("Thanks, that works for me.")
    names = {
        c["name"]
        for c in (await run.client.get("/api/v1/contacts", headers=auth(admin))).json()["items"]
    }
    assert {"Иван Петров", "Ольга Сидорова", "José María"} <= names


async def test_an_attachment_is_listed_and_downloaded_from_the_mailbox(
    run: Running, dovecot: Dovecot, smtp: SmtpServer
) -> None:
    admin, user, _ = await connect(run, dovecot, smtp)
    dovecot.append(user, fixture("rfc2231_attachments.eml"))
    [message] = await until(lambda: all_messages(run.client, admin))
    assert message["attachments"], message
    first = message["attachments"][0]
    r = await run.client.get(f"/api/v1/messages/{message['id']}/attachments/0", headers=auth(admin))
    assert r.status_code == 200, r.text
    assert len(r.content) == first["size"] and r.content.startswith(b"%PDF-1.4")
    names = [a["filename"] for a in message["attachments"]]
    assert names == NAMES


async def test_attachments_are_kept_and_downloadable_after_the_mail_is_deleted(
    run: Running, dovecot: Dovecot, smtp: SmtpServer
) -> None:
    """Issue 19: files up to max_attachment_bytes are copied into our storage at ingest, so
    delete_after_read (or move_to, or a clean-up) loses nothing; a larger one is listed
    with a note, as before."""
    admin, user, _ = await connect(
        run, dovecot, smtp, delete_after_read=True, max_attachment_bytes=50
    )
    raw = fixture("rfc2231_attachments.eml")
    parsed = BytesParser(policy=policy.default).parsebytes(raw)
    sent = [p.get_payload(decode=True) for p in parsed.iter_attachments()]
    dovecot.append(user, raw)
    [message] = await until(lambda: all_messages(run.client, admin))
    await until(lambda: not dovecot.flags(user))  # expunged from the mailbox
    assert [a["filename"] for a in message["attachments"]] == NAMES
    pdf, xlsx, txt = message["attachments"]
    assert pdf["id"] and txt["id"] and xlsx["id"] is None
    assert "over the channel's attachment limit" in xlsx["note"]
    for index, expected in ((0, sent[0]), (2, sent[2])):
        r = await run.client.get(
            f"/api/v1/messages/{message['id']}/attachments/{index}", headers=auth(admin)
        )
        assert r.status_code == 200, r.text
        assert r.content == expected
    assert r.headers["content-type"].startswith("text/plain")
    # The kept file is an attachment like an upload: its own link, and an operator who sees
    # the conversation may send it on.
    r = await run.client.get(f"/api/v1/attachments/{pdf['id']}", headers=auth(admin))
    assert r.status_code == 200 and r.content == sent[0]
    r = await run.client.get(f"/api/v1/messages/{message['id']}/attachments/1", headers=auth(admin))
    assert r.status_code == 404 and r.json()["error"]["code"] == "media_unavailable"
