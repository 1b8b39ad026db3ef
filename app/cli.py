"""The `chatcentre` command."""

import asyncio
import getpass
import logging
import logging.config
import os
import signal
from collections.abc import Awaitable, Callable
from typing import Annotated, Any, TypeVar

import typer
import uvicorn
from sqlalchemy.ext.asyncio import AsyncSession

from app.config import Settings, get_settings

# uvicorn's sans-I/O WebSocket protocol: a send is a write, without the legacy
# implementation's drain and lock per frame (tests serve with the same). The hub's fast
# path writes frames to this protocol's transport (app/realtime/wire.py; uvicorn is pinned
# in pyproject.toml, and tests/realtime/test_direct_frames.py fails if that stops working).
WS_PROTOCOL = "websockets-sansio"

T = TypeVar("T")

cli = typer.Typer(help="chatcentre: omnichannel chat-centre backend", no_args_is_help=True)
operator_cli = typer.Typer(help="Manage operators", no_args_is_help=True)
channel_cli = typer.Typer(help="Manage channel accounts", no_args_is_help=True)
apikey_cli = typer.Typer(help="Manage integration API keys", no_args_is_help=True)
cli.add_typer(operator_cli, name="operator")
cli.add_typer(channel_cli, name="channel")
cli.add_typer(apikey_cli, name="apikey")


def _settings_with_database() -> Settings:
    """Resolve the database once (starting the embedded server if needed) and pin its URL
    in the environment, so worker processes started by uvicorn use the same one."""
    from app.db.engine import resolve_database_url

    settings = get_settings()
    url = resolve_database_url(settings)
    os.environ["CHATCENTRE_DATABASE_URL"] = url
    get_settings.cache_clear()
    return get_settings()


def _migrate(settings: Settings) -> None:
    from app.db.migrate import upgrade_sync

    assert settings.database_url
    upgrade_sync(settings.database_url)


@cli.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Bind address")] = None,
    port: Annotated[int | None, typer.Option(help="Port")] = None,
    workers: Annotated[int, typer.Option(help="HTTP worker processes")] = 1,
    migrate: Annotated[bool, typer.Option(help="Upgrade the schema first")] = True,
) -> None:
    """Run the API (and the dispatcher, unless CHATCENTRE_RUN_WORKERS=false)."""
    from app.observability.redact import log_config

    settings = _settings_with_database()
    logging.config.dictConfig(log_config(settings.log_level))
    if migrate:
        _migrate(settings)
    uvicorn.run(
        "app.main:create_app",
        factory=True,
        host=host or settings.host,
        port=port or settings.port,
        workers=workers,
        log_config=log_config(settings.log_level),  # every handler redacts credentials
        log_level=settings.log_level,
        # X-Forwarded-* are read by the app, only from CHATCENTRE_TRUSTED_PROXIES.
        proxy_headers=False,
        ws_per_message_deflate=settings.ws_compression,
        ws=WS_PROTOCOL,
    )


@cli.command()
def worker() -> None:
    """Run the background workers alone (no HTTP), to scale them apart from the API."""
    from app import handlers, plugins
    from app.core.context import build_context
    from app.observability.redact import log_config
    from app.workers import Workers
    from connectors import registry as connectors_registry

    settings = _settings_with_database()
    logging.config.dictConfig(log_config(settings.log_level))
    _migrate(settings)

    async def run() -> None:
        ctx = build_context(settings)
        handlers.install()
        plugins.configure(settings)
        await ctx.bus.start()
        workers = Workers(ctx)
        await workers.start()
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await stop.wait()
        await workers.stop()
        await connectors_registry.close_all()
        await ctx.close()

    asyncio.run(run())


@cli.command()
def migrate() -> None:
    """Upgrade the database schema to the latest version."""
    _migrate(_settings_with_database())
    typer.echo("database is at head")


def _run_in_session(fn: Callable[[AsyncSession], Awaitable[T]]) -> T:
    from app import handlers
    from app.core.context import build_context

    settings = _settings_with_database()
    _migrate(settings)

    async def runner() -> T:
        ctx = build_context(settings)
        handlers.install()
        try:
            async with ctx.sessions() as session:
                result = await fn(session)
                await session.commit()
                return result
        finally:
            await ctx.engine.dispose()

    return asyncio.run(runner())


@operator_cli.command("create")
def operator_create(
    email: Annotated[str, typer.Option(help="Login email")],
    name: Annotated[str, typer.Option(help="Display name")] = "Admin",
    role: Annotated[str, typer.Option(help="admin or operator")] = "admin",
    password: Annotated[
        str | None,
        typer.Option(
            help="Password (prompted when omitted)", envvar="CHATCENTRE_OPERATOR_PASSWORD"
        ),
    ] = None,
) -> None:
    """Create an operator (the first admin, typically)."""
    from app.core.errors import DomainError
    from app.operators import service as operators_service
    from app.operators.models import Role
    from app.operators.schemas import OperatorCreate

    if password is None:
        password = getpass.getpass("Password: ")
    try:
        data = OperatorCreate(email=email, name=name, password=password, role=Role(role))
    except ValueError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc

    async def create(session: AsyncSession) -> Any:
        return await operators_service.create_operator(session, data)

    try:
        op = _run_in_session(create)
    except DomainError as exc:
        typer.echo(f"error: {exc.message}", err=True)
        raise typer.Exit(1) from exc
    typer.echo(f"operator {op.id} created: {op.email} ({op.role.value})")


@channel_cli.command(
    "add", context_settings={"allow_extra_args": True, "ignore_unknown_options": True}
)
def channel_add(
    ctx: typer.Context,
    type_: Annotated[
        str,
        typer.Argument(metavar="TYPE", help="A channel type: webchat, telegram, whatsapp, vk, ..."),
    ],
    name: Annotated[str | None, typer.Option(help="Display name (default: by type)")] = None,
    origin: Annotated[
        list[str] | None, typer.Option(help="Allowed site origin (repeat); none = any")
    ] = None,
    phone_number_id: Annotated[
        str | None, typer.Option(help="whatsapp: phone number id (Meta dashboard)")
    ] = None,
    access_token: Annotated[
        str | None,
        typer.Option(
            help="whatsapp: permanent access token; vk: community access token",
            envvar="CHATCENTRE_WA_ACCESS_TOKEN",
        ),
    ] = None,
    app_secret: Annotated[
        str | None,
        typer.Option(help="whatsapp: the Meta app's secret", envvar="CHATCENTRE_WA_APP_SECRET"),
    ] = None,
    verify_token: Annotated[
        str | None, typer.Option(help="whatsapp: webhook verify token (you choose it)")
    ] = None,
    token: Annotated[
        str | None,
        typer.Option(
            help="telegram: bot token from @BotFather", envvar="CHATCENTRE_TELEGRAM_TOKEN"
        ),
    ] = None,
    mode: Annotated[
        str | None,
        typer.Option(
            help="telegram: webhook or polling; vk: callback or longpoll "
            "(default: webhook/callback if a public URL is set)"
        ),
    ] = None,
    group_id: Annotated[int | None, typer.Option(help="vk: the community's id")] = None,
    confirmation_code: Annotated[
        str | None, typer.Option(help="vk: the Callback API confirmation string")
    ] = None,
    secret: Annotated[
        str | None,
        typer.Option(
            help="vk: the Callback API secret key (default: generated, shown once)",
            envvar="CHATCENTRE_VK_SECRET",
        ),
    ] = None,
) -> None:
    """Connect a channel account and print its keys. Each channel's plugin reads the flags
    that concern it, and may take options of its own (email: --imap-host, --smtp-host,
    --username, --address, ...; see the README)."""
    from app import plugins  # noqa: F401 - registers the channel plugins
    from app.channels import registry
    from app.channels import service as channels_service
    from app.channels.schemas import ChannelCreate
    from app.core.errors import DomainError

    flags = {
        "origin": origin,
        "phone_number_id": phone_number_id,
        "access_token": access_token,
        "app_secret": app_secret,
        "verify_token": verify_token,
        "token": token,
        "mode": mode,
        "group_id": group_id,
        "confirmation_code": confirmation_code,
        "secret": secret,
    }
    try:
        plugin = registry.get(type_)
    except DomainError as exc:
        typer.echo(f"error: {exc.message}", err=True)
        raise typer.Exit(2) from exc
    try:
        flags |= _plugin_flags(plugin.cli_flags, ctx.args)
    except ValueError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc
    settings, credentials = plugin.cli_values(flags)
    data = ChannelCreate(
        type=plugin.type,
        name=name or plugin.default_name,
        settings=settings,
        credentials=credentials,
    )

    async def create(session: AsyncSession) -> Any:
        return await channels_service.create_channel(session, data)

    try:
        channel, generated = _run_in_session(create)
    except DomainError as exc:
        typer.echo(f"error: {exc.message}", err=True)
        raise typer.Exit(1) from exc
    typer.echo(f"channel {channel.id} ({channel.type}) created")
    for line in plugin.describe(channel, get_settings().public_url):
        typer.echo(line)
    for key, value in generated.items():
        typer.echo(f"{key} (shown once): {value}")


def _plugin_flags(known: Any, args: list[str]) -> dict[str, str]:
    """`--name value` / `--name=value` pairs a channel's plugin declares (cli_flags)."""
    flags: dict[str, str] = {}
    rest = list(args)
    while rest:
        arg = rest.pop(0)
        name, eq, value = arg.removeprefix("--").partition("=")
        if not arg.startswith("--") or name not in known:
            raise ValueError(f"unknown option {arg!r} for this channel type")
        if not eq:
            if not rest:
                raise ValueError(f"{arg} needs a value")
            value = rest.pop(0)
        flags[name.replace("-", "_")] = value
    return flags


@apikey_cli.command("create")
def apikey_create(
    name: Annotated[str, typer.Option(help="What the key is for")],
    scope: Annotated[list[str], typer.Option(help="Scope (repeat)")],
) -> None:
    """Create an integration API key and print it once."""
    from app.operators import service as operators_service
    from app.operators.schemas import ApiKeyCreate

    async def create(session: AsyncSession) -> Any:
        return await operators_service.create_api_key(
            session, ApiKeyCreate(name=name, scopes=scope), None
        )

    key, full = _run_in_session(create)
    typer.echo(f"api key {key.id} created; scopes: {', '.join(key.scopes)}")
    typer.echo(f"key (shown once): {full}")


def main() -> None:
    cli()
