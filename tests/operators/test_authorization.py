"""Who may call what.

Every route of the app is listed in one of the tables below; a new endpoint without a rule
fails `test_every_route_has_a_rule`, and the matrix tests walk the routes the app really has
(not the tables), so a rule cannot silently go unchecked. Callers: anonymous, broken
credentials (garbage, forged, expired, a visitor token, a bad or revoked API key), an
operator, an operator of another team, an admin, an API key with the route's scope and one
with every scope but that one; on the widget API also a visitor of another widget and a
visitor whose sessions were ended. The world's conversation waits unassigned in team Sales:
its members (the operator) see it, an operator only of team Support does not; the same goes
for its client, touches, order, Sales' channel, settings and figures (the operator leads
Sales). Every route an operator may call states what that outsider gets on Sales' object
(a 403 code, or a list probed for the object), or why it holds no team's object.
Wrong or missing credentials answer 401, known but not allowed 403, both as
{"error": {"code", "message"}}."""

import asyncio
import base64
import csv
import io
import itertools
import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import jwt
import pytest
import websockets
from fastapi import FastAPI, routing
from fastapi.routing import APIRoute, APIWebSocketRoute
from sqlalchemy import text

from app.config import Settings
from app.main import create_app
from app.operators import scopes, security
from app.operators.auth import OPERATOR_TOKEN
from app.webchat.service import VISITOR_TOKEN
from tests.attachments.support import PNG
from tests.conftest import LiveServer, Running, create_operator
from tests.helpers import auth, create_webchat, recv_event, visitor_post, visitor_session

Route = tuple[str, str]  # (method or "WS", path template)
Call = Callable[["World"], tuple[str, dict[str, Any] | None]]

OTHER_KEY = "a-different-signing-key-nobody-configured-0123456789"


@dataclass(frozen=True)
class Rule:
    """scope: what the route needs (None: any operator, never an API key).
    operator: whether a plain operator may call it. api_key: whether an API key holding the
    scope may. ok: the status an allowed caller gets. call: (url, json body) to send.
    outsider: the 403 code the operator of another team gets where the world's operator is
    allowed (the world's conversation waits for team Sales: not_your_conversation; its client:
    not_your_contact; Sales' channel and settings: not_your_team; Sales' figures:
    not_team_lead; the operator's own presence or plan: not_yourself); None: allowed like the
    operator, and then the route is a list (`reveals` tells whether an answer shows Sales'
    object: the operator's must, the outsider's must not) or in NO_TEAM_OBJECT."""

    scope: str | None
    operator: bool
    call: Call
    api_key: bool = True
    ok: int = 200
    outsider: str | None = None
    reveals: "Callable[[World, httpx.Response], bool] | None" = None


NOT_YOURS = "not_your_conversation"
NOT_YOUR_CONTACT = "not_your_contact"
NOT_YOUR_TEAM = "not_your_team"
NOT_LEAD = "not_team_lead"


def _items(r: httpx.Response) -> list[dict[str, Any]]:
    body = r.json()
    items: list[dict[str, Any]] = body if isinstance(body, list) else body["items"]
    return items


def _lists(key: str, wanted: Callable[["World"], int]) -> Callable[["World", httpx.Response], bool]:
    """Whether a JSON list answer holds an item whose `key` is the world's object."""
    return lambda w, r: any(item.get(key) == wanted(w) for item in _items(r))


def _csv_has_contact(w: "World", r: httpx.Response) -> bool:
    rows = list(csv.DictReader(io.StringIO(r.text)))
    return any(row["contact_id"] == str(w.contact_id) for row in rows)


def _to(url: str) -> Call:
    return lambda w: (url.format(w=w), None)


# ------------------------------------------------------------------ the expectations

API_RULES: dict[Route, Rule] = {
    ("GET", "/api/v1/operators/me"): Rule(
        None, operator=True, api_key=False, call=_to("/api/v1/operators/me")
    ),
    ("PATCH", "/api/v1/operators/me"): Rule(
        None,
        operator=True,
        api_key=False,
        call=lambda w: ("/api/v1/operators/me", {"language": "ru"}),
    ),
    ("GET", "/api/v1/operators"): Rule(
        scopes.OPERATORS_READ, operator=True, call=_to("/api/v1/operators")
    ),
    ("POST", "/api/v1/operators"): Rule(
        scopes.OPERATORS_WRITE,
        operator=False,
        ok=201,
        call=lambda w: (
            "/api/v1/operators",
            {"email": f"new{w.unique()}@example.com", "name": "New", "password": "ochre-82-jy"},
        ),
    ),
    ("PATCH", "/api/v1/operators/{operator_id}"): Rule(
        scopes.OPERATORS_WRITE,
        operator=False,
        call=lambda w: (f"/api/v1/operators/{w.other_operator_id}", {"name": "Renamed"}),
    ),
    ("GET", "/api/v1/teams"): Rule(scopes.OPERATORS_READ, operator=True, call=_to("/api/v1/teams")),
    ("POST", "/api/v1/ws-ticket"): Rule(
        None, operator=True, api_key=False, ok=201, call=_to("/api/v1/ws-ticket")
    ),
    ("POST", "/api/v1/teams"): Rule(
        scopes.OPERATORS_WRITE,
        operator=False,
        ok=201,
        call=lambda w: ("/api/v1/teams", {"name": f"team-{w.unique()}"}),
    ),
    ("GET", "/api/v1/api-keys"): Rule(
        scopes.API_KEYS_WRITE, operator=False, call=_to("/api/v1/api-keys")
    ),
    ("POST", "/api/v1/api-keys"): Rule(
        scopes.API_KEYS_WRITE,
        operator=False,
        ok=201,
        call=lambda w: ("/api/v1/api-keys", {"name": "k", "scopes": [scopes.CONTACTS_READ]}),
    ),
    ("DELETE", "/api/v1/api-keys/{key_id}"): Rule(
        scopes.API_KEYS_WRITE, operator=False, call=_to("/api/v1/api-keys/{w.victim_key_id}")
    ),
    ("GET", "/api/v1/audit-log"): Rule(
        scopes.AUDIT_READ, operator=False, call=_to("/api/v1/audit-log")
    ),
    ("GET", "/api/v1/channels"): Rule(
        scopes.CHANNELS_READ,
        operator=True,
        call=_to("/api/v1/channels"),
        reveals=_lists("id", lambda w: w.channel_a_id),
    ),
    ("GET", "/api/v1/channel-types"): Rule(
        scopes.CHANNELS_READ, operator=True, call=_to("/api/v1/channel-types")
    ),
    ("POST", "/api/v1/channels"): Rule(
        scopes.CHANNELS_WRITE,
        operator=False,
        ok=201,
        call=lambda w: ("/api/v1/channels", {"type": "webchat", "name": f"c{w.unique()}"}),
    ),
    ("GET", "/api/v1/channels/{channel_id}"): Rule(
        scopes.CHANNELS_READ,
        operator=True,
        outsider=NOT_YOUR_TEAM,
        call=_to("/api/v1/channels/{w.channel_a_id}"),
    ),
    ("PATCH", "/api/v1/channels/{channel_id}"): Rule(
        scopes.CHANNELS_WRITE,
        operator=False,
        call=lambda w: (f"/api/v1/channels/{w.channel_b_id}", {"name": "Renamed"}),
    ),
    # A channel nobody has: every caller allowed past authorization gets the 404 (deleting
    # the world's channel would leave the next allowed caller a 404 for another reason).
    ("DELETE", "/api/v1/channels/{channel_id}"): Rule(
        scopes.CHANNELS_WRITE, operator=False, ok=404, call=_to("/api/v1/channels/987654321")
    ),
    ("GET", "/api/v1/conversations"): Rule(
        scopes.CONVERSATIONS_READ,
        operator=True,
        call=_to("/api/v1/conversations"),
        reveals=_lists("id", lambda w: w.conversation_id),
    ),
    # Tab counts: the operator's count holds Sales' waiting conversation, the outsider's not.
    ("GET", "/api/v1/conversations/counts"): Rule(
        scopes.CONVERSATIONS_READ,
        operator=True,
        call=_to("/api/v1/conversations/counts"),
        reveals=lambda w, r: r.json()["queue"] > 0,
    ),
    # Saved views: the caller's own (an API key is no operator).
    ("GET", "/api/v1/saved-views"): Rule(
        None, operator=True, api_key=False, call=_to("/api/v1/saved-views")
    ),
    ("POST", "/api/v1/saved-views"): Rule(
        None,
        operator=True,
        api_key=False,
        ok=201,
        call=lambda w: ("/api/v1/saved-views", {"name": f"v{w.unique()}", "filters": {}}),
    ),
    ("PATCH", "/api/v1/saved-views/{view_id}"): Rule(
        None,
        operator=True,
        api_key=False,
        ok=404,
        call=lambda w: ("/api/v1/saved-views/999999999", {"name": "x"}),
    ),
    ("DELETE", "/api/v1/saved-views/{view_id}"): Rule(
        None, operator=True, api_key=False, ok=404, call=_to("/api/v1/saved-views/999999999")
    ),
    ("GET", "/api/v1/conversations/{conversation_id}"): Rule(
        scopes.CONVERSATIONS_READ,
        operator=True,
        outsider=NOT_YOURS,
        call=_to("/api/v1/conversations/{w.conversation_id}"),
    ),
    ("GET", "/api/v1/conversations/{conversation_id}/messages"): Rule(
        scopes.CONVERSATIONS_READ,
        operator=True,
        outsider=NOT_YOURS,
        call=_to("/api/v1/conversations/{w.conversation_id}/messages"),
    ),
    ("POST", "/api/v1/conversations/{conversation_id}/messages"): Rule(
        scopes.CONVERSATIONS_WRITE,
        operator=True,
        outsider=NOT_YOURS,
        ok=201,
        call=lambda w: (
            f"/api/v1/conversations/{w.conversation_id}/messages",
            {"text": "A reply", "client_message_id": f"r{w.unique()}"},
        ),
    ),
    ("POST", "/api/v1/conversations/{conversation_id}/assign"): Rule(
        scopes.CONVERSATIONS_WRITE,
        operator=True,
        outsider=NOT_YOURS,
        call=lambda w: (
            f"/api/v1/conversations/{w.conversation_id}/assign",
            {"assignee_id": None},
        ),
    ),
    ("POST", "/api/v1/conversations/{conversation_id}/status"): Rule(
        scopes.CONVERSATIONS_WRITE,
        operator=True,
        outsider=NOT_YOURS,
        call=lambda w: (f"/api/v1/conversations/{w.conversation_id}/status", {"status": "open"}),
    ),
    ("POST", "/api/v1/conversations/{conversation_id}/read"): Rule(
        scopes.CONVERSATIONS_WRITE,
        operator=True,
        outsider=NOT_YOURS,
        call=lambda w: (f"/api/v1/conversations/{w.conversation_id}/read", None),
    ),
    ("GET", "/api/v1/teams/{team_id}/routing"): Rule(
        scopes.OPERATORS_READ,
        operator=True,
        outsider=NOT_YOUR_TEAM,
        call=_to("/api/v1/teams/{w.team_id}/routing"),
    ),
    ("PATCH", "/api/v1/teams/{team_id}"): Rule(
        scopes.OPERATORS_WRITE,
        operator=False,
        call=lambda w: (f"/api/v1/teams/{w.team_id}", {"response_target_seconds": 120}),
    ),
    ("GET", "/api/v1/teams/{team_id}/business-hours"): Rule(
        scopes.OPERATORS_READ,
        operator=True,
        outsider=NOT_YOUR_TEAM,
        call=_to("/api/v1/teams/{w.team_id}/business-hours"),
    ),
    ("PUT", "/api/v1/teams/{team_id}/business-hours"): Rule(
        scopes.OPERATORS_WRITE,
        operator=False,
        call=lambda w: (
            f"/api/v1/teams/{w.team_id}/business-hours",
            {"enabled": False, "timezone": "UTC"},
        ),
    ),
    ("GET", "/api/v1/channels/{channel_id}/auto-replies"): Rule(
        scopes.CHANNELS_READ,
        operator=True,
        outsider=NOT_YOUR_TEAM,
        call=_to("/api/v1/channels/{w.channel_a_id}/auto-replies"),
    ),
    ("PUT", "/api/v1/channels/{channel_id}/auto-replies"): Rule(
        scopes.CHANNELS_WRITE,
        operator=False,
        call=lambda w: (f"/api/v1/channels/{w.channel_b_id}/auto-replies", {}),
    ),
    ("PUT", "/api/v1/operators/{operator_id}/channels"): Rule(
        scopes.OPERATORS_WRITE,
        operator=False,
        call=lambda w: (f"/api/v1/operators/{w.other_operator_id}/channels", {"channel_ids": []}),
    ),
    # Presence is a person's own (admins may set anyone's): never an API key.
    ("POST", "/api/v1/operators/{operator_id}/presence"): Rule(
        scopes.CONVERSATIONS_WRITE,
        operator=True,
        outsider="not_yourself",
        api_key=False,
        call=lambda w: (f"/api/v1/operators/{w.operator_id}/presence", {"presence": "away"}),
    ),
    ("GET", "/api/v1/routing/queue"): Rule(
        scopes.CONVERSATIONS_READ,
        operator=True,
        call=_to("/api/v1/routing/queue"),
        reveals=_lists("conversation_id", lambda w: w.conversation_id),
    ),
    ("GET", "/api/v1/routing/load"): Rule(
        scopes.OPERATORS_READ, operator=True, call=_to("/api/v1/routing/load")
    ),
    ("POST", "/api/v1/messages"): Rule(
        scopes.MESSAGES_WRITE,
        operator=True,
        outsider=NOT_YOURS,
        ok=201,
        call=lambda w: (
            "/api/v1/messages",
            {
                "idempotency_key": f"i{w.unique()}",
                "text": "Your order shipped",
                "conversation_id": w.conversation_id,
            },
        ),
    ),
    # A web chat message has no attachments: an allowed caller gets past the checks to 404.
    ("GET", "/api/v1/messages/{message_id}/attachments/{index}"): Rule(
        scopes.CONVERSATIONS_READ,
        operator=True,
        outsider=NOT_YOURS,
        ok=404,
        call=_to("/api/v1/messages/{w.message_id}/attachments/0"),
    ),
    # Uploads: an allowed caller sending no file gets past the checks to 422; a download
    # of an upload nobody made, to 404 (tests/attachments covers who sees a real one).
    ("POST", "/api/v1/attachments"): Rule(
        scopes.MESSAGES_WRITE, operator=True, ok=422, call=_to("/api/v1/attachments")
    ),
    ("GET", "/api/v1/attachments/{attachment_id}"): Rule(
        scopes.CONVERSATIONS_READ, operator=True, ok=404, call=_to("/api/v1/attachments/none")
    ),
    ("GET", "/api/v1/contacts"): Rule(
        scopes.CONTACTS_READ,
        operator=True,
        call=_to("/api/v1/contacts"),
        reveals=_lists("id", lambda w: w.contact_id),
    ),
    ("GET", "/api/v1/contacts/{contact_id}"): Rule(
        scopes.CONTACTS_READ,
        operator=True,
        outsider=NOT_YOUR_CONTACT,
        call=_to("/api/v1/contacts/{w.contact_id}"),
    ),
    ("GET", "/api/v1/touchpoints"): Rule(
        scopes.TOUCHPOINTS_READ,
        operator=True,
        call=_to("/api/v1/touchpoints?conversation_id={w.conversation_id}"),
        reveals=_lists("conversation_id", lambda w: w.conversation_id),
    ),
    ("PATCH", "/api/v1/contacts/{contact_id}"): Rule(
        scopes.CONTACTS_WRITE,
        operator=True,
        outsider=NOT_YOUR_CONTACT,
        call=lambda w: (f"/api/v1/contacts/{w.contact_id}", {"category": "B"}),
    ),
    # Ends the contact's widget sessions (a shop's backend may call it when its user signs
    # out). It revokes the world's visitor: the matrix only uses that token as a bad one.
    ("POST", "/api/v1/contacts/{contact_id}/revoke-widget-sessions"): Rule(
        scopes.CONTACTS_WRITE,
        operator=True,
        outsider=NOT_YOUR_CONTACT,
        ok=204,
        call=_to("/api/v1/contacts/{w.contact_id}/revoke-widget-sessions"),
    ),
    ("GET", "/api/v1/contacts/{contact_id}/timeline"): Rule(
        scopes.TOUCHPOINTS_READ,
        operator=True,
        outsider=NOT_YOUR_CONTACT,
        call=_to("/api/v1/contacts/{w.contact_id}/timeline"),
    ),
    ("GET", "/api/v1/categories"): Rule(
        scopes.CONTACTS_READ, operator=True, call=_to("/api/v1/categories")
    ),
    ("GET", "/api/v1/labels"): Rule(
        scopes.CONVERSATIONS_READ, operator=True, call=_to("/api/v1/labels")
    ),
    ("POST", "/api/v1/labels"): Rule(
        scopes.OPERATORS_WRITE,
        operator=False,
        ok=201,
        call=lambda w: ("/api/v1/labels", {"name": f"label-{w.unique()}"}),
    ),
    ("PATCH", "/api/v1/labels/{label_id}"): Rule(
        scopes.OPERATORS_WRITE,
        operator=False,
        ok=404,
        call=lambda w: ("/api/v1/labels/999999999", {"colour": "#000000"}),
    ),
    ("DELETE", "/api/v1/labels/{label_id}"): Rule(
        scopes.OPERATORS_WRITE, operator=False, ok=404, call=_to("/api/v1/labels/999999999")
    ),
    ("GET", "/api/v1/canned-responses"): Rule(
        scopes.CONVERSATIONS_READ, operator=True, call=_to("/api/v1/canned-responses")
    ),
    ("GET", "/api/v1/canned-responses/variables"): Rule(
        scopes.CONVERSATIONS_READ, operator=True, call=_to("/api/v1/canned-responses/variables")
    ),
    # A team's response: the team's members, admins and API keys create them.
    ("POST", "/api/v1/canned-responses"): Rule(
        scopes.CONVERSATIONS_WRITE,
        operator=True,
        outsider=NOT_YOUR_TEAM,
        ok=201,
        call=lambda w: (
            "/api/v1/canned-responses",
            {
                "scope": "team",
                "team_id": w.team_id,
                "short_code": f"c{w.unique()}",
                "content": "Hi",
            },
        ),
    ),
    ("GET", "/api/v1/canned-responses/{canned_id}"): Rule(
        scopes.CONVERSATIONS_READ,
        operator=True,
        ok=404,
        call=_to("/api/v1/canned-responses/999999999"),
    ),
    ("PATCH", "/api/v1/canned-responses/{canned_id}"): Rule(
        scopes.CONVERSATIONS_WRITE,
        operator=True,
        ok=404,
        call=lambda w: ("/api/v1/canned-responses/999999999", {"content": "x"}),
    ),
    ("DELETE", "/api/v1/canned-responses/{canned_id}"): Rule(
        scopes.CONVERSATIONS_WRITE,
        operator=True,
        ok=404,
        call=_to("/api/v1/canned-responses/999999999"),
    ),
    ("POST", "/api/v1/canned-responses/{canned_id}/render"): Rule(
        scopes.CONVERSATIONS_READ,
        operator=True,
        ok=404,
        call=lambda w: (
            "/api/v1/canned-responses/999999999/render",
            {"conversation_id": w.conversation_id},
        ),
    ),
    # Automation rules: admins (and API keys that may change operators' settings).
    ("GET", "/api/v1/automation-rules"): Rule(
        scopes.OPERATORS_WRITE, operator=False, call=_to("/api/v1/automation-rules")
    ),
    ("POST", "/api/v1/automation-rules"): Rule(
        scopes.OPERATORS_WRITE,
        operator=False,
        ok=201,
        call=lambda w: (
            "/api/v1/automation-rules",
            {
                "name": f"rule-{w.unique()}",
                "active": False,
                "trigger": {"type": "conversation.created"},
                "actions": [{"type": "add_note", "text": "x"}],
            },
        ),
    ),
    ("PUT", "/api/v1/automation-rules/order"): Rule(
        scopes.OPERATORS_WRITE,
        operator=False,
        ok=422,  # the allowed caller is told the list is incomplete
        call=lambda w: ("/api/v1/automation-rules/order", {"rule_ids": [999999999]}),
    ),
    ("GET", "/api/v1/automation-rules/{rule_id}"): Rule(
        scopes.OPERATORS_WRITE,
        operator=False,
        ok=404,
        call=_to("/api/v1/automation-rules/999999999"),
    ),
    ("PATCH", "/api/v1/automation-rules/{rule_id}"): Rule(
        scopes.OPERATORS_WRITE,
        operator=False,
        ok=404,
        call=lambda w: ("/api/v1/automation-rules/999999999", {"active": False}),
    ),
    ("DELETE", "/api/v1/automation-rules/{rule_id}"): Rule(
        scopes.OPERATORS_WRITE,
        operator=False,
        ok=404,
        call=_to("/api/v1/automation-rules/999999999"),
    ),
    ("POST", "/api/v1/automation-rules/{rule_id}/dry-run"): Rule(
        scopes.OPERATORS_WRITE,
        operator=False,
        ok=404,
        call=lambda w: (
            "/api/v1/automation-rules/999999999/dry-run",
            {"type": "message.created", "conversation_id": w.conversation_id},
        ),
    ),
    # Macros: an operator's own and the shared ones (never an API key's).
    ("GET", "/api/v1/macros"): Rule(None, operator=True, api_key=False, call=_to("/api/v1/macros")),
    ("POST", "/api/v1/macros"): Rule(
        None,
        operator=True,
        api_key=False,
        ok=201,
        call=lambda w: ("/api/v1/macros", {"name": "m", "actions": [{"type": "resolve"}]}),
    ),
    ("PATCH", "/api/v1/macros/{macro_id}"): Rule(
        None,
        operator=True,
        api_key=False,
        ok=404,
        call=lambda w: ("/api/v1/macros/999999999", {"name": "n"}),
    ),
    ("DELETE", "/api/v1/macros/{macro_id}"): Rule(
        None, operator=True, api_key=False, ok=404, call=_to("/api/v1/macros/999999999")
    ),
    ("POST", "/api/v1/conversations/{conversation_id}/macros/{macro_id}/run"): Rule(
        scopes.CONVERSATIONS_WRITE,
        operator=True,
        api_key=False,
        outsider=NOT_YOURS,
        ok=404,  # the conversation is checked first, then the (missing) macro
        call=_to("/api/v1/conversations/{w.conversation_id}/macros/999999999/run"),
    ),
    ("GET", "/api/v1/conversations/{conversation_id}/labels"): Rule(
        scopes.CONVERSATIONS_READ,
        operator=True,
        outsider=NOT_YOURS,
        call=_to("/api/v1/conversations/{w.conversation_id}/labels"),
    ),
    ("POST", "/api/v1/conversations/{conversation_id}/labels"): Rule(
        scopes.CONVERSATIONS_WRITE,
        operator=True,
        outsider=NOT_YOURS,
        call=lambda w: (f"/api/v1/conversations/{w.conversation_id}/labels", {"labels": []}),
    ),
    ("GET", "/api/v1/contacts/{contact_id}/labels"): Rule(
        scopes.CONTACTS_READ,
        operator=True,
        outsider=NOT_YOUR_CONTACT,
        call=_to("/api/v1/contacts/{w.contact_id}/labels"),
    ),
    ("POST", "/api/v1/contacts/{contact_id}/labels"): Rule(
        scopes.CONTACTS_WRITE,
        operator=True,
        outsider=NOT_YOUR_CONTACT,
        call=lambda w: (f"/api/v1/contacts/{w.contact_id}/labels", {"labels": []}),
    ),
    ("PUT", "/api/v1/categories/{code}"): Rule(
        scopes.OPERATORS_WRITE,
        operator=False,
        call=lambda w: (
            f"/api/v1/categories/K{w.unique()}",
            {"name": "k", "position": 9, "cadence_days": 5},
        ),
    ),
    ("DELETE", "/api/v1/categories/{code}"): Rule(
        scopes.OPERATORS_WRITE, operator=False, ok=404, call=_to("/api/v1/categories/NOPE")
    ),
    # An API key must name whose plan it reads (operator_id).
    ("GET", "/api/v1/cadence"): Rule(
        scopes.CONTACTS_READ,
        operator=True,
        outsider="not_yourself",
        call=lambda w: (f"/api/v1/cadence?operator_id={w.operator_id}", None),
    ),
    ("POST", "/api/v1/touchpoints"): Rule(
        scopes.TOUCHPOINTS_WRITE,
        operator=True,
        outsider=NOT_YOUR_CONTACT,
        ok=201,
        call=lambda w: ("/api/v1/touchpoints", {"contact_id": w.contact_id, "kind": "call"}),
    ),
    ("PATCH", "/api/v1/touchpoints/{touchpoint_id}"): Rule(
        scopes.TOUCHPOINTS_WRITE,
        operator=True,
        outsider=NOT_YOUR_CONTACT,
        call=lambda w: (f"/api/v1/touchpoints/{w.touchpoint_id}", {"reaction": "neutral"}),
    ),
    ("GET", "/api/v1/channels/{channel_id}/templates"): Rule(
        scopes.CHANNELS_READ,
        operator=True,
        outsider=NOT_YOUR_TEAM,
        call=_to("/api/v1/channels/{w.channel_a_id}/templates"),
    ),
    ("PUT", "/api/v1/channels/{channel_id}/templates"): Rule(
        scopes.CHANNELS_WRITE,
        operator=False,
        call=lambda w: (f"/api/v1/channels/{w.channel_b_id}/templates", {"templates": []}),
        ok=422,  # templates are a WhatsApp feature; the caller got past the checks
    ),
    ("GET", "/api/v1/touchpoints/export.csv"): Rule(
        scopes.TOUCHPOINTS_READ,
        operator=True,
        call=_to("/api/v1/touchpoints/export.csv"),
        reveals=_csv_has_contact,
    ),
    # Sales analytics: every report reads the touchpoint log. A team's figures are for its
    # lead (the world's operator leads Sales) and admins.
    ("GET", "/api/v1/analytics/touches-per-client"): Rule(
        scopes.TOUCHPOINTS_READ,
        operator=True,
        outsider=NOT_LEAD,
        call=_to("/api/v1/analytics/touches-per-client?team_id={w.team_id}"),
    ),
    ("GET", "/api/v1/analytics/conversion-by-touch"): Rule(
        scopes.TOUCHPOINTS_READ,
        operator=True,
        outsider=NOT_LEAD,
        call=_to("/api/v1/analytics/conversion-by-touch?team_id={w.team_id}"),
    ),
    ("GET", "/api/v1/analytics/dropped-leads"): Rule(
        scopes.TOUCHPOINTS_READ,
        operator=True,
        outsider=NOT_LEAD,
        call=_to("/api/v1/analytics/dropped-leads?team_id={w.team_id}"),
    ),
    ("GET", "/api/v1/analytics/rates"): Rule(
        scopes.TOUCHPOINTS_READ,
        operator=True,
        outsider=NOT_LEAD,
        call=_to("/api/v1/analytics/rates?team_id={w.team_id}"),
    ),
    ("GET", "/api/v1/analytics/response-times"): Rule(
        scopes.TOUCHPOINTS_READ,
        operator=True,
        outsider=NOT_LEAD,
        call=_to("/api/v1/analytics/response-times?team_id={w.team_id}"),
    ),
    ("GET", "/api/v1/analytics/reactions"): Rule(
        scopes.TOUCHPOINTS_READ,
        operator=True,
        outsider=NOT_LEAD,
        call=_to("/api/v1/analytics/reactions?team_id={w.team_id}"),
    ),
    ("GET", "/api/v1/analytics/inbound-load"): Rule(
        scopes.TOUCHPOINTS_READ,
        operator=True,
        outsider=NOT_LEAD,
        call=_to("/api/v1/analytics/inbound-load?team_id={w.team_id}"),
    ),
    # The head of sales' reports (app/sales): the same scope and team rule as the above.
    ("GET", "/api/v1/analytics/quotas"): Rule(
        scopes.TOUCHPOINTS_READ,
        operator=True,
        outsider=NOT_LEAD,
        call=_to("/api/v1/analytics/quotas?team_id={w.team_id}"),
    ),
    ("GET", "/api/v1/analytics/weekly-plan"): Rule(
        scopes.TOUCHPOINTS_READ,
        operator=True,
        outsider=NOT_LEAD,
        call=_to("/api/v1/analytics/weekly-plan?team_id={w.team_id}"),
    ),
    ("GET", "/api/v1/analytics/rule-of-seven"): Rule(
        scopes.TOUCHPOINTS_READ,
        operator=True,
        outsider=NOT_LEAD,
        call=_to("/api/v1/analytics/rule-of-seven?team_id={w.team_id}"),
    ),
    ("GET", "/api/v1/analytics/base-health"): Rule(
        scopes.TOUCHPOINTS_READ,
        operator=True,
        outsider=NOT_LEAD,
        call=_to("/api/v1/analytics/base-health?team_id={w.team_id}"),
    ),
    ("GET", "/api/v1/analytics/base-review"): Rule(
        scopes.TOUCHPOINTS_READ,
        operator=True,
        outsider=NOT_LEAD,
        call=_to("/api/v1/analytics/base-review?team_id={w.team_id}"),
    ),
    ("GET", "/api/v1/analytics/kpis"): Rule(
        scopes.TOUCHPOINTS_READ,
        operator=True,
        outsider=NOT_LEAD,
        call=_to("/api/v1/analytics/kpis?team_id={w.team_id}"),
    ),
    ("GET", "/api/v1/analytics/export/{report}.{fmt}"): Rule(
        scopes.TOUCHPOINTS_READ,
        operator=True,
        outsider=NOT_LEAD,
        call=_to("/api/v1/analytics/export/kpis.csv?team_id={w.team_id}"),
    ),
    # A review decision on a client the caller sees. The world's client is in nobody's base,
    # so an allowed caller gets past the visibility check to 422 not_in_a_base.
    ("POST", "/api/v1/analytics/base-review"): Rule(
        scopes.CONTACTS_WRITE,
        operator=True,
        outsider=NOT_YOUR_CONTACT,
        ok=422,
        call=lambda w: (
            "/api/v1/analytics/base-review",
            {"contact_id": w.contact_id, "decision": "keep"},
        ),
    ),
    ("GET", "/api/v1/priority-levels"): Rule(
        scopes.CONTACTS_READ, operator=True, call=_to("/api/v1/priority-levels")
    ),
    ("PATCH", "/api/v1/priority-levels/{level}"): Rule(
        scopes.OPERATORS_WRITE,
        operator=False,
        call=lambda w: ("/api/v1/priority-levels/1", {"calls": 2}),
    ),
    ("GET", "/api/v1/sales-settings"): Rule(
        scopes.TOUCHPOINTS_READ, operator=True, call=_to("/api/v1/sales-settings")
    ),
    ("PATCH", "/api/v1/sales-settings"): Rule(
        scopes.OPERATORS_WRITE,
        operator=False,
        call=lambda w: ("/api/v1/sales-settings", {"contacts_per_deal": 12}),
    ),
    # A manager's weekly target: admins, integrations, and the manager's team lead (the
    # world's operator leads Sales, whose member the other operator is).
    ("PUT", "/api/v1/sales-targets/{operator_id}"): Rule(
        scopes.CONTACTS_WRITE,
        operator=True,
        outsider=NOT_LEAD,
        call=lambda w: (f"/api/v1/sales-targets/{w.other_operator_id}", {"deals_per_week": 3}),
    ),
    # Search: a list, scoped like the conversations it finds.
    ("GET", "/api/v1/search"): Rule(
        scopes.CONVERSATIONS_READ,
        operator=True,
        call=_to("/api/v1/search?q=Hello&type=messages"),
        reveals=lambda w, r: any(m["id"] == w.message_id for m in r.json()["messages"]["items"]),
    ),
    # Useful messages on cadence: installation-wide templates, admins only.
    ("GET", "/api/v1/cadence-messages"): Rule(
        scopes.OPERATORS_WRITE, operator=False, call=_to("/api/v1/cadence-messages")
    ),
    ("POST", "/api/v1/cadence-messages"): Rule(
        scopes.OPERATORS_WRITE,
        operator=False,
        ok=201,
        call=lambda w: (
            "/api/v1/cadence-messages",
            {"category": "C", "language": f"l{w.unique()}", "text": "Hello, {first_name}"},
        ),
    ),
    ("PATCH", "/api/v1/cadence-messages/{template_id}"): Rule(
        scopes.OPERATORS_WRITE,
        operator=False,
        ok=404,  # no such template: the caller got past the checks
        call=lambda w: ("/api/v1/cadence-messages/999999", {"enabled": False}),
    ),
    ("DELETE", "/api/v1/cadence-messages/{template_id}"): Rule(
        scopes.OPERATORS_WRITE,
        operator=False,
        ok=404,  # no such template: the caller got past the checks
        call=_to("/api/v1/cadence-messages/999999"),
    ),
    # Delivery chains: shops write orders and events; operators read them.
    ("PUT", "/api/v1/orders/{external_id}"): Rule(
        scopes.ORDERS_WRITE,
        operator=False,
        ok=201,
        call=lambda w: (
            f"/api/v1/orders/new-{w.unique()}",
            {"client": {"contact_id": w.contact_id}},
        ),
    ),
    ("GET", "/api/v1/orders/{external_id}"): Rule(
        scopes.ORDERS_READ,
        operator=True,
        outsider=NOT_YOUR_CONTACT,
        call=_to("/api/v1/orders/{w.order}"),
    ),
    ("POST", "/api/v1/orders/{external_id}/events"): Rule(
        scopes.ORDERS_WRITE,
        operator=False,
        call=lambda w: (
            f"/api/v1/orders/{w.order}/events",
            {"event_id": f"e{w.unique()}", "status": "shipped"},
        ),
    ),
    ("GET", "/api/v1/chain-templates"): Rule(
        scopes.ORDERS_READ, operator=True, call=_to("/api/v1/chain-templates")
    ),
    ("PUT", "/api/v1/chain-templates/{status}/{language}"): Rule(
        scopes.ORDERS_WRITE,
        operator=False,
        call=lambda w: ("/api/v1/chain-templates/shipped/en", {"text": "Order {order} shipped"}),
    ),
    # Outgoing webhooks: admins (channels:write), like the channels they integrate.
    ("GET", "/api/v1/webhooks"): Rule(
        scopes.CHANNELS_WRITE, operator=False, call=_to("/api/v1/webhooks")
    ),
    ("GET", "/api/v1/webhooks/events"): Rule(
        scopes.CHANNELS_WRITE, operator=False, call=_to("/api/v1/webhooks/events")
    ),
    ("POST", "/api/v1/webhooks"): Rule(
        scopes.CHANNELS_WRITE,
        operator=False,
        ok=201,
        call=lambda w: (
            "/api/v1/webhooks",
            {"url": "https://crm.example/hook", "events": ["message.created"]},
        ),
    ),
    ("GET", "/api/v1/webhooks/{webhook_id}"): Rule(
        scopes.CHANNELS_WRITE, operator=False, ok=404, call=_to("/api/v1/webhooks/987654321")
    ),
    ("PATCH", "/api/v1/webhooks/{webhook_id}"): Rule(
        scopes.CHANNELS_WRITE,
        operator=False,
        ok=404,
        call=lambda w: ("/api/v1/webhooks/987654321", {"is_active": False}),
    ),
    ("DELETE", "/api/v1/webhooks/{webhook_id}"): Rule(
        scopes.CHANNELS_WRITE, operator=False, ok=404, call=_to("/api/v1/webhooks/987654321")
    ),
    ("POST", "/api/v1/webhooks/{webhook_id}/rotate-secret"): Rule(
        scopes.CHANNELS_WRITE,
        operator=False,
        ok=404,
        call=lambda w: ("/api/v1/webhooks/987654321/rotate-secret", {}),
    ),
    ("GET", "/api/v1/webhooks/{webhook_id}/deliveries"): Rule(
        scopes.CHANNELS_WRITE,
        operator=False,
        ok=404,
        call=_to("/api/v1/webhooks/987654321/deliveries"),
    ),
    ("POST", "/api/v1/webhooks/{webhook_id}/deliveries/{delivery_id}/redeliver"): Rule(
        scopes.CHANNELS_WRITE,
        operator=False,
        ok=404,
        call=lambda w: ("/api/v1/webhooks/987654321/deliveries/1/redeliver", {}),
    ),
    # Agent bots: admins (channels:write), like webhooks.
    ("GET", "/api/v1/agent-bots"): Rule(
        scopes.CHANNELS_WRITE, operator=False, call=_to("/api/v1/agent-bots")
    ),
    ("POST", "/api/v1/agent-bots"): Rule(
        scopes.CHANNELS_WRITE,
        operator=False,
        ok=201,
        call=lambda w: ("/api/v1/agent-bots", {"name": "b", "url": "https://bot.example/h"}),
    ),
    ("GET", "/api/v1/agent-bots/{bot_id}"): Rule(
        scopes.CHANNELS_WRITE, operator=False, ok=404, call=_to("/api/v1/agent-bots/987654321")
    ),
    ("PATCH", "/api/v1/agent-bots/{bot_id}"): Rule(
        scopes.CHANNELS_WRITE,
        operator=False,
        ok=404,
        call=lambda w: ("/api/v1/agent-bots/987654321", {"is_active": False}),
    ),
    ("DELETE", "/api/v1/agent-bots/{bot_id}"): Rule(
        scopes.CHANNELS_WRITE, operator=False, ok=404, call=_to("/api/v1/agent-bots/987654321")
    ),
    ("POST", "/api/v1/agent-bots/{bot_id}/rotate-token"): Rule(
        scopes.CHANNELS_WRITE,
        operator=False,
        ok=404,
        call=lambda w: ("/api/v1/agent-bots/987654321/rotate-token", {}),
    ),
    # The handoff: whoever may change the conversation (and its bot, with its token: the
    # world's conversation is with no bot, so nothing is done).
    ("POST", "/api/v1/conversations/{conversation_id}/handoff"): Rule(
        scopes.CONVERSATIONS_WRITE,
        operator=True,
        outsider=NOT_YOURS,
        call=lambda w: (f"/api/v1/conversations/{w.conversation_id}/handoff", {}),
    ),
}

# Routes an operator may call that hold no team's object: installation-wide directories and
# settings, and the caller's own things. Every other route an operator may call names the
# 403 another team's operator gets (Rule.outsider) or is a list checked with Rule.reveals.
NO_TEAM_OBJECT: dict[Route, str] = {
    ("GET", "/api/v1/operators/me"): "the caller themselves",
    ("PATCH", "/api/v1/operators/me"): "the caller's own preferences",
    ("GET", "/api/v1/operators"): "the directory of colleagues",
    ("GET", "/api/v1/teams"): "the directory of teams and their members",
    ("GET", "/api/v1/routing/load"): "every manager's presence and load, for hand-overs",
    ("GET", "/api/v1/categories"): "installation-wide client categories",
    ("GET", "/api/v1/labels"): "the installation-wide label catalogue",
    # Saved views: the caller's own; another's is 404 (tests/inbox/test_views_and_snooze.py).
    ("GET", "/api/v1/saved-views"): "the caller's own saved views",
    ("POST", "/api/v1/saved-views"): "a saved view of the caller's own",
    ("PATCH", "/api/v1/saved-views/{view_id}"): "the caller's own, 404 for anyone else's",
    ("DELETE", "/api/v1/saved-views/{view_id}"): "the caller's own, 404 for anyone else's",
    # Canned responses: the caller's own, their teams' and the shared ones; one the caller
    # does not see is 404 as if it did not exist, and rendering needs the conversation too:
    # tests/canned/test_canned.py walks personal, team and shared across teams.
    ("GET", "/api/v1/canned-responses"): "the caller's own, their teams' and shared texts",
    ("GET", "/api/v1/canned-responses/variables"): "the list of variables",
    ("GET", "/api/v1/canned-responses/{canned_id}"): "a canned response, 404 unless visible",
    ("PATCH", "/api/v1/canned-responses/{canned_id}"): "a canned response, 404 unless visible",
    ("DELETE", "/api/v1/canned-responses/{canned_id}"): "a canned response, 404 unless visible",
    ("POST", "/api/v1/canned-responses/{canned_id}/render"): "404 unless visible (see above)",
    # Macros: the caller's own and the shared ones; someone else's personal macro is 404
    # (tests/automation/test_macros.py).
    ("GET", "/api/v1/macros"): "the caller's own and the shared macros",
    ("POST", "/api/v1/macros"): "a macro of the caller's own",
    ("PATCH", "/api/v1/macros/{macro_id}"): "a macro, 404 unless the caller's or shared",
    ("DELETE", "/api/v1/macros/{macro_id}"): "a macro, 404 unless the caller's or shared",
    ("GET", "/api/v1/channel-types"): "the installation's channel types",
    ("GET", "/api/v1/chain-templates"): "installation-wide notification texts",
    ("GET", "/api/v1/priority-levels"): "installation-wide priority levels and their quotas",
    ("GET", "/api/v1/sales-settings"): "installation-wide measures the sales reports use",
    ("POST", "/api/v1/ws-ticket"): "a ticket for the caller's own socket",
    ("POST", "/api/v1/attachments"): "the caller's own upload",
    # An upload is seen by its uploader and by whoever sees a conversation that carries it,
    # anyone else gets 404 as if it did not exist: tests/attachments/test_visibility_and_requests.py
    ("GET", "/api/v1/attachments/{attachment_id}"): "an upload, 404 unless visible (see above)",
}


# Anyone may call these; login checks its own credentials.
PUBLIC: set[Route] = {
    ("POST", "/api/v1/auth/login"),
    ("GET", "/healthz"),
    ("GET", "/readyz"),
    # The operator console, its reports, business-hours and webhooks pages and the widget:
    # static files, no secrets in them.
    ("GET", "/"),
    ("GET", "/reports"),
    ("GET", "/business-hours"),
    ("GET", "/webhooks"),
    ("GET", "/automation"),
    ("GET", "/console/{asset}"),
    ("GET", "/console/i18n/{domain}/{lang}.json"),
    ("GET", "/widget.js"),
    ("GET", "/widget/demo"),
}
# An agent bot's own calls: its token only (Authorization: Bearer ccbot_...), its own
# conversations only (tests/bots/). No person's credentials open them:
# test_bot_routes_refuse_people_and_keys.
BOT_TOKEN: set[Route] = {
    ("GET", "/api/v1/agent-bot/conversations/{conversation_id}/messages"),
    ("POST", "/api/v1/agent-bot/conversations/{conversation_id}/messages"),
}
# Prometheus metrics: only with CHATCENTRE_METRICS_TOKEN (tests/observability).
METRICS: set[Route] = {("GET", "/metrics")}
# Logout revokes the caller's own tokens, so it cannot run in the shared matrix: checked by
# test_logout_revokes_only_the_callers_tokens below and in tests/security/.
SELF_SERVICE: set[Route] = {("POST", "/api/v1/auth/logout")}

# A concrete URL for a public route whose path has parameters.
PUBLIC_EXAMPLES: dict[Route, str] = {
    ("GET", "/console/{asset}"): "/console/app.js",
    ("GET", "/console/i18n/{domain}/{lang}.json"): "/console/i18n/console/ru.json",
}

# Provider webhooks authenticate the provider, not a user: Telegram's secret token header,
# WhatsApp's body signature (and verify token for the handshake), VK's secret in the body.
# Checked below: without them, a known channel answers 401/403 and stores nothing.
PROVIDER_WEBHOOKS: set[Route] = {
    ("POST", "/webhooks/telegram/{channel_id}"),
    ("POST", "/webhooks/vk/{channel_id}"),
    ("GET", "/webhooks/whatsapp/{channel_id}"),
    ("POST", "/webhooks/whatsapp/{channel_id}"),
}

# Public pages keyed by an unguessable token in the path (the order tracking page, a file's
# signed link): no credentials, and a wrong token is 404. Checked in
# test_public_pages_need_their_token and tests/attachments/.
PUBLIC_PAGES: set[Route] = {("GET", "/track/{token}"), ("GET", "/files/{token}")}

# The widget API: "public" needs nothing, "visitor" needs this widget's visitor token.
WIDGET_RULES: dict[Route, str] = {
    ("POST", "/widget/v1/{widget_key}/sessions"): "public",
    ("GET", "/widget/v1/{widget_key}/config"): "public",
    ("POST", "/widget/v1/{widget_key}/messages"): "visitor",
    ("GET", "/widget/v1/{widget_key}/messages"): "visitor",
    ("POST", "/widget/v1/{widget_key}/ws-ticket"): "visitor",
    ("POST", "/widget/v1/{widget_key}/attachments"): "visitor",
}

SOCKET_RULES: dict[Route, str] = {
    ("WS", "/api/v1/ws"): "operator",
    ("WS", "/widget/v1/{widget_key}/ws"): "visitor",
}


# ------------------------------------------------------------------ helpers


def app_routes(app: FastAPI) -> list[Route]:
    """Every FastAPI route the app serves, as (method or "WS", path template)."""
    iter_contexts = getattr(routing, "iter_route_contexts", None)
    found: list[Route] = []
    for route in iter_contexts(app.routes) if iter_contexts else app.routes:
        original = getattr(route, "original_route", route)
        if isinstance(original, APIWebSocketRoute):
            found.append(("WS", route.path))
        elif isinstance(original, APIRoute):
            found.extend((method, route.path) for method in sorted(route.methods))
    return found


def error_of(r: httpx.Response, status: int, code: str | None = None) -> dict[str, Any]:
    assert r.status_code == status, f"{r.request.method} {r.request.url}: {r.status_code} {r.text}"
    body = r.json()
    assert set(body) == {"error"}, body
    err: dict[str, Any] = body["error"]
    assert isinstance(err.get("code"), str) and err["code"], body
    assert isinstance(err.get("message"), str) and err["message"], body
    if code is not None:
        assert err["code"] == code, body
    return err


def claims_of(token: str) -> dict[str, Any]:
    claims: dict[str, Any] = jwt.decode(token, options={"verify_signature": False})
    return claims


def reissue(token: str, key: str, ttl: int = 3600) -> str:
    """The same claims, signed with `key` and expiring `ttl` seconds from now."""
    claims = claims_of(token)
    kind, subject = claims.pop("typ"), claims.pop("sub")
    for name in ("iat", "exp"):
        claims.pop(name)
    return security.issue_token(key, kind, subject, ttl, **claims)


async def count(run: Running, table: str) -> int:
    async with run.ctx.sessions() as session:
        return int(await session.scalar(text(f"SELECT count(*) FROM {table}")) or 0)


async def operator_id(client: httpx.AsyncClient, token: str) -> int:
    r = await client.get("/api/v1/operators/me", headers=auth(token))
    assert r.status_code == 200, r.text
    return int(r.json()["id"])


async def new_api_key(client: httpx.AsyncClient, admin: str, key_scopes: list[str]) -> dict:
    r = await client.post(
        "/api/v1/api-keys", json={"name": "integration", "scopes": key_scopes}, headers=auth(admin)
    )
    assert r.status_code == 201, r.text
    data: dict[str, Any] = r.json()
    assert data["key"].startswith(security.API_KEY_PREFIX)
    return data


@dataclass
class World:
    run: Running
    admin: str
    operator: str  # in team Sales, like other_operator
    operator_id: int
    other_operator: str
    other_operator_id: int
    outsider: str  # an operator only of team Support
    outsider_id: int
    widget_a: str
    widget_b: str
    channel_a_id: int  # widget A: team Sales'
    channel_b_id: int  # widget B: no team
    visitor: str  # a visitor of widget A
    conversation_id: int  # the visitor's conversation, unassigned
    message_id: int  # the visitor's first message
    touchpoint_id: int  # that message's touchpoint
    contact_id: int
    victim_key_id: int
    team_id: int  # Sales: widget A's team, so the conversation's; the operator is its lead
    support_team_id: int
    order: str = "auth-order"  # an order of the visitor's, for the orders routes
    keys: dict[str | None, str] = field(default_factory=dict)
    keys_without: dict[str | None, str] = field(default_factory=dict)
    _counter: Iterator[int] = field(default_factory=itertools.count)

    def unique(self) -> int:
        return next(self._counter)

    async def key_with(self, scope: str | None) -> str:
        if scope not in self.keys:
            wanted = [scope] if scope else sorted(scopes.ALL_SCOPES)
            self.keys[scope] = (await new_api_key(self.run.client, self.admin, wanted))["key"]
        return self.keys[scope]

    async def key_without(self, scope: str | None) -> str:
        if scope not in self.keys_without:
            wanted = sorted(scopes.ALL_SCOPES - {scope})
            data = await new_api_key(self.run.client, self.admin, wanted)
            self.keys_without[scope] = data["key"]
        return self.keys_without[scope]


async def create_team(client: httpx.AsyncClient, admin: str, name: str, members: list[int]) -> int:
    r = await client.post(
        "/api/v1/teams", json={"name": name, "member_ids": members}, headers=auth(admin)
    )
    assert r.status_code == 201, r.text
    return int(r.json()["id"])


async def create_team_webchat(client: httpx.AsyncClient, admin: str, team_id: int) -> dict:
    r = await client.post(
        "/api/v1/channels",
        json={"type": "webchat", "name": "Team site", "team_id": team_id},
        headers=auth(admin),
    )
    assert r.status_code == 201, r.text
    data: dict[str, Any] = r.json()
    return data


async def make_world(run: Running) -> World:
    client = run.client
    admin = await run.admin_token()
    operator = await run.operator_token()
    other = await create_operator(run, "other@example.com", "operator")
    outsider = await create_operator(run, "outsider@example.com", "operator")
    operator_ids = [await operator_id(client, t) for t in (operator, other, outsider)]
    sales = await create_team(client, admin, "Sales", operator_ids[:2])
    support = await create_team(client, admin, "Support", operator_ids[2:])
    r = await client.patch(
        f"/api/v1/teams/{sales}", json={"lead_id": operator_ids[0]}, headers=auth(admin)
    )
    assert r.status_code == 200, r.text
    widget_a = await create_team_webchat(client, admin, sales)
    widget_b = await create_webchat(client, admin)
    visitor = (await visitor_session(client, widget_a["public_key"], name="Vera"))["visitor_token"]
    r = await visitor_post(client, widget_a["public_key"], visitor, "Hello", "hello-1")
    assert r.status_code == 201, r.text
    message = r.json()["message"]
    victim = await new_api_key(client, admin, [scopes.CONTACTS_READ])
    contact_id = int(claims_of(visitor)["sub"])
    order = await client.put(
        "/api/v1/orders/auth-order",
        json={"client": {"contact_id": contact_id}},
        headers=auth(admin),
    )
    assert order.status_code == 201, order.text
    async with run.ctx.sessions() as session:
        touchpoint_id = await session.scalar(
            text("SELECT id FROM touchpoints WHERE message_id = :m"), {"m": message["id"]}
        )
    assert touchpoint_id is not None
    return World(
        run=run,
        admin=admin,
        operator=operator,
        operator_id=operator_ids[0],
        other_operator=other,
        other_operator_id=operator_ids[1],
        outsider=outsider,
        outsider_id=operator_ids[2],
        widget_a=widget_a["public_key"],
        widget_b=widget_b["public_key"],
        channel_a_id=widget_a["id"],
        channel_b_id=widget_b["id"],
        visitor=visitor,
        conversation_id=message["conversation_id"],
        message_id=message["id"],
        touchpoint_id=touchpoint_id,
        contact_id=contact_id,
        victim_key_id=victim["id"],
        team_id=sales,
        support_team_id=support,
    )


@pytest.fixture
async def world(run: Running) -> World:
    return await make_world(run)


def expired_operator_token(run: Running, token: str) -> str:
    return reissue(token, run.ctx.signing_key, ttl=-60)


# ------------------------------------------------------------------ completeness


def test_every_route_has_a_rule(settings: Settings) -> None:
    routes = app_routes(create_app(settings))
    assert any(path.startswith("/api/v1/") for _, path in routes), routes
    assert any(path.startswith("/widget/v1/") for _, path in routes), routes
    tables = [
        set(API_RULES),
        PUBLIC,
        PROVIDER_WEBHOOKS,
        PUBLIC_PAGES,
        set(WIDGET_RULES),
        set(SOCKET_RULES),
        SELF_SERVICE,
        METRICS,
        BOT_TOKEN,
    ]
    missing = [r for r in routes if sum(r in t for t in tables) != 1]
    assert not missing, f"routes without exactly one authorization rule in this test: {missing}"
    stale = set().union(*tables) - set(routes)
    assert not stale, f"rules for routes the app no longer has: {stale}"
    widget_routes = {r for r in routes if r[1].startswith("/widget/v1/")}
    assert widget_routes <= set(WIDGET_RULES) | set(SOCKET_RULES)
    # Every route an operator may call says what another team's operator gets on it.
    unchecked = [
        route
        for route, rule in API_RULES.items()
        if rule.operator
        and sum((rule.outsider is not None, rule.reveals is not None, route in NO_TEAM_OBJECT)) != 1
    ]
    assert not unchecked, f"routes without exactly one team rule: {unchecked}"
    assert set(NO_TEAM_OBJECT) <= set(API_RULES)


# ------------------------------------------------------------------ the API matrix


async def test_api_authorization_matrix(world: World) -> None:
    client = world.run.client
    signing_key = world.run.ctx.signing_key
    revoked = await new_api_key(client, world.admin, sorted(scopes.ALL_SCOPES))
    r = await client.delete(f"/api/v1/api-keys/{revoked['id']}", headers=auth(world.admin))
    assert r.status_code == 200, r.text

    broken: dict[str, dict[str, str]] = {
        "anonymous": {},
        "garbage bearer": auth("not-a-token"),
        "basic auth": {"Authorization": "Basic YWRtaW5AZXhhbXBsZS5jb206cGFzc3dvcmQxMjM="},
        "forged admin token": auth(reissue(world.admin, OTHER_KEY)),
        "expired admin token": auth(expired_operator_token(world.run, world.admin)),
        "visitor token": auth(world.visitor),
        "malformed api key": {"X-Api-Key": "nope"},
        "unknown api key": {"X-Api-Key": f"{security.API_KEY_PREFIX}abcdef012345_secret"},
        "revoked api key": {"X-Api-Key": revoked["key"]},
    }
    assert signing_key != OTHER_KEY

    failures: list[str] = []
    checked = 0
    for route in app_routes(world.run.app):
        method, path = route
        if route in PUBLIC or route in SOCKET_RULES or route in SELF_SERVICE:
            continue
        if not path.startswith("/api/v1/") or route in BOT_TOKEN:
            continue
        rule = API_RULES[route]  # KeyError: a new endpoint needs a rule above
        checked += 1
        allowed: dict[str, dict[str, str]] = {"admin": auth(world.admin)}
        denied: dict[str, dict[str, str]] = {
            "api key without the scope": {"X-Api-Key": await world.key_without(rule.scope)}
        }
        (allowed if rule.operator else denied)["operator"] = auth(world.operator)
        (allowed if rule.operator and not rule.outsider else denied)["operator of another team"] = (
            auth(world.outsider)
        )
        (allowed if rule.api_key else denied)["api key with the scope"] = {
            "X-Api-Key": await world.key_with(rule.scope)
        }
        expectations = (
            [(who, h, 401) for who, h in broken.items()]
            + [(who, h, 403) for who, h in denied.items()]
            + [(who, h, rule.ok) for who, h in allowed.items()]
        )
        for who, headers, expected in expectations:
            url, body = rule.call(world)
            r = await client.request(method, url, json=body, headers=headers)
            where = f"{method} {path} as {who}: expected {expected}, got {r.status_code} {r.text}"
            if r.status_code != expected:
                failures.append(where)
                continue
            if rule.reveals is not None and expected == rule.ok:
                shown = rule.reveals(world, r)
                if who == "operator of another team" and shown:
                    failures.append(f"{where}: shows the other team's object")
                elif who in ("admin", "operator") and not shown:
                    failures.append(f"{where}: the probe finds nothing (a broken probe?)")
            if expected in (401, 403):
                code = None
                if who == "operator of another team" and rule.operator:
                    code = rule.outsider
                try:
                    error_of(r, expected, code)
                except AssertionError as exc:
                    failures.append(f"{where}: bad error body: {exc}")
            if who == "anonymous" and "bearer" not in r.headers.get("www-authenticate", "").lower():
                failures.append(f"{where}: no WWW-Authenticate: Bearer")
    assert checked == len(API_RULES)
    assert not failures, "\n".join(failures)


async def test_login_and_public_routes(run: Running) -> None:
    await run.admin_token()
    for body in (
        {"email": "admin@example.com", "password": "wrong-password"},
        {"email": "nobody@example.com", "password": "ochre-82-jy"},
    ):
        r = await run.client.post("/api/v1/auth/login", json=body)
        error_of(r, 401, "bad_credentials")
    for method, path in sorted(PUBLIC - {("POST", "/api/v1/auth/login")}):
        r = await run.client.request(method, PUBLIC_EXAMPLES.get((method, path), path))
        assert r.status_code == 200, (path, r.text)


# ------------------------------------------------------------------ tokens


async def test_forged_expired_and_confused_tokens_are_401(world: World) -> None:
    client = world.run.client
    key = world.run.ctx.signing_key
    admin_claims = claims_of(world.admin)
    now = int(time.time())
    unsigned = jwt.encode(
        {"typ": OPERATOR_TOKEN, "sub": admin_claims["sub"], "iat": now, "exp": now + 600},
        key=None,
        algorithm="none",
    )
    tokens = {
        "forged": (reissue(world.admin, OTHER_KEY), "invalid_token"),
        "expired": (expired_operator_token(world.run, world.admin), "token_expired"),
        "alg none": (unsigned, "invalid_token"),
        "tampered payload": (_tamper(world.operator, admin_claims["sub"]), "invalid_token"),
        # Correctly signed, but a visitor token whose subject is the admin's id.
        "visitor kind": (
            security.issue_token(key, VISITOR_TOKEN, admin_claims["sub"], 600, ch=1, ext="x"),
            "invalid_token",
        ),
        "no subject": (jwt.encode({"typ": OPERATOR_TOKEN, "exp": now + 600}, key), None),
        "non-numeric subject": (security.issue_token(key, OPERATOR_TOKEN, "admin", 600), None),
        "unknown operator": (security.issue_token(key, OPERATOR_TOKEN, "999999", 600), None),
    }
    for name, (token, code) in tokens.items():
        for path in ("/api/v1/operators/me", "/api/v1/conversations", "/api/v1/api-keys"):
            r = await client.get(path, headers=auth(token))
            assert r.status_code == 401, (name, path, r.text)
            error_of(r, 401, code)

    # A deactivated operator's still-unexpired token stops working at once.
    r = await client.patch(
        f"/api/v1/operators/{world.other_operator_id}",
        json={"is_active": False},
        headers=auth(world.admin),
    )
    assert r.status_code == 200, r.text
    error_of(
        await client.get("/api/v1/conversations", headers=auth(world.other_operator)),
        401,
        "inactive_operator",
    )
    # ... and cannot log in again.
    r = await client.post(
        "/api/v1/auth/login", json={"email": "other@example.com", "password": "ochre-82-jy"}
    )
    error_of(r, 401, "bad_credentials")


def _tamper(token: str, subject: str) -> str:
    """Swap the payload of a genuine token for one with another subject, keeping the
    original signature."""
    header, _, signature = token.split(".")
    claims = claims_of(token) | {"sub": subject}
    payload = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    return f"{header}.{payload}.{signature}"


async def test_revoked_key_is_401_and_scopes_are_checked(world: World) -> None:
    client = world.run.client
    reader = await new_api_key(client, world.admin, [scopes.CONVERSATIONS_READ])
    headers = {"X-Api-Key": reader["key"]}
    assert (await client.get("/api/v1/conversations", headers=headers)).status_code == 200
    error_of(await client.get("/api/v1/contacts", headers=headers), 403, "missing_scope")
    error_of(
        await client.post(
            f"/api/v1/conversations/{world.conversation_id}/messages",
            json={"text": "sneaky"},
            headers=headers,
        ),
        403,
        "missing_scope",
    )
    # Unknown scopes are refused when the key is made, not silently dropped.
    r = await client.post(
        "/api/v1/api-keys", json={"name": "x", "scopes": ["everything"]}, headers=auth(world.admin)
    )
    error_of(r, 422, "unknown_scope")
    # The right prefix with a wrong secret is no key.
    prefix = reader["key"].rsplit("_", 1)[0]
    bad = {"X-Api-Key": f"{prefix}_not-the-secret"}
    error_of(await client.get("/api/v1/conversations", headers=bad), 401, "invalid_api_key")

    r = await client.delete(f"/api/v1/api-keys/{reader['id']}", headers=auth(world.admin))
    assert r.status_code == 200 and r.json()["revoked_at"] is not None, r.text
    error_of(await client.get("/api/v1/conversations", headers=headers), 401, "invalid_api_key")
    # An API key never makes API keys of its own unless it holds api_keys:write.
    error_of(
        await client.post(
            "/api/v1/api-keys",
            json={"name": "escalate", "scopes": sorted(scopes.ALL_SCOPES)},
            headers={"X-Api-Key": await world.key_without(scopes.API_KEYS_WRITE)},
        ),
        403,
        "missing_scope",
    )


# ------------------------------------------------------------------ conversation ownership


async def test_operator_sees_own_and_queue_but_not_others(world: World) -> None:
    client, run = world.run.client, world.run

    async def conversation_of_new_visitor(name: str) -> tuple[int, int]:
        token = (await visitor_session(client, world.widget_a, name=name))["visitor_token"]
        r = await visitor_post(client, world.widget_a, token, f"hi from {name}")
        assert r.status_code == 201, r.text
        return int(r.json()["message"]["conversation_id"]), int(r.json()["message"]["id"])

    queued = world.conversation_id  # unassigned
    mine, _ = await conversation_of_new_visitor("Mia")
    theirs, their_message = await conversation_of_new_visitor("Theo")
    for conv, assignee in ((mine, world.operator_id), (theirs, world.other_operator_id)):
        r = await client.post(
            f"/api/v1/conversations/{conv}/assign",
            json={"assignee_id": assignee},
            headers=auth(world.admin),
        )
        assert r.status_code == 200 and r.json()["assignee_id"] == assignee, r.text

    async def listed(token: str, **params: Any) -> set[int]:
        r = await client.get("/api/v1/conversations", params=params, headers=auth(token))
        assert r.status_code == 200, r.text
        return {c["id"] for c in r.json()["items"]}

    assert await listed(world.operator) == {queued, mine}
    assert await listed(world.operator, assignee=str(world.other_operator_id)) == set()
    assert await listed(world.other_operator) == {queued, theirs}
    assert await listed(world.admin) == {queued, mine, theirs}
    everything = await world.key_with(scopes.CONVERSATIONS_READ)
    r = await client.get("/api/v1/conversations", headers={"X-Api-Key": everything})
    assert {c["id"] for c in r.json()["items"]} == {queued, mine, theirs}

    for conv in (queued, mine):
        for suffix in ("", "/messages"):
            r = await client.get(
                f"/api/v1/conversations/{conv}{suffix}", headers=auth(world.operator)
            )
            assert r.status_code == 200, r.text

    messages_before = await count(run, "messages")
    touchpoints_before = await count(run, "touchpoints")
    denied: list[tuple[str, str, dict[str, Any] | None]] = [
        ("GET", f"/api/v1/conversations/{theirs}", None),
        ("GET", f"/api/v1/conversations/{theirs}/messages", None),
        ("GET", f"/api/v1/messages/{their_message}/attachments/0", None),
        ("POST", f"/api/v1/conversations/{theirs}/messages", {"text": "mine now"}),
        ("POST", f"/api/v1/conversations/{theirs}/messages", {"text": "n", "private": True}),
        ("POST", f"/api/v1/conversations/{theirs}/assign", {"assignee_id": world.operator_id}),
        ("POST", f"/api/v1/conversations/{theirs}/status", {"status": "resolved"}),
        ("POST", f"/api/v1/conversations/{theirs}/read", None),
        (
            "POST",
            "/api/v1/messages",
            {"idempotency_key": "k1", "text": "x", "conversation_id": theirs},
        ),
    ]
    for method, url, body in denied:
        r = await client.request(method, url, json=body, headers=auth(world.operator))
        error_of(r, 403, "not_your_conversation")
    assert await count(run, "messages") == messages_before
    assert await count(run, "touchpoints") == touchpoints_before
    r = await client.get(f"/api/v1/conversations/{theirs}", headers=auth(world.admin))
    assert r.json()["assignee_id"] == world.other_operator_id
    assert r.json()["status"] != "resolved"

    # The admin sees and acts on every conversation.
    for conv in (queued, mine, theirs):
        r = await client.get(f"/api/v1/conversations/{conv}/messages", headers=auth(world.admin))
        assert r.status_code == 200 and r.json()["items"], r.text
    r = await client.post(
        f"/api/v1/conversations/{theirs}/messages",
        json={"text": "admin"},
        headers=auth(world.admin),
    )
    assert r.status_code == 201, r.text

    # Once the other operator hands it back to the queue, everyone sees it again.
    r = await client.post(
        f"/api/v1/conversations/{theirs}/assign",
        json={"assignee_id": None},
        headers=auth(world.other_operator),
    )
    assert r.status_code == 200, r.text
    assert await listed(world.operator) == {queued, mine, theirs}


async def open_on(world: World, widget_key: str, name: str) -> tuple[int, int]:
    """A new visitor's conversation on a widget: (conversation id, first message id)."""
    token = (await visitor_session(world.run.client, widget_key, name=name))["visitor_token"]
    r = await visitor_post(world.run.client, widget_key, token, f"hi from {name}")
    assert r.status_code == 201, r.text
    return int(r.json()["message"]["conversation_id"]), int(r.json()["message"]["id"])


async def listed(world: World, token: str, **params: Any) -> set[int]:
    r = await world.run.client.get("/api/v1/conversations", params=params, headers=auth(token))
    assert r.status_code == 200, r.text
    return {c["id"] for c in r.json()["items"]}


async def test_an_operator_sees_the_queue_of_their_teams_not_another_teams(
    world: World,
) -> None:
    """Unassigned conversations: an operator sees those of their teams and those of no team;
    one waiting for a team they are not in is refused on every route, like one assigned to
    someone else. Once assigned to them, it is theirs whatever its team."""
    client, run = world.run.client, world.run
    sales = world.conversation_id  # waits for team Sales (the operator's, not the outsider's)
    no_team_key = (await create_webchat(client, world.admin))["public_key"]
    support_channel = await create_team_webchat(client, world.admin, world.support_team_id)
    nobodys, _ = await open_on(world, no_team_key, "Nia")
    supports, _ = await open_on(world, support_channel["public_key"], "Sam")
    r = await client.get(f"/api/v1/conversations/{supports}", headers=auth(world.admin))
    assert (r.json()["team_id"], r.json()["assignee_id"]) == (world.support_team_id, None)

    assert await listed(world, world.outsider) == {nobodys, supports}
    assert await listed(world, world.operator) == {sales, nobodys}
    assert await listed(world, world.admin) == {sales, nobodys, supports}
    # No filter lets it through either.
    assert await listed(world, world.outsider, team=world.team_id) == set()
    assert await listed(world, world.outsider, assignee="none") == {nobodys, supports}
    r = await client.get(f"/api/v1/conversations/{sales}", headers=auth(world.admin))
    assert await listed(world, world.outsider, channel=r.json()["channel_id"]) == set()

    # The routing queue: the outsider's shows no Sales conversation; an admin's does.
    def queued(r: httpx.Response) -> set[int]:
        assert r.status_code == 200, r.text
        return {item["conversation_id"] for item in r.json()}

    everything = queued(await client.get("/api/v1/routing/queue", headers=auth(world.admin)))
    assert sales in everything, everything
    theirs = queued(await client.get("/api/v1/routing/queue", headers=auth(world.outsider)))
    assert sales not in theirs and theirs <= {nobodys, supports}, theirs

    r = await client.get(f"/api/v1/conversations/{sales}", headers=auth(world.admin))
    sales_contact, sales_channel = r.json()["contact"]["id"], r.json()["channel_id"]
    messages_before = await count(run, "messages")
    touchpoints_before = await count(run, "touchpoints")
    denied: list[tuple[str, str, dict[str, Any] | None]] = [
        ("GET", f"/api/v1/conversations/{sales}", None),
        ("GET", f"/api/v1/conversations/{sales}/messages", None),
        ("GET", f"/api/v1/messages/{world.message_id}/attachments/0", None),
        ("POST", f"/api/v1/conversations/{sales}/messages", {"text": "can I help?"}),
        ("POST", f"/api/v1/conversations/{sales}/messages", {"text": "n", "private": True}),
        ("POST", f"/api/v1/conversations/{sales}/assign", {"assignee_id": world.outsider_id}),
        (
            "POST",
            f"/api/v1/conversations/{sales}/assign",
            {"assignee_id": None, "team_id": world.support_team_id},
        ),
        ("POST", f"/api/v1/conversations/{sales}/status", {"status": "resolved"}),
        ("POST", f"/api/v1/conversations/{sales}/read", None),
        (
            "POST",
            "/api/v1/messages",
            {"idempotency_key": "k-sales", "text": "x", "conversation_id": sales},
        ),
        (  # the same client named by contact and channel instead
            "POST",
            "/api/v1/messages",
            {
                "idempotency_key": "k-sales-2",
                "text": "x",
                "contact_id": sales_contact,
                "channel_id": sales_channel,
            },
        ),
    ]
    for method, url, body in denied:
        r = await client.request(method, url, json=body, headers=auth(world.outsider))
        error_of(r, 403, "not_your_conversation")
    assert await count(run, "messages") == messages_before
    assert await count(run, "touchpoints") == touchpoints_before
    r = await client.get(f"/api/v1/conversations/{sales}", headers=auth(world.admin))
    assert (r.json()["team_id"], r.json()["assignee_id"]) == (world.team_id, None)
    assert r.json()["status"] != "resolved"

    # The operator of the team answers it; the outsider still cannot read the answer.
    r = await client.post(
        f"/api/v1/conversations/{sales}/messages",
        json={"text": "Sales here"},
        headers=auth(world.operator),
    )
    assert r.status_code == 201, r.text
    r = await client.get(f"/api/v1/conversations/{sales}/messages", headers=auth(world.outsider))
    error_of(r, 403, "not_your_conversation")

    # An admin gives it to the outsider: assigned to them, it is theirs (and no longer the
    # queue's, so the Sales operator loses it).
    r = await client.post(
        f"/api/v1/conversations/{sales}/assign",
        json={"assignee_id": world.outsider_id},
        headers=auth(world.admin),
    )
    assert r.status_code == 200 and r.json()["assignee_id"] == world.outsider_id, r.text
    assert await listed(world, world.outsider) == {sales, nobodys, supports}
    r = await client.get(f"/api/v1/conversations/{sales}/messages", headers=auth(world.outsider))
    assert r.status_code == 200 and r.json()["items"], r.text
    assert await listed(world, world.operator) == {nobodys}


async def test_websocket_catch_up_leaves_out_another_teams_queue(live: LiveServer) -> None:
    """A console reconnecting with after= replays only conversations its operator sees."""
    w = await make_world(Running(app=None, ctx=live.ctx, client=live.client))  # type: ignore[arg-type]
    support_channel = await create_team_webchat(live.client, w.admin, w.support_team_id)
    supports, supports_message = await open_on(w, support_channel["public_key"], "Sam")

    async def replayed(token: str) -> dict[int, int]:
        """message id -> conversation id of every message replayed to `token`."""
        out: dict[int, int] = {}
        url = f"{live.ws_url}/api/v1/ws?token={token}&after=0"
        async with websockets.connect(url, open_timeout=5) as ws:
            while True:
                frame = json.loads(await asyncio.wait_for(ws.recv(), 10))
                # Several events may come in one frame: {"type": "batch", "events": [...]}.
                for event in frame["events"] if frame["type"] == "batch" else [frame]:
                    if event["type"] == "ready":
                        return out
                    if event.get("replay"):
                        out[event["data"]["id"]] = event["data"]["conversation_id"]

    outsider = await replayed(w.outsider)
    assert outsider == {supports_message: supports}
    operator = await replayed(w.operator)
    assert operator == {w.message_id: w.conversation_id}
    admin = await replayed(w.admin)
    assert admin == {w.message_id: w.conversation_id, supports_message: supports}


async def test_idempotency_keys_do_not_cross_callers(world: World) -> None:
    """Operators and API keys have separate id sequences; an API key whose id equals an
    operator's must not share that operator's idempotency keys (and so must never get the
    operator's private note back), and the other way round."""
    client = world.run.client
    tokens = {
        await operator_id(client, token): token
        for token in (world.admin, world.operator, world.other_operator)
    }
    needed = [scopes.CONVERSATIONS_WRITE, scopes.MESSAGES_WRITE]
    key = await new_api_key(client, world.admin, needed)
    while key["id"] < min(tokens):
        key = await new_api_key(client, world.admin, needed)
    assert key["id"] in tokens, "the test needs an API key with an operator's numeric id"
    twin = tokens[key["id"]]
    as_key = {"X-Api-Key": key["key"]}
    conv = world.conversation_id
    note = {"text": "internal: VIP, discount", "private": True, "client_message_id": "c1"}

    r = await client.post(f"/api/v1/conversations/{conv}/messages", json=note, headers=auth(twin))
    assert r.status_code == 201, r.text
    note_id = r.json()["id"]
    r = await client.post(
        f"/api/v1/conversations/{conv}/messages",
        json={"text": "bot reply", "client_message_id": "c1"},
        headers=as_key,
    )
    assert r.status_code in (201, 403), r.text
    if r.status_code == 201:
        assert r.json()["id"] != note_id, "an API key was handed an operator's private note"
        assert r.json()["text"] == "bot reply"

    send = {"idempotency_key": "same", "conversation_id": conv}
    r = await client.post("/api/v1/messages", json=send | {"text": "from the key"}, headers=as_key)
    assert r.status_code == 201, r.text
    r2 = await client.post(
        "/api/v1/messages", json=send | {"text": "from the operator"}, headers=auth(twin)
    )
    assert r2.status_code == 201, r2.text
    assert r2.json()["id"] != r.json()["id"]
    assert r2.json()["text"] == "from the operator"


# ------------------------------------------------------------------ the widget API


async def revoked_visitor(client: httpx.AsyncClient, admin: str, widget_key: str) -> str:
    """A visitor token of widget `widget_key` whose sessions were ended."""
    session = await visitor_session(client, widget_key, name="Rex")
    r = await client.post(
        f"/api/v1/contacts/{session['contact_id']}/revoke-widget-sessions", headers=auth(admin)
    )
    assert r.status_code == 204, r.text
    token: str = session["visitor_token"]
    return token


async def test_widget_authorization_matrix(world: World) -> None:
    client, run = world.run.client, world.run
    visitor_b = (await visitor_session(client, world.widget_b))["visitor_token"]
    api_key = await world.key_with(None)
    broken: dict[str, dict[str, str]] = {
        "anonymous": {},
        "garbage token": auth("not-a-token"),
        "forged visitor token": auth(reissue(world.visitor, OTHER_KEY)),
        "expired visitor token": auth(reissue(world.visitor, run.ctx.signing_key, ttl=-60)),
        "revoked visitor token": auth(await revoked_visitor(client, world.admin, world.widget_a)),
        "visitor of widget B": auth(visitor_b),
        "operator token": auth(world.operator),
        "admin token": auth(world.admin),
        "api key": {"X-Api-Key": api_key},
    }
    checked = 0
    for route in app_routes(run.app):
        method, path = route
        if method == "WS" or not path.startswith("/widget/v1/"):
            continue
        rule = WIDGET_RULES[route]  # KeyError: a new widget endpoint needs a rule above
        checked += 1
        url = path.replace("{widget_key}", world.widget_a)
        body = {"text": "hi"} if method == "POST" else None
        sending: dict[str, Any] = (
            {"files": {"file": ("a.png", PNG, "image/png")}}
            if path.endswith("/attachments")
            else {"json": body}
        )
        if rule == "public":
            r = await client.request(method, url, json={} if method == "POST" else None)
            assert r.status_code == (201 if method == "POST" else 200), r.text
            continue
        assert rule == "visitor"
        stored = await count(run, "messages")
        for who, headers in broken.items():
            r = await client.request(method, url, headers=headers, **sending)
            assert r.status_code == 401, (route, who, r.text)
            error_of(r, 401)
        assert await count(run, "messages") == stored
        r = await client.request(method, url, headers=auth(world.visitor), **sending)
        assert r.status_code == (201 if method == "POST" else 200), r.text
    assert checked == len(WIDGET_RULES)

    # Widget A's visitor, on widget B's key, with A's token: refused, nothing stored.
    stored = await count(run, "messages")
    r = await visitor_post(client, world.widget_b, world.visitor, "wrong widget")
    error_of(r, 401, "invalid_token")
    r = await client.get(f"/widget/v1/{world.widget_b}/messages", headers=auth(world.visitor))
    error_of(r, 401, "invalid_token")
    assert await count(run, "messages") == stored


async def test_visitor_never_sees_another_visitors_messages(world: World) -> None:
    client, key = world.run.client, world.widget_a
    x = (await visitor_session(client, key, name="Xena"))["visitor_token"]
    y = (await visitor_session(client, key, name="Yuri"))["visitor_token"]
    ids: dict[str, set[int]] = {"x": set(), "y": set()}
    conversations: dict[str, int] = {}
    for who, token in (("x", x), ("y", y), ("x", x), ("y", y)):
        r = await visitor_post(client, key, token, f"secret of {who}")
        assert r.status_code == 201, r.text
        ids[who].add(r.json()["message"]["id"])
        conversations[who] = r.json()["message"]["conversation_id"]
    assert conversations["x"] != conversations["y"]
    r = await client.post(
        f"/api/v1/conversations/{conversations['y']}/messages",
        json={"text": "reply for y"},
        headers=auth(world.admin),
    )
    assert r.status_code == 201, r.text
    ids["y"].add(r.json()["id"])

    for params in ({}, {"after": 0}, {"after": 0, "limit": 200}, {"after": min(ids["y"]) - 1}):
        r = await client.get(f"/widget/v1/{key}/messages", params=params, headers=auth(x))
        assert r.status_code == 200, r.text
        seen = {m["id"] for m in r.json()["items"]}
        assert seen == ids["x"] - {i for i in ids["x"] if i <= params.get("after", -1)}, params
        assert not seen & ids["y"]
        assert all(m["conversation_id"] == conversations["x"] for m in r.json()["items"])
        assert all(m["text"] != "secret of y" for m in r.json()["items"])

    # Y's claims re-signed with another key are refused.
    r = await client.get(f"/widget/v1/{key}/messages", headers=auth(reissue(y, OTHER_KEY)))
    error_of(r, 401, "invalid_token")


# ------------------------------------------------------------------ websockets


async def _ws_outcome(url: str, origin: str | None = None) -> str:
    """'ready' when the socket is served; otherwise how it was refused."""
    try:
        async with websockets.connect(url, origin=origin, open_timeout=5) as ws:
            try:
                while True:
                    event = await recv_event(ws, 30)
                    if event.get("type") == "ready":
                        return "ready"
            except websockets.ConnectionClosed as exc:
                return f"closed {exc.rcvd.code if exc.rcvd else None}"
    except websockets.InvalidStatus as exc:
        return f"http {exc.response.status_code}"


async def test_websocket_authorization(live: LiveServer) -> None:
    w = await make_world(Running(app=None, ctx=live.ctx, client=live.client))  # type: ignore[arg-type]
    signing_key = w.run.ctx.signing_key
    # Any route the app gains must be listed.
    assert {("WS", p) for m, p in app_routes(create_app(w.run.ctx.settings)) if m == "WS"} == set(
        SOCKET_RULES
    )
    operator_ws = f"{live.ws_url}/api/v1/ws"
    widget_ws = f"{live.ws_url}/widget/v1/{w.widget_a}/ws"
    visitor_b = (await visitor_session(live.client, w.widget_b))["visitor_token"]
    refused = {
        operator_ws: {
            "anonymous": "",
            "garbage": "not-a-token",
            "forged": reissue(w.admin, OTHER_KEY),
            "expired": reissue(w.admin, signing_key, ttl=-60),
            "visitor token": w.visitor,
        },
        widget_ws: {
            "anonymous": "",
            "garbage": "not-a-token",
            "forged": reissue(w.visitor, OTHER_KEY),
            "expired": reissue(w.visitor, signing_key, ttl=-60),
            "operator token": w.operator,
            "visitor of widget B": visitor_b,
            "revoked": await revoked_visitor(live.client, w.admin, w.widget_a),
        },
    }
    for url, tokens in refused.items():
        for who, token in tokens.items():
            outcome = await _ws_outcome(f"{url}?token={token}")
            assert outcome == "closed 4401", (url, who, outcome)
    assert await _ws_outcome(f"{operator_ws}?token={w.operator}") == "ready"
    assert await _ws_outcome(f"{operator_ws}?token={w.admin}") == "ready"
    assert await _ws_outcome(f"{widget_ws}?token={w.visitor}") == "ready"

    # A widget restricted to one site refuses a socket opened from another (4403).
    shop = "https://shop.example"
    restricted = (await create_webchat(live.client, w.admin, allowed_origins=[shop]))["public_key"]
    token = (await visitor_session(live.client, restricted))["visitor_token"]
    url = f"{live.ws_url}/widget/v1/{restricted}/ws?token={token}"
    assert await _ws_outcome(url, origin="https://evil.example") == "closed 4403"
    assert await _ws_outcome(url, origin=shop) == "ready"


async def test_public_pages_need_their_token(world: World) -> None:
    """No credentials needed, none help: the token in the path is the only key."""
    client = world.run.client
    r = await client.get("/api/v1/orders/auth-order", headers=auth(world.admin))
    token = r.json()["tracking_url"].rsplit("/", 1)[1]
    assert (await client.get(f"/track/{token}")).status_code == 200
    for headers in ({}, auth(world.admin), {"X-Api-Key": await world.key_with(None)}):
        r = await client.get(f"/track/{token[:-1]}!", headers=headers)
        assert r.status_code == 404, r.text
        error_of(r, 404)


async def test_bot_routes_refuse_people_and_keys(world: World) -> None:
    key = await new_api_key(world.run.client, world.admin, sorted(scopes.ALL_SCOPES))
    callers = [
        {},
        auth(world.admin),
        auth(world.operator),
        auth(world.visitor),
        {"X-Api-Key": key["key"]},
        auth("ccbot_0123456789ab_forged"),
    ]
    for method, path in sorted(BOT_TOKEN):
        url = path.replace("{conversation_id}", str(world.conversation_id))
        for headers in callers:
            r = await world.run.client.request(method, url, headers=headers, json={"text": "x"})
            error_of(r, 401)
    async with world.run.ctx.sessions() as s:
        assert await s.scalar(text("SELECT count(*) FROM messages WHERE sender_type = 'bot'")) == 0


async def test_provider_webhooks_refuse_unauthenticated_calls(run: Running) -> None:
    """Each webhook route, for a channel of its type, without the provider's proof."""
    admin = await run.admin_token()
    channels = await run.client.get("/api/v1/channels", headers=auth(admin))
    assert channels.status_code == 200
    async with run.ctx.sessions() as s:
        tg = await s.scalar(
            text(
                "INSERT INTO channel_accounts (type, name, public_key, settings, credentials) "
                "VALUES ('telegram', 'bot', 'k-tg', '{}', "
                '\'{"token": "1:x", "webhook_secret": "s"}\') RETURNING id'
            )
        )
        wa = await s.scalar(
            text(
                "INSERT INTO channel_accounts (type, name, public_key, settings, credentials) "
                "VALUES ('whatsapp', 'num', 'k-wa', '{}', '{\"phone_number_id\": \"1\", "
                '"access_token": "t", "app_secret": "a", '
                '"verify_token": "v"}\') RETURNING id'
            )
        )
        vk = await s.scalar(
            text(
                "INSERT INTO channel_accounts (type, name, public_key, settings, credentials) "
                "VALUES ('vk', 'community', 'k-vk', '{\"group_id\": 7}', "
                '\'{"token": "t", "secret": "s"}\') RETURNING id'
            )
        )
        await s.commit()
    body = {"update_id": 1, "message": {"message_id": 1, "chat": {"id": 1, "type": "private"}}}
    r = await run.client.post(f"/webhooks/telegram/{tg}", json=body)
    assert r.status_code == 401, r.text
    r = await run.client.post(
        f"/webhooks/whatsapp/{wa}", json={"object": "whatsapp_business_account", "entry": []}
    )
    assert r.status_code == 401, r.text
    r = await run.client.get(
        f"/webhooks/whatsapp/{wa}",
        params={"hub.mode": "subscribe", "hub.verify_token": "wrong", "hub.challenge": "1"},
    )
    assert r.status_code == 403, r.text
    vk_message = {"message": {"id": 1, "date": 1, "peer_id": 5, "from_id": 5, "text": "hi"}}
    event = {"type": "message_new", "group_id": 7, "event_id": "e1", "object": vk_message}
    for proof in ({}, {"secret": "wrong"}):
        r = await run.client.post(f"/webhooks/vk/{vk}", json=event | proof)
        error_of(r, 403, "bad_secret")
    # With the secret VK is answered "ok" (here for an event nothing is stored of; storing a
    # message asks VK's API for the sender's name): the refusals were the proof's.
    typing = {"type": "message_typing_state", "group_id": 7, "object": {"state": "typing"}}
    r = await run.client.post(f"/webhooks/vk/{vk}", json=typing | {"secret": "s"})
    assert r.status_code == 200 and r.text == "ok", r.text
    async with run.ctx.sessions() as s:
        assert await s.scalar(text("SELECT count(*) FROM messages")) == 0


async def test_logout_revokes_only_the_callers_tokens(world: World) -> None:
    client = world.run.client
    r = await client.post("/api/v1/auth/logout")
    error_of(r, 401)
    key = await new_api_key(client, world.admin, sorted(scopes.ALL_SCOPES))
    error_of(
        await client.post("/api/v1/auth/logout", headers={"X-Api-Key": key["key"]}),
        403,
        "operator_only",
    )
    r = await client.post("/api/v1/auth/logout", headers=auth(world.other_operator))
    assert r.status_code == 204, r.text
    error_of(
        await client.get("/api/v1/conversations", headers=auth(world.other_operator)),
        401,
        "token_revoked",
    )
    # Everyone else's tokens still work.
    for token in (world.admin, world.operator):
        assert (await client.get("/api/v1/conversations", headers=auth(token))).status_code == 200
