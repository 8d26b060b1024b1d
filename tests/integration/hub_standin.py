"""A stand-in for Docker Hub's search, on loopback, for the image_search tests.

Docker Hub cannot be reached from the test machines. This small HTTP server
stands in for it: it answers the documented v1 search API the Docker daemon
uses for ``docker search`` (``GET /v1/search?q=TERM&n=LIMIT&page=PAGE``, with
``num_results``, ``num_pages``, ``page``, ``page_size``, ``query`` and
``results`` of ``name``, ``description``, ``star_count``, ``is_official``,
``is_automated``), and ``GET /v1/_ping``, which the daemon asks first.

The daemon searches the index named in the term: ``docker search
127.0.0.1:PORT/foo`` asks ``127.0.0.1:PORT`` for ``foo``. Loopback addresses are
insecure registries by default, so the daemon tries HTTPS, fails, and falls
back to plain HTTP, which is what this server speaks.

The server holds a fixed list of repositories and remembers every request, so a
test can check what the daemon asked for.
"""

from __future__ import annotations

import json
from http.server import BaseHTTPRequestHandler
from urllib.parse import parse_qs, urlsplit

import pytest

from standin import LoopbackStandin

# What the stand-in Docker Hub holds: name, description, stars, official, automated.
REPOSITORIES = [
    ('library/busybox', 'Busybox base image.', 3400, True, False),
    ('library/alpine', 'A minimal Docker image based on Alpine Linux', 11000, True, False),
    ('library/nginx', 'Official build of Nginx.', 20000, True, False),
    ('dockyard/busybox-tools', 'busybox with a few extra tools', 12, False, True),
    ('dockyard/busybox-static', 'a static busybox for scratch images', 3, False, False),
    ('someone/tiny-busybox', 'yet another busybox', 0, False, False),
    ('someone/web', 'serves busybox httpd pages', 40, False, True),
]


def _search(term, limit, page):
    """Hub's answer to one search: name or description contains the term, most stars first."""
    term = term.lower()
    found = [entry for entry in REPOSITORIES if term in entry[0].lower() or term in entry[1].lower()]
    found.sort(key=lambda entry: (-entry[2], entry[0]))
    pages = max(1, -(-len(found) // limit))
    chosen = found[(page - 1) * limit:page * limit]
    return {
        'num_results': len(found),
        'num_pages': pages,
        'page': page,
        'page_size': limit,
        'query': term,
        'results': [
            {'name': name, 'description': description, 'star_count': stars,
             'is_official': official, 'is_automated': automated}
            for name, description, stars, official, automated in chosen
        ],
    }


class _Handler(BaseHTTPRequestHandler):
    server_version = 'dockyard-hub-standin/1'

    def log_message(self, *args):  # keep pytest output quiet
        pass

    def _answer(self, status, body):
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header('Content-Type', 'application/json')
        self.send_header('Content-Length', str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        url = urlsplit(self.path)
        query = parse_qs(url.query)
        self.server.requests.append({'path': url.path, 'query': query, 'headers': dict(self.headers)})
        if url.path == '/v1/_ping':
            self.send_response(200)
            self.send_header('Content-Type', 'application/json')
            self.send_header('X-Docker-Registry-Standalone', 'true')
            self.send_header('Content-Length', '4')
            self.end_headers()
            self.wfile.write(b'true')
        elif url.path == '/v1/search':
            limit = int(query.get('n', ['25'])[0])
            page = int(query.get('page', ['1'])[0])
            self._answer(200, _search(query.get('q', [''])[0], limit, page))
        else:
            self._answer(404, {'errors': [{'code': 'NOT_FOUND', 'message': 'no route for %s' % url.path}]})


class HubStandin(LoopbackStandin):
    """The running stand-in, answering as Docker Hub's search API."""

    def __init__(self):
        super().__init__(_Handler)

    def searches(self):
        return [request for request in self.requests if request['path'] == '/v1/search']


@pytest.fixture
def hub_standin():
    server = HubStandin().start()
    yield server
    server.stop()
