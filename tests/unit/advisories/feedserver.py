"""A real HTTP server on 127.0.0.1 serving feed fixtures, with the failure modes feeds meet.

Each path maps to a :class:`Resource` (static bytes with validators) or a handler
function (dynamic answers such as NVD paging). A resource can answer ``304`` to
matching ``If-None-Match`` / ``If-Modified-Since``, give some error answers first
(``429`` with ``Retry-After``, ``503``), or announce its full ``Content-Length`` and
then close the connection half way (a truncated download). Every request is logged.
"""

from __future__ import annotations

import gzip
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit


@dataclass
class Resource:
    body: bytes
    etag: str | None = None
    last_modified: str | None = None
    content_type: str = "application/octet-stream"
    # answers given (and consumed) before the real one: (status, headers)
    before: list[tuple[int, dict[str, str]]] = field(default_factory=list)
    truncate_at: int | None = None  # send only this many bytes of a full Content-Length
    truncate_times: int | None = None  # how many answers are truncated (None: all)
    gzip: bool = False  # Content-Encoding: gzip when the client accepts it


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]


Handler = Callable[[Request], tuple[int, Mapping[str, str], bytes]]


@dataclass
class FeedServer:
    url: str = ""
    resources: dict[str, Resource] = field(default_factory=dict)
    handlers: dict[str, Handler] = field(default_factory=dict)
    requests: list[Request] = field(default_factory=list)

    def paths(self) -> list[str]:
        return [r.path for r in self.requests]


@contextmanager
def feed_server() -> Iterator[FeedServer]:
    state = FeedServer()
    lock = threading.Lock()

    class H(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:
            pass

        def _send(self, status: int, headers: Mapping[str, str], body: bytes) -> None:
            self.send_response(status)
            for k, v in headers.items():
                self.send_header(k, v)
            if "Content-Length" not in headers:
                self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if body:
                self.wfile.write(body)

        def do_GET(self) -> None:
            parts = urlsplit(self.path)
            req = Request(
                "GET",
                parts.path,
                parse_qs(parts.query),
                {k.lower(): v for k, v in self.headers.items()},
            )
            with lock:
                state.requests.append(req)
                handler = state.handlers.get(parts.path)
                res = state.resources.get(parts.path)
                early = res.before.pop(0) if res is not None and res.before else None
                truncate = res is not None and res.truncate_at is not None
                if truncate and res is not None and res.truncate_times is not None:
                    truncate = res.truncate_times > 0
                    res.truncate_times -= 1
            if handler is not None:
                self._send(*handler(req))
                return
            if res is None:
                self._send(404, {"Content-Type": "text/plain"}, b"not found\n")
                return
            if early is not None:
                self._send(early[0], early[1], b"")
                return
            validators: dict[str, str] = {}
            if res.etag:
                validators["ETag"] = res.etag
            if res.last_modified:
                validators["Last-Modified"] = res.last_modified
            inm = req.headers.get("if-none-match")
            ims = req.headers.get("if-modified-since")
            if (res.etag and inm == res.etag) or (
                inm is None and res.last_modified and ims == res.last_modified
            ):
                self._send(304, validators, b"")
                return
            body = res.body
            headers = {"Content-Type": res.content_type, **validators}
            if res.gzip and "gzip" in req.headers.get("accept-encoding", ""):
                body = gzip.compress(body)
                headers["Content-Encoding"] = "gzip"
            if truncate and res.truncate_at is not None:
                headers["Content-Length"] = str(len(body))
                self.send_response(200)
                for k, v in headers.items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(body[: res.truncate_at])
                self.wfile.flush()
                self.close_connection = True
                return
            self._send(200, headers, body)

    server = ThreadingHTTPServer(("127.0.0.1", 0), H)
    server.daemon_threads = True
    state.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)
