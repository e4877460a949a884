"""Serving a run: the HTTP server bound (port 0 picks a free one), then the rooms started.

Above the composition root (app.py builds the rooms; this binds the front door they answer through);
``lambda-emu up`` and the tests' in-thread servers start a run here.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, cast

if TYPE_CHECKING:
    from aiohttp import web

    from lambda_emu.app import Emulator


async def serve(emu: Emulator) -> web.AppRunner:
    """Start serving; returns the runner (``await runner.cleanup()`` stops everything)."""
    from aiohttp import web

    from lambda_emu.emulator.server import STOP_GRACE_SECONDS, build_app

    app = build_app(emu.frontend, emu.stop, guard=emu.request_guard.guarded,
                    before_answer=emu.state.commit if emu.state is not None else None)
    # A stop never waits for handlers: in-flight calls are cut (see server.stop_serving).
    runner = web.AppRunner(app, access_log=None, handle_signals=False, shutdown_timeout=STOP_GRACE_SECONDS)
    await runner.setup()
    site = web.TCPSite(runner, emu.config.host, emu.config.port, reuse_address=True)
    await site.start()
    # aiohttp types its server as AbstractServer; loop.create_server made an asyncio.Server.
    server = cast("asyncio.Server | None", site._server)  # noqa: SLF001 - the bound port
    sockets = server.sockets if server is not None else ()
    if sockets:
        emu.port = sockets[0].getsockname()[1]
    # Rooms start once the port is known: queue URLs and runtime endpoints name it.
    await emu.start()
    return runner
