"""`xuncha serve`: both apps, the mailbox and the worker in one process.

This module is the composition root, so it alone may import both apps.
Hypercorn serves each app on its own bind with no access log: the public
app must never record who visited (SPEC §3).
"""

from __future__ import annotations

import asyncio
import errno
import signal
import socket
import sys
from collections.abc import Awaitable, Callable

from hypercorn.asyncio import serve as hypercorn_serve
from hypercorn.config import Config

from admin.app import create_app as create_staff_app
from admin.worker import maintenance_services, notification_services
from core.errors import ConfigError
from core.runtime import Runtime
from core.settings import Bind, Settings
from intake.app import create_app as create_public_app
from intake.mailbox import start_mailbox

GRACEFUL_SECONDS = 8.0


def hypercorn_config(bind: Bind) -> Config:
    config = Config()
    config.bind = [str(bind)]
    config.accesslog = None
    config.errorlog = None
    config.include_server_header = False
    config.graceful_timeout = GRACEFUL_SECONDS
    config.h11_max_incomplete_size = 16 * 1024
    return config


def check_free(name: str, bind: Bind) -> None:
    """Fail fast, with one line, when a bind address is taken or not ours."""
    family = socket.AF_INET6 if ":" in bind.host else socket.AF_INET
    probe = socket.socket(family, socket.SOCK_STREAM)
    try:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        probe.bind((bind.host, bind.port))
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            raise ConfigError(name, f"{bind} is already in use by another program") from None
        raise ConfigError(name, f"cannot listen on {bind}: {exc.strerror}") from None
    finally:
        probe.close()


async def run(
    settings: Settings,
    *,
    announce: Callable[[str], None] = print,
    extra_services: Callable[[Runtime, asyncio.Event], list[Awaitable[None]]] | None = None,
) -> None:
    runtime = Runtime.open(settings)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    public = create_public_app(settings, runtime)
    staff = create_staff_app(settings, runtime)
    announce(f"public  http://{settings.public_bind}/")
    announce(f"staff   http://{settings.staff_bind}/")
    services: list[Awaitable[None]] = []
    if settings.mailbox_bind is not None:
        try:
            services.append(await start_mailbox(runtime, stop, announce))
        except BaseException:
            await runtime.close()
            raise
    services += [
        hypercorn_serve(public, hypercorn_config(settings.public_bind), shutdown_trigger=stop.wait),  # type: ignore[arg-type]
        hypercorn_serve(staff, hypercorn_config(settings.staff_bind), shutdown_trigger=stop.wait),  # type: ignore[arg-type]
    ]
    services.extend(notification_services(runtime, stop, announce))
    services.extend(maintenance_services(runtime, stop))
    if extra_services is not None:
        services.extend(extra_services(runtime, stop))
    try:
        await asyncio.gather(*services)
    finally:
        await runtime.close()
        print("stopped", file=sys.stderr)
