"""Helpers of the job tests: run burst workers until a condition holds; a local HTTP server as the HIS."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from redis import Redis

from dialer import jobs


def work(connection: Redis, until: Callable[[], bool], *, timeout_s: float = 30.0) -> None:
    """Run burst rq workers (with the scheduler, in this process) until ``until()`` holds."""
    deadline = time.monotonic() + timeout_s
    queues = [jobs.queue(q, connection) for q in jobs.QUEUES]
    while True:
        jobs.SimpleWorker(queues, connection=connection).work(burst=True, with_scheduler=True)
        if until():
            return
        if time.monotonic() > deadline:
            raise AssertionError("the jobs did not reach the expected state in time")
        time.sleep(0.2)


class Endpoint:
    """A local HTTP server standing in for the hospital's HIS: answers with ``statuses`` in turn (the last
    repeats) and keeps every request."""

    def __init__(self, statuses: list[int]) -> None:
        self.statuses = statuses
        self.requests: list[dict[str, Any]] = []
        endpoint = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                n = len(endpoint.requests)
                endpoint.requests.append({"headers": dict(self.headers), "body": body, "path": self.path})
                status = endpoint.statuses[min(n, len(endpoint.statuses) - 1)]
                self.send_response(status)
                self.send_header("Content-Type", "text/plain")
                self.end_headers()
                self.wfile.write(b"ok" if status < 300 else b"HIS unavailable")

            def log_message(self, *_: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/his/followup"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
