"""`s3pypi serve`'s application behind other HTTP servers, for `bench/http_servers.py`.

The same `IndexApp` (routing, negotiation, auth) over the same directory, only the server
differs. Configured by environment: BENCH_INDEX (the index directory) and BENCH_USERS (a
users file, optional). Run as `python -m bench.http_app SERVER PORT` for the servers started
from Python (uvicorn, cheroot); granian and gunicorn import `bench.http_app:wsgi` / `:asgi`.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import os
import sys
from collections.abc import Awaitable, Callable, MutableMapping
from pathlib import Path
from typing import Any

from s3pypi_core.layout import IndexLayout
from s3pypi_core.serve.app import IndexApp, Request
from s3pypi_core.serve.gate import Gate, WatchedUsersFile
from s3pypi_core.serve.server import _wsgi
from s3pypi_core.storage import LocalStorage

Scope = MutableMapping[str, Any]


class _Pool(concurrent.futures.ThreadPoolExecutor):
    pass


Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]


def _app() -> IndexApp:
    users = os.environ.get("BENCH_USERS")
    gate = Gate(WatchedUsersFile(Path(users))) if users else None
    return IndexApp(LocalStorage(Path(os.environ["BENCH_INDEX"])), IndexLayout(), gate=gate)


APP = _app() if "BENCH_INDEX" in os.environ else None
wsgi = _wsgi(APP, "s3pypi") if APP else None


async def asgi(scope: Scope, receive: Receive, send: Send) -> None:
    """The ASGI translation: the (blocking) application runs in a worker thread."""
    if scope["type"] == "lifespan":
        while (await receive())["type"] != "lifespan.shutdown":
            await send({"type": "lifespan.startup.complete"})
        await send({"type": "lifespan.shutdown.complete"})
        return
    assert APP is not None
    loop = asyncio.get_running_loop()
    if not isinstance(getattr(loop, "_default_executor", None), _Pool):
        loop.set_default_executor(_Pool(16))  # as many threads as the WSGI servers get
    target = scope.get("raw_path", scope["path"].encode()).decode("latin-1")
    if scope.get("query_string"):
        target += "?" + scope["query_string"].decode("latin-1")
    request = Request(
        method=scope["method"],
        target=target,
        headers={k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]},
        client=scope["client"][0] if scope.get("client") else "-",
    )
    response = await asyncio.to_thread(APP, request)
    await send(
        {
            "type": "http.response.start",
            "status": response.status.value,
            "headers": [(k.encode("latin-1"), v.encode("latin-1")) for k, v in response.headers],
        }
    )
    body = b"".join(await asyncio.to_thread(list, response.body))
    if response.close:
        response.close()
    await send({"type": "http.response.body", "body": body})


def main(server: str, port: int) -> None:
    if server == "uvicorn":
        import uvicorn

        uvicorn.run(
            asgi,
            host="127.0.0.1",
            port=port,
            http="h11",
            loop="asyncio",
            backlog=1024,
            timeout_keep_alive=30,
            log_level="warning",
            access_log=False,
        )
    elif server == "cheroot":
        from cheroot import wsgi as cheroot_wsgi

        httpd = cheroot_wsgi.Server(
            ("127.0.0.1", port), wsgi, numthreads=16, request_queue_size=1024, timeout=30
        )
        httpd.start()
    else:
        raise SystemExit(f"unknown server {server}")


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]))
