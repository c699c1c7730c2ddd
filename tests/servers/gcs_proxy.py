"""A forwarding HTTP proxy in front of fake-gcs-server that calls a hook on each request before
forwarding it: a test sees where a GCS client is in its work (e.g. its first server-side copy)
and can act there, such as killing the client's process, as a crash would."""

from __future__ import annotations

import http.client
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlparse

_HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "proxy-connection", "upgrade"}


@contextmanager
def gcs_proxy(upstream: str, hook: Callable[[str, str], bool | int]) -> Iterator[str]:
    """Serve on loopback, forwarding to `upstream` (the server's URL); `hook(method, path)` runs
    first: when it returns False the request is dropped (the connection closed unanswered), when
    it returns an HTTP status (an int) the proxy answers with it instead of forwarding.
    Yields the proxy's URL (for STORAGE_EMULATOR_HOST)."""
    target = urlparse(upstream)

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args) -> None:
            pass

        def _forward(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else None
            verdict = hook(self.command, self.path)
            if verdict is False:
                self.close_connection = True
                return
            if isinstance(verdict, int) and verdict is not True:  # answer with that status
                message = f"{verdict} from the test proxy\n".encode()
                self.send_response(verdict)
                self.send_header("Content-Type", "text/plain")
                self.send_header("Content-Length", str(len(message)))
                self.end_headers()
                self.wfile.write(message)
                return
            connection = http.client.HTTPConnection(target.hostname, target.port, timeout=60)
            try:
                headers = {k: v for k, v in self.headers.items() if k.lower() not in _HOP_BY_HOP}
                headers["Host"] = target.netloc
                connection.request(self.command, self.path, body=body, headers=headers)
                answer = connection.getresponse()
                content = answer.read()
            finally:
                connection.close()
            self.send_response(answer.status, answer.reason)
            for key, value in answer.getheaders():
                if key.lower() not in _HOP_BY_HOP and key.lower() != "content-length":
                    self.send_header(key, value)
            self.send_header("Content-Length", str(len(content)))
            self.end_headers()
            self.wfile.write(content)

        do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = _forward

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
