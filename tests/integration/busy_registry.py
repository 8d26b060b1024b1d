"""A stand-in for a busy registry, on loopback: it answers 429 or 503 with Retry-After, for the retry tests.

The real registry (docker-registry, the CNCF distribution) never answers 429 Too Many Requests and
gives no Retry-After, and a stopped or frozen one only refuses or stalls connections; a registry
that asks its clients to come back later cannot be produced with it. This small HTTP server stands
in for exactly that fault and nothing else: it speaks plain HTTP, answers each request with the
next of the failures the test scripted (status and headers), and once they are used up answers as
a v2 registry does for ``GET /v2/``, ``GET /v2/_catalog`` and ``GET /v2/NAME/tags/list``.

It records each request with the time it came, so a test can check the waits between them.
"""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler
from urllib.parse import urlsplit

import pytest

from standin import LoopbackStandin

# What the stand-in holds once it answers: repository -> tags.
REPOSITORIES = {'busy/one': ['1.0'], 'busy/two': ['2.0', 'latest']}


class _Handler(BaseHTTPRequestHandler):
    server_version = 'dockyard-busy-registry/1'
    protocol_version = 'HTTP/1.1'

    def log_message(self, *args):  # keep pytest output quiet
        pass

    def _answer(self, status, body, headers=()):
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header('Content-Type', 'application/json')
        self.send_header('Content-Length', str(len(data)))
        self.send_header('Docker-Distribution-API-Version', 'registry/2.0')
        for name, value in headers:
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):  # noqa: N802  # the name http.server calls
        path = urlsplit(self.path).path
        with self.server.lock:
            self.server.requests.append({'path': path, 'at': time.monotonic()})
            failure = self.server.failures.pop(0) if self.server.failures else None
        if failure:
            status, headers = failure
            self._answer(status, {'errors': [{'code': 'BUSY', 'message': 'the stand-in answers %d' % status}]},
                         headers)
        elif path == '/v2/':
            self._answer(200, {})
        elif path == '/v2/_catalog':
            self._answer(200, {'repositories': sorted(REPOSITORIES)})
        elif path.startswith('/v2/') and path.endswith('/tags/list') and path[4:-10] in REPOSITORIES:
            self._answer(200, {'name': path[4:-10], 'tags': REPOSITORIES[path[4:-10]]})
        else:
            self._answer(404, {'errors': [{'code': 'NAME_UNKNOWN', 'message': 'no route for %s' % path}]})


class BusyRegistry(LoopbackStandin):
    """The running stand-in: ``url`` is ``http://127.0.0.1:PORT``; ``fail(...)`` scripts the next answers."""

    def __init__(self):
        super().__init__(_Handler)
        self._server.failures, self._server.lock = [], threading.Lock()
        self.url = 'http://' + self.address

    def fail(self, *failures):
        """Answer the next requests with these ``(status, [(header, value)...])``, in turn."""
        self._server.failures.extend(failures)

    def gaps(self, path):
        """Seconds between consecutive requests for ``path``."""
        times = [request['at'] for request in self.requests if request['path'] == path]
        return [later - earlier for earlier, later in zip(times, times[1:])]


@pytest.fixture
def busy_registry():
    server = BusyRegistry().start()
    yield server
    server.stop()
