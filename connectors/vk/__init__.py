"""VK community messages: Callback API and Bots Long Poll parsing (parse.py), the API calls
(client.py), one Long Poll step (longpoll.py) and the Connector (connector.py).

Why hand-written httpx calls and not vkbottle (evaluated at 4.11.0): vkbottle does install
with our pins (it asks for aiohttp>=3.14, pydantic>=2.13.4) and an API object could be
made per call with the channel's token and pointed at a local server (its API_URL is a
class attribute, overridable). But it brings seven packages (vkbottle-types' generated
models, vbml, choicelib, msgspec, aiofiles pinned exactly, colorama) for the eight methods
we call; importing it replaces `warnings.showwarning` process-wide and gives its logger a
console handler of its own; its API logs every request's parameters (our clients' texts)
at debug level; its HTTP client is a process-wide singleton aiohttp session with atexit
hooks; and its polling loop owns the Long Poll state (keeping ts in a file under the
working directory) and retries by itself, while here the app persists ts in the database,
one node polls a community (advisory lock), and the outbox owns retries and backoff.
httpx is already a dependency (the WhatsApp connector's pooled client is the model), and
VK's wire format is small: form-encoded POSTs answered {"response": ...} or {"error":
{"error_code", "error_msg"}}.

What a channel plugin calls:
- parse.handle_callback(body, group_id=, confirmation_code=, secret=) -> CallbackResult
  (status, body to answer, events); parse.group_id_of(body) to find the channel.
- longpoll.poll_once(api, token, group_id, session, persisted_ts) -> PollResult (events,
  the session for the next step; persist session.ts after storing the events).
- VkConnector (send, fetch_media; api_for(settings) -> VkApi for users_get, get_group,
  get_confirmation_code, and at setup enable_long_poll / add_callback_server).
Events: InboundMessage, MessageEdit, and parse.MessagePermission (message_allow/deny)."""
