"""Property-based tests (hypothesis) of every connector's parser, with arbitrary JSON and
with the recorded provider payloads of tests/fixtures (copied from the shared provider
fixtures) mutated (values replaced, keys dropped, types changed): a parser returns or
raises its defined parse error, nothing else.
Then through the webhook endpoints: never a 500, either stored (maybe as unsupported) or a
4xx."""

import contextlib
import copy
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from connectors.telegram.parse import InvalidUpdate, parse_update
from connectors.webchat.connector import InvalidPayload as WebchatInvalid
from connectors.webchat.connector import parse_visitor_message
from connectors.whatsapp.parse import InvalidPayload as WhatsAppInvalid
from connectors.whatsapp.parse import parse_webhook
from tests.conftest import FIXTURES

EXAMPLES = 300

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**63), max_value=2**63),
    st.floats(allow_nan=False),
    st.text(max_size=20),
)
json_values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=10), inner, max_size=4)
    ),
    max_leaves=20,
)


def _load(folder: str, prefix: str) -> list[Any]:
    return [json.loads(p.read_text()) for p in sorted((FIXTURES / folder).glob(f"{prefix}*.json"))]


TELEGRAM = _load("telegram", "update_")
WHATSAPP = _load("whatsapp", "webhook_")


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix]
    if isinstance(value, dict):
        for k, v in value.items():
            out += _paths(v, (*prefix, k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            out += _paths(v, (*prefix, i))
    return out


@st.composite
def mutated(draw: st.DrawFn, samples: list[Any]) -> Any:
    """A recorded payload with a few of its values replaced or removed."""
    doc = copy.deepcopy(draw(st.sampled_from(samples)))
    for _ in range(draw(st.integers(1, 4))):
        paths = [p for p in _paths(doc) if p]
        if not paths:
            break
        path = draw(st.sampled_from(paths))
        parent = doc
        for step in path[:-1]:
            parent = parent[step]
        if draw(st.booleans()) and isinstance(parent, dict):
            parent.pop(path[-1], None)
        else:
            parent[path[-1]] = draw(json_values)
    return doc


def payloads(samples: list[Any]) -> st.SearchStrategy[Any]:
    return st.one_of(json_values, mutated(samples))


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(payloads(TELEGRAM))
def test_telegram_parser(update: Any) -> None:
    with contextlib.suppress(InvalidUpdate):
        parse_update(update)


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(payloads(WHATSAPP))
def test_whatsapp_parser(payload: Any) -> None:
    with contextlib.suppress(WhatsAppInvalid):
        parse_webhook(payload)


@settings(max_examples=EXAMPLES, deadline=None)
@given(st.text(max_size=50), st.text(max_size=5000), st.one_of(st.none(), st.text(max_size=120)))
def test_webchat_parser(external_id: str, text: str, client_id: str | None) -> None:
    with contextlib.suppress(WebchatInvalid):
        parse_visitor_message(external_id, text, client_id, fallback_id="f")


# ---------------------------------------------------------------- through the webhooks

WEBHOOK_EXAMPLES = 60


@pytest.fixture
async def graph() -> Any:
    from tests.whatsapp.fake_graph import serve_fake_graph

    async with serve_fake_graph() as fake:
        yield fake


@pytest.fixture
async def fake_api() -> Any:
    from tests.telegram.fake_bot_api import FakeBotApi

    fake = FakeBotApi()
    await fake.start()
    yield fake
    await fake.stop()


@pytest.fixture
def settings_overrides(fake_api: Any) -> dict[str, Any]:
    from tests.telegram.conftest import telegram_settings

    return telegram_settings(fake_api)


async def test_webhooks_never_500(run: Any, graph: Any, fake_api: Any) -> None:
    from tests.telegram.helpers import SECRET_HEADER, create_bot, secret_of
    from tests.whatsapp.support import create_whatsapp, post_webhook

    admin = await run.admin_token()
    wa = await create_whatsapp(run.client, admin, graph)
    bot = await create_bot(run.client, admin)
    secret = secret_of(fake_api)
    tg_docs = st.one_of(json_values, mutated(TELEGRAM))
    wa_docs = st.one_of(json_values, mutated(WHATSAPP))
    seen: dict[int, int] = {}
    for i in range(WEBHOOK_EXAMPLES):
        tg = tg_docs.example() if i else TELEGRAM[0]
        r = await run.client.post(
            f"/webhooks/telegram/{bot['id']}",
            content=json.dumps(tg).encode(),
            headers={SECRET_HEADER: secret, "Content-Type": "application/json"},
        )
        assert r.status_code < 500, (tg, r.text)
        seen[r.status_code] = seen.get(r.status_code, 0) + 1
        doc = wa_docs.example() if i else WHATSAPP[0]
        r = await post_webhook(run.client, wa["id"], doc)
        assert r.status_code < 500, (doc, r.text)
        seen[r.status_code] = seen.get(r.status_code, 0) + 1
    assert 200 in seen, seen


def test_fixture_dir_exists() -> None:
    assert Path(FIXTURES).is_dir() and TELEGRAM and WHATSAPP
