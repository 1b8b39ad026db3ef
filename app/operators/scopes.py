"""Permission scopes. Operators get theirs from their role; API keys carry an explicit list."""

CONVERSATIONS_READ = "conversations:read"
CONVERSATIONS_WRITE = "conversations:write"
CONTACTS_READ = "contacts:read"
CONTACTS_WRITE = "contacts:write"
MESSAGES_WRITE = "messages:write"
TOUCHPOINTS_READ = "touchpoints:read"
TOUCHPOINTS_WRITE = "touchpoints:write"
CHANNELS_READ = "channels:read"
CHANNELS_WRITE = "channels:write"
OPERATORS_READ = "operators:read"
OPERATORS_WRITE = "operators:write"
API_KEYS_WRITE = "api_keys:write"
AUDIT_READ = "audit:read"
ORDERS_READ = "orders:read"
ORDERS_WRITE = "orders:write"

ALL_SCOPES = frozenset(
    {
        CONVERSATIONS_READ,
        CONVERSATIONS_WRITE,
        CONTACTS_READ,
        CONTACTS_WRITE,
        MESSAGES_WRITE,
        TOUCHPOINTS_READ,
        TOUCHPOINTS_WRITE,
        CHANNELS_READ,
        CHANNELS_WRITE,
        OPERATORS_READ,
        OPERATORS_WRITE,
        API_KEYS_WRITE,
        AUDIT_READ,
        ORDERS_READ,
        ORDERS_WRITE,
    }
)

OPERATOR_SCOPES = frozenset(
    {
        CONVERSATIONS_READ,
        CONVERSATIONS_WRITE,
        CONTACTS_READ,
        CONTACTS_WRITE,
        MESSAGES_WRITE,
        TOUCHPOINTS_READ,
        TOUCHPOINTS_WRITE,
        CHANNELS_READ,
        OPERATORS_READ,
        ORDERS_READ,
    }
)
ADMIN_SCOPES = ALL_SCOPES
