"""Benchmark: which HTTP server carries `s3pypi serve`, measured side by side.

    python -m bench.http_servers            # prints the tables (a few minutes)
    python -m bench.http_servers --quick    # fewer requests, for a smoke run
    python -m bench.http_servers --only "s3pypi serve (waitress)" "python -m http.server"

The same index (a directory with 20 projects, 3 versions each, published by `s3pypi upload`)
is served by:
- `s3pypi serve` as shipped (waitress),
- the same application (`s3pypi_core.serve.app.IndexApp`) under uvicorn (h11), cheroot,
  granian (WSGI) and gunicorn (gthread), from `bench/http_app.py`,
- Python's `python -m http.server` over the same directory (no auth),
- pypiserver over the same distribution files (its own pages; htpasswd auth, bcrypt).

Every server runs in a process of its own on 127.0.0.1; clients are threads of this process
using http.client and raw sockets. The candidates other than ours and pypiserver are installed
in a virtual environment of their own under bench/.cache/.

Measures: one client on one kept-alive connection (median and p99 of a page request); 8
clients on kept-alive connections (pages/s); 200 requests from 20 threads each on a new
connection (the slowest, and how many took over 0.5 s); a burst of 200 connections opened at
once (the slowest answer, failures); and with auth on, 200 concurrent wrong passwords (the
server's peak RSS, the slowest answer to a signed-in user during the flood, how the flood
was answered). Then robustness probes: a GET with a body that holds a second request, a
malformed header, a 100 KB header, a half-sent request.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import http.client
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from bench.dists import sdist_bytes, wheel_bytes
from bench.tools import _venv

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
PROJECTS = 20
VERSIONS = ("1.0", "1.1", "2.0")
PASSWORD = "correct horse battery staple"
CANDIDATES = [
    "uvicorn==0.54.0",
    "h11==0.16.0",
    "cheroot==11.1.2",
    "granian==2.8.9",
    "gunicorn==27.0.1",
    "pypiserver==2.4.2",
    "passlib==1.7.4",
    "bcrypt==4.0.1",  # passlib 1.7.4 fails with bcrypt 5
    "waitress==3.0.2",
]


@dataclass
class Server:
    name: str
    command: list[str]
    page: Callable[[str], str]
    """The URL path of a project's page."""
    env: dict[str, str] = field(default_factory=dict)
    auth: bool = False
    process: subprocess.Popen[bytes] | None = None
    port: int = 0


@dataclass
class Row:
    name: str
    figures: dict[str, str] = field(default_factory=dict)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer requests")
    parser.add_argument("--only", nargs="*", help="servers to run (default: all)")
    args = parser.parse_args()
    scale = 0.2 if args.quick else 1.0
    patience = 3.0 if args.quick else 40.0
    with tempfile.TemporaryDirectory(prefix="s3pypi-http-bench-") as tmp:
        work = Path(tmp)
        index, flat = _make_index(work)
        servers = _servers(index, flat)
        if args.only:
            servers = [s for s in servers if s.name in args.only]
        if any("{venv}" in " ".join(s.command) for s in servers):
            venv = _venv("http-servers", [*CANDIDATES, "-e", str(ROOT)])
            for server in servers:
                server.command = [c.replace("{venv}", str(venv)) for c in server.command]
            _write_htpasswd(work / "htpasswd", venv)
        speed, flood, robust = [], [], []
        for server in servers:
            print(f"bench: {server.name}", file=sys.stderr)
            try:
                with _running(server, work):
                    speed.append(_speed(server, scale))
                    robust.append(_robustness(server, patience))
                if server.auth:
                    with _running(server, work, auth=True):
                        flood.append(_flood(server))
            except RuntimeError as e:  # one line, and the other servers still run
                print(f"bench: {server.name}: {str(e).splitlines()[0]}", file=sys.stderr)
    _print("Speed (page requests)", speed)
    _print("200 concurrent wrong passwords (auth on)", flood)
    _print("Robustness", robust)


def _make_index(work: Path) -> tuple[Path, Path]:
    """20 projects x 3 versions (wheel + sdist), published into a directory index by
    `s3pypi upload`; the same files flat for pypiserver; alice in `users.json`."""
    flat = work / "packages"
    flat.mkdir()
    for p in range(PROJECTS):
        for version in VERSIONS:
            for filename, data in (
                wheel_bytes(f"project-{p:02d}", version, b"#" * 4000),
                sdist_bytes(f"project-{p:02d}", version),
            ):
                (flat / filename).write_bytes(data)
    index = work / "index"
    subprocess.run(
        [str(BIN / "s3pypi"), "upload", *map(str, sorted(flat.iterdir())),
         "--repository-url", index.as_uri(), "--put-root-index"],
        check=True,
        capture_output=True,
    )  # fmt: skip
    from s3pypi_core import auth

    (work / "users.json").write_text(json.dumps({"alice": auth.hash_password(PASSWORD)}))
    return index, flat


def _write_htpasswd(path: Path, venv: Path) -> None:
    """alice's password for pypiserver, hashed as `htpasswd -B` does (bcrypt)."""
    subprocess.run(
        [str(venv / "bin" / "python"), "-c", "import sys; from passlib.apache import "
         "HtpasswdFile as H; h = H(sys.argv[1], new=True, default_scheme='bcrypt'); "
         "h.set_password('alice', sys.argv[2]); h.save()", str(path), PASSWORD],
        check=True,
    )  # fmt: skip


def _servers(index: Path, flat: Path) -> list[Server]:
    """The servers, `{venv}` standing for the candidates' virtual environment."""
    ours = lambda name: f"/{name}/"  # noqa: E731
    env = {"BENCH_INDEX": str(index), "PYTHONPATH": str(ROOT)}
    python = "{venv}/bin/python"
    bin_ = Path("{venv}/bin")
    return [
        Server(
            "s3pypi serve (waitress)",
            [str(BIN / "s3pypi"), "serve", "--repository-url", index.as_uri(), "--port", "{port}"],
            ours,
            auth=True,
        ),
        Server("uvicorn + h11 (ASGI)", [python, "-m", "bench.http_app", "uvicorn", "{port}"],
               ours, env, auth=True),
        Server("cheroot (WSGI)", [python, "-m", "bench.http_app", "cheroot", "{port}"],
               ours, env, auth=True),
        Server(
            "granian (WSGI)",
            [str(bin_ / "granian"), "--interface", "wsgi", "--host", "127.0.0.1", "--port",
             "{port}", "--workers", "1", "--blocking-threads", "16", "--backlog", "1024",
             "--log-level", "warning", "bench.http_app:wsgi"],
            ours, env, auth=True,
        ),
        Server(
            "gunicorn gthread (WSGI)",
            [str(bin_ / "gunicorn"), "-k", "gthread", "-w", "1", "--threads", "16", "-b",
             "127.0.0.1:{port}", "--backlog", "1024", "--log-level", "warning",
             "bench.http_app:wsgi"],
            ours, env, auth=True,
        ),
        Server(
            "python -m http.server",
            [sys.executable, "-m", "http.server", "--bind", "127.0.0.1", "--directory", str(index),
             "{port}"],
            ours,
        ),
        # pypiserver picks its HTTP server among paste, cherrypy, twisted and wsgiref: here
        # (as after `pip install pypiserver`) wsgiref.
        Server(
            "pypiserver 2.4.2 (wsgiref)",
            [str(bin_ / "pypi-server"), "run", "-i", "127.0.0.1", "-p", "{port}", "-a", ".",
             "-P", ".", str(flat)],
            lambda name: f"/simple/{name}/",
            auth=True,
        ),
    ]  # fmt: skip


@contextlib.contextmanager
def _running(server: Server, work: Path, *, auth: bool = False) -> Iterator[Server]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        server.port = probe.getsockname()[1]
    command = [part.replace("{port}", str(server.port)) for part in server.command]
    env = {**os.environ, **server.env}
    if auth:
        if server.name.startswith("s3pypi"):
            command += ["--users", str(work / "users.json")]
        elif server.name.startswith("pypiserver"):
            command[command.index("-a") + 1] = "download,list,update"
            command[command.index("-P") + 1] = str(work / "htpasswd")
        else:
            env["BENCH_USERS"] = str(work / "users.json")
    log = open(work / f"{server.port}.log", "wb")  # noqa: SIM115
    server.process = subprocess.Popen(command, env=env, stdout=log, stderr=log, cwd=ROOT)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                _get(server.port, "/")
                break
            except OSError:
                if time.monotonic() > deadline or server.process.poll() is not None:
                    raise RuntimeError(
                        f"{server.name} did not start: {(work / f'{server.port}.log').read_text()}"
                    ) from None
                time.sleep(0.1)
        yield server
    finally:
        server.process.terminate()
        try:
            server.process.wait(10)
        except subprocess.TimeoutExpired:
            server.process.kill()
            server.process.wait()
        log.close()


def _get(
    port: int, path: str, headers: dict[str, str] | None = None, timeout: float = 10
) -> tuple[int, float]:
    """One request on a new connection: its status and seconds."""
    start = time.perf_counter()
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        connection.request("GET", path, headers=headers or {})
        response = connection.getresponse()
        response.read()
        return response.status, time.perf_counter() - start
    finally:
        connection.close()


def _pages(server: Server) -> list[str]:
    return [server.page(f"project-{p:02d}") for p in range(PROJECTS)]


def _speed(server: Server, scale: float) -> Row:
    row = Row(server.name)
    pages = _pages(server)
    headers = {"Accept": "text/html"}

    # One client, one kept-alive connection.
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    times = []
    for i in range(int(600 * scale)):
        start = time.perf_counter()
        connection.request("GET", pages[i % len(pages)], headers=headers)
        response = connection.getresponse()
        response.read()
        assert response.status == 200, (server.name, response.status)
        times.append(time.perf_counter() - start)
    connection.close()
    times = times[int(100 * scale) :]  # warmed up
    row.figures["median (ms)"] = f"{statistics.median(times) * 1000:.2f}"
    row.figures["p99 (ms)"] = f"{statistics.quantiles(times, n=100)[98] * 1000:.1f}"

    # 8 clients, each on its own kept-alive connection.
    per_client = int(250 * scale)

    def client(n: int) -> None:
        c = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
        for i in range(per_client):
            c.request("GET", pages[(n + i) % len(pages)], headers=headers)
            r = c.getresponse()
            r.read()
        c.close()

    seconds = _threads(8, client)
    row.figures["8 clients (pages/s)"] = f"{8 * per_client / seconds:.0f}"

    # 200 requests from 20 threads, each on a new connection.
    latencies: list[float] = []
    lock = threading.Lock()

    def fresh(n: int) -> None:
        for i in range(10):
            _, t = _get(server.port, pages[(n + i) % len(pages)], headers)
            with lock:
                latencies.append(t)

    _threads(20, fresh)
    row.figures["new conns: max (ms)"] = f"{max(latencies) * 1000:.0f}"
    row.figures["> 0.5 s"] = str(sum(t > 0.5 for t in latencies))

    # A burst: 200 connections at once, one request each.
    burst: Counter[str] = Counter()
    slowest = [0.0]

    def one(n: int) -> None:
        try:
            status, t = _get(server.port, pages[n % len(pages)], headers, timeout=10)
            with lock:
                burst[str(status)] += 1
                slowest[0] = max(slowest[0], t)
        except OSError as e:
            with lock:
                burst[type(e).__name__] += 1

    _threads(200, one)
    row.figures["burst of 200: max (ms)"] = f"{slowest[0] * 1000:.0f}"
    row.figures["burst failures"] = str(sum(n for k, n in burst.items() if k != "200"))
    return row


def _flood(server: Server) -> Row:
    """200 concurrent wrong passwords while a signed-in user keeps installing."""
    assert server.process is not None
    row = Row(server.name)
    page = _pages(server)[0]
    valid = {"Authorization": _basic("alice", PASSWORD), "Accept": "text/html"}
    status, _ = _get(server.port, page, valid, timeout=30)  # signs in: later checks are cached
    assert status == 200, (server.name, status)
    rss = _TreeRSS(server.process.pid)
    rss.start()
    answers: Counter[str] = Counter()
    user_latencies: list[float] = []
    user_statuses: Counter[int] = Counter()
    lock = threading.Lock()
    flooding = threading.Event()
    flooding.set()

    def attacker(n: int) -> None:
        try:
            status, _ = _get(server.port, page, {"Authorization": _basic("alice", f"x{n}")}, 60)
            key = str(status)
        except OSError as e:
            key = type(e).__name__
        with lock:
            answers[key] += 1

    def user() -> None:
        while flooding.is_set():
            try:
                status, t = _get(server.port, page, valid, timeout=30)
            except OSError:
                status, t = 0, 30.0
            user_latencies.append(t)
            user_statuses[status] += 1
            time.sleep(0.05)

    user_thread = threading.Thread(target=user)
    user_thread.start()
    seconds = _threads(200, attacker)
    flooding.clear()
    user_thread.join()
    rss.stop()
    row.figures["flood answered in (s)"] = f"{seconds:.1f}"
    row.figures["answers"] = ", ".join(f"{n} x {k}" for k, n in sorted(answers.items()))
    row.figures["peak RSS (MiB)"] = f"{rss.peak / 2**20:.0f}"
    row.figures["signed-in user: max (ms)"] = f"{max(user_latencies) * 1000:.0f}"
    row.figures["signed-in user: answers"] = ", ".join(
        f"{n} x {k}" for k, n in sorted(user_statuses.items())
    )
    return row


def _robustness(server: Server, patience: float) -> Row:
    row = Row(server.name)
    page = _pages(server)[0].encode()
    smuggled = b"GET " + page + b" HTTP/1.1\r\nHost: x\r\n\r\n"
    row.figures["GET with a body"] = _raw(
        server.port,
        b"GET "
        + page
        + b" HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % len(smuggled)
        + smuggled,
        lambda data: f"{data.count(b'HTTP/1.')} response(s)",
    )
    row.figures["bad header line"] = _raw(
        server.port, b"GET / HTTP/1.1\r\nHost: x\r\nno colon here\r\n\r\n", _status
    )
    row.figures["100 KB header"] = _raw(
        server.port, b"GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 100_000 + b"\r\n\r\n", _status
    )
    row.figures["half-sent request"] = _half_sent(server.port, patience)
    return row


def _raw(port: int, data: bytes, judge: Callable[[bytes], str]) -> str:
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        try:
            s.sendall(data)
        except OSError as e:
            return type(e).__name__
        received = b""
        s.settimeout(1.0)
        with contextlib.suppress(OSError):
            while chunk := s.recv(65536):
                received += chunk
    return judge(received) if received else "no answer"


def _status(data: bytes) -> str:
    first = data.split(b"\r\n", 1)[0].decode("latin-1")
    return first.split(" ", 2)[1] if first.startswith("HTTP/") else "?"


def _half_sent(port: int, patience: float) -> str:
    """How long a connection that sent half a request line is kept (up to `patience`)."""
    with socket.create_connection(("127.0.0.1", port), timeout=patience) as s:
        s.sendall(b"GET / HT")
        start = time.monotonic()
        try:
            s.recv(1024)
        except TimeoutError:
            return f"kept > {patience:.0f} s"
        except OSError:
            pass
        return f"closed after {time.monotonic() - start:.0f} s"


def _threads(n: int, target: Callable[[int], None]) -> float:
    barrier = threading.Barrier(n)

    def run(i: int) -> None:
        barrier.wait()
        target(i)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return time.perf_counter() - start


def _basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


class _TreeRSS(threading.Thread):
    """The peak of the resident memory of a process and its children, sampled."""

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.pid = pid
        self.peak = 0
        self._stop_event = threading.Event()

    def run(self) -> None:
        while not self._stop_event.wait(0.01):
            self.peak = max(self.peak, sum(_rss(p) for p in _tree(self.pid)))

    def stop(self) -> None:
        self._stop_event.set()
        self.join()


def _tree(pid: int) -> list[int]:
    pids = [pid]
    for p in pids:
        for task in Path(f"/proc/{p}/task").glob("*/children"):
            with contextlib.suppress(OSError):
                pids += [int(c) for c in task.read_text().split()]
    return pids


def _rss(pid: int) -> int:
    with contextlib.suppress(OSError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return 0


def _print(title: str, rows: list[Row]) -> None:
    if not rows:
        return
    columns = list(rows[0].figures)
    print(f"\n{title}\n")
    print("| server | " + " | ".join(columns) + " |")
    print("|---|" + "---:|" * len(columns))
    for row in rows:
        print(f"| {row.name} | " + " | ".join(row.figures.get(c, "") for c in columns) + " |")


if __name__ == "__main__":
    main()
