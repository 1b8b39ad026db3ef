"""delivery chains: orders, their status events, chain templates (ru and en seeded) and
the watchdog timers

Revision ID: 4e9f44a320c0
Revises: 5ec0a11d1a7e
Create Date: 2026-11-23 10:25:20.750698
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "4e9f44a320c0"
down_revision: str | None = "5ec0a11d1a7e"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


# The default texts of app/chains/templates.py as they were when this revision was written
# (a migration never changes with the code): ru and en, every step. in_transit is off.
DEFAULT_TEMPLATES: list[dict[str, object]] = [
    {
        "status": "accepted",
        "language": "en",
        "text": "Hi {first_name}! Your order {order} is accepted. Promised delivery: {date}. Track "
        "it here: {tracking_url}",
        "enabled": True,
        "buttons": [],
    },
    {
        "status": "accepted",
        "language": "ru",
        "text": "Здравствуйте, {first_name}! Заказ {order} принят. Обещанная дата доставки: {date}. "
        "Отслеживать: {tracking_url}",
        "enabled": True,
        "buttons": [],
    },
    {
        "status": "shipped",
        "language": "en",
        "text": "Your order {order} has been shipped. Tracking: {tracking_url}",
        "enabled": True,
        "buttons": [],
    },
    {
        "status": "shipped",
        "language": "ru",
        "text": "Заказ {order} отправлен. Отслеживать: {tracking_url}",
        "enabled": True,
        "buttons": [],
    },
    {
        "status": "in_transit",
        "language": "en",
        "text": "Your order {order} is on its way: {tracking_url}",
        "enabled": False,
        "buttons": [],
    },
    {
        "status": "in_transit",
        "language": "ru",
        "text": "Заказ {order} в пути: {tracking_url}",
        "enabled": False,
        "buttons": [],
    },
    {
        "status": "delayed",
        "language": "en",
        "text": "We are sorry: your order {order} is delayed by {delay_days} day(s) because of "
        "{reason}. Tracking: {tracking_url}",
        "enabled": True,
        "buttons": [],
    },
    {
        "status": "delayed",
        "language": "ru",
        "text": "Приносим извинения: заказ {order} задерживается на {delay_days} дн. Причина: "
        "{reason}. Отслеживать: {tracking_url}",
        "enabled": True,
        "buttons": [],
    },
    {
        "status": "arrived_in_city",
        "language": "en",
        "text": "Your order {order} has arrived in your city. The courier service will call you to "
        "agree a delivery time.",
        "enabled": True,
        "buttons": [],
    },
    {
        "status": "arrived_in_city",
        "language": "ru",
        "text": "Заказ {order} прибыл в ваш город. Курьерская служба свяжется с вами, чтобы "
        "согласовать время доставки.",
        "enabled": True,
        "buttons": [],
    },
    {
        "status": "courier_scheduled",
        "language": "en",
        "text": "The courier will bring your order {order} on {window}. Does this time suit you?",
        "enabled": True,
        "buttons": [
            [
                {"text": "Confirm", "action": "confirm"},
                {"text": "Another time", "action": "reschedule"},
            ]
        ],
    },
    {
        "status": "courier_scheduled",
        "language": "ru",
        "text": "Курьер привезёт заказ {order}: {window}. Вам удобно это время?",
        "enabled": True,
        "buttons": [
            [
                {"text": "Подтверждаю", "action": "confirm"},
                {"text": "Другое время", "action": "reschedule"},
            ]
        ],
    },
    {
        "status": "out_for_delivery",
        "language": "en",
        "text": "The courier is on the way with your order {order}.",
        "enabled": True,
        "buttons": [],
    },
    {
        "status": "out_for_delivery",
        "language": "ru",
        "text": "Курьер выехал к вам с заказом {order}.",
        "enabled": True,
        "buttons": [],
    },
    {
        "status": "delivered",
        "language": "en",
        "text": "Your order {order} has been delivered. Thank you for shopping with us!",
        "enabled": True,
        "buttons": [],
    },
    {
        "status": "delivered",
        "language": "ru",
        "text": "Заказ {order} доставлен. Спасибо за покупку!",
        "enabled": True,
        "buttons": [],
    },
    {
        "status": "return_requested",
        "language": "en",
        "text": "We have received your return request for order {order}. We will tell you the next "
        "steps shortly.",
        "enabled": True,
        "buttons": [],
    },
    {
        "status": "return_requested",
        "language": "ru",
        "text": "Мы получили заявку на возврат заказа {order} и скоро напишем, что делать дальше.",
        "enabled": True,
        "buttons": [],
    },
    {
        "status": "returned",
        "language": "en",
        "text": "The return of order {order} is complete. Thank you!",
        "enabled": True,
        "buttons": [],
    },
    {
        "status": "returned",
        "language": "ru",
        "text": "Возврат заказа {order} оформлен. Спасибо!",
        "enabled": True,
        "buttons": [],
    },
    {
        "status": "cancelled",
        "language": "en",
        "text": "Your order {order} has been cancelled.",
        "enabled": True,
        "buttons": [],
    },
    {
        "status": "cancelled",
        "language": "ru",
        "text": "Заказ {order} отменён.",
        "enabled": True,
        "buttons": [],
    },
    {
        "status": "overdue",
        "language": "en",
        "text": "We are sorry: your order {order} will not arrive by {date} as promised. We are "
        "finding out why and will tell you the new date. Tracking: {tracking_url}",
        "enabled": True,
        "buttons": [],
    },
    {
        "status": "overdue",
        "language": "ru",
        "text": "Приносим извинения: заказ {order} не успевает к обещанной дате {date}. Мы выясняем "
        "причину и сообщим новую дату. Отслеживать: {tracking_url}",
        "enabled": True,
        "buttons": [],
    },
    {
        "status": "feedback",
        "language": "en",
        "text": "How did the delivery go? Rate it from 1 (poor) to 5 (excellent).",
        "enabled": True,
        "buttons": [],
    },
    {
        "status": "feedback",
        "language": "ru",
        "text": "Как прошла доставка? Оцените от 1 (плохо) до 5 (отлично).",
        "enabled": True,
        "buttons": [],
    },
]


def upgrade() -> None:
    # ### commands auto generated by Alembic - please adjust! ###
    op.create_table(
        "chain_templates",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.Column("language", sa.String(length=8), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("enabled", sa.Boolean(), server_default="true", nullable=False),
        sa.Column(
            "buttons", postgresql.JSONB(astext_type=sa.Text()), server_default="[]", nullable=False
        ),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_chain_templates")),
        sa.UniqueConstraint("status", "language", name=op.f("uq_chain_templates_status")),
    )
    op.create_table(
        "orders",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("external_id", sa.String(length=200), nullable=False),
        sa.Column("contact_id", sa.BigInteger(), nullable=False),
        sa.Column("language", sa.String(length=8), server_default="en", nullable=False),
        sa.Column("first_name", sa.String(length=100), nullable=True),
        sa.Column("items", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("amount", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("promised_date", sa.Date(), nullable=True),
        sa.Column("status", sa.String(length=32), nullable=True),
        sa.Column("stage_rank", sa.Integer(), server_default="0", nullable=False),
        sa.Column("tracking_token", sa.String(length=64), nullable=False),
        sa.Column("flagged", sa.Boolean(), server_default="false", nullable=False),
        sa.Column("flag_reason", sa.Text(), nullable=True),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["contact_id"],
            ["contacts.id"],
            name=op.f("fk_orders_contact_id_contacts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_orders")),
        sa.UniqueConstraint("external_id", name=op.f("uq_orders_external_id")),
        sa.UniqueConstraint("tracking_token", name=op.f("uq_orders_tracking_token")),
    )
    op.create_index(op.f("ix_orders_contact_id"), "orders", ["contact_id"], unique=False)
    op.create_table(
        "chain_watchdogs",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("order_id", sa.BigInteger(), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("done_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["order_id"],
            ["orders.id"],
            name=op.f("fk_chain_watchdogs_order_id_orders"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_chain_watchdogs")),
        sa.UniqueConstraint("order_id", "kind", name=op.f("uq_chain_watchdogs_order_id")),
    )
    op.create_index(
        "ix_chain_watchdogs_due",
        "chain_watchdogs",
        ["due_at"],
        unique=False,
        postgresql_where=sa.text("done_at IS NULL"),
    )
    op.create_table(
        "order_events",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("order_id", sa.BigInteger(), nullable=False),
        sa.Column("event_id", sa.String(length=200), nullable=False),
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.Column(
            "payload", postgresql.JSONB(astext_type=sa.Text()), server_default="{}", nullable=False
        ),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column(
            "received_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.Column("message_id", sa.BigInteger(), nullable=True),
        sa.Column(
            "response", postgresql.JSONB(astext_type=sa.Text()), server_default="{}", nullable=False
        ),
        sa.ForeignKeyConstraint(
            ["message_id"],
            ["messages.id"],
            name=op.f("fk_order_events_message_id_messages"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["order_id"],
            ["orders.id"],
            name=op.f("fk_order_events_order_id_orders"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_order_events")),
        sa.UniqueConstraint("order_id", "event_id", name=op.f("uq_order_events_order_id")),
    )
    # ### end Alembic commands ###
    templates = sa.table(
        "chain_templates",
        sa.column("status", sa.String),
        sa.column("language", sa.String),
        sa.column("text", sa.Text),
        sa.column("enabled", sa.Boolean),
        sa.column("buttons", postgresql.JSONB),
    )
    op.bulk_insert(templates, DEFAULT_TEMPLATES)


def downgrade() -> None:
    # ### commands auto generated by Alembic - please adjust! ###
    op.drop_table("order_events")
    op.drop_index(
        "ix_chain_watchdogs_due",
        table_name="chain_watchdogs",
        postgresql_where=sa.text("done_at IS NULL"),
    )
    op.drop_table("chain_watchdogs")
    op.drop_index(op.f("ix_orders_contact_id"), table_name="orders")
    op.drop_table("orders")
    op.drop_table("chain_templates")
    # ### end Alembic commands ###
