"""What the HTTP stand-ins of the tests share: a threaded server on a free loopback port that keeps its requests.

A stand-in replaces a real service only for a fault or an API that the real one cannot give here (each
stand-in's docstring says which); its handler appends what it was asked to ``server.requests``.
"""

from __future__ import annotations

import threading
from http.server import ThreadingHTTPServer


class LoopbackStandin:
    """A running stand-in: ``address`` is ``127.0.0.1:PORT``, ``requests`` what it was asked, in order."""

    def __init__(self, handler):
        self._server = ThreadingHTTPServer(('127.0.0.1', 0), handler)
        self._server.requests = []
        self.address = '127.0.0.1:%d' % self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def requests(self):
        return self._server.requests

    def start(self):
        self._thread.start()
        return self

    def stop(self):
        self._server.shutdown()
        self._server.server_close()
