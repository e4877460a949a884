"""A do-nothing aiohttp server (its own process): the floor of one HTTP round trip from the benchmark's
aiohttp client, to set against lambda-emu's Invoke. Prints its port, serves until SIGTERM."""

from __future__ import annotations

import asyncio
import signal

from aiohttp import web


async def main() -> None:
    async def invoke(_request: web.Request) -> web.Response:
        await _request.read()
        return web.Response(body=b'{"ok": true}', content_type="application/json")

    app = web.Application()
    app.router.add_post("/2015-03-31/functions/{name}/invocations", invoke)
    runner = web.AppRunner(app, access_log=None, handle_signals=False)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    print(f"ready at http://127.0.0.1:{site._server.sockets[0].getsockname()[1]}", flush=True)  # type: ignore[union-attr]  # noqa: SLF001
    await stop.wait()
    await runner.cleanup()


if __name__ == "__main__":
    asyncio.run(main())
