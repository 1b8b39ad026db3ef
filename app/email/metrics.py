"""What the mailbox readers do, beside the shared ingest and send counters
(app/core/metrics.py, labelled "email")."""

from prometheus_client import Counter

READ = Counter("chatcentre_email_read_total", "Mails read and stored as messages")
SKIPPED = Counter(
    "chatcentre_email_skipped_automated_total",
    "Automated mails (auto-replies, mailing lists) that opened no conversation",
    ["kind"],
)
BOUNCES = Counter(
    "chatcentre_email_bounces_total",
    "Delivery status reports read, by the state they gave our mail",
    ["state"],
)
READ_ERRORS = Counter("chatcentre_email_read_errors_total", "Failed mailbox reads (retried)")
