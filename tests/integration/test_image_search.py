"""image_search against the real engine and real registries: docker search TERM, and a v2 catalog.

Two paths:
- Through the daemon (``docker search``): Docker Hub cannot be reached from the test machines, so
  the daemon searches hub_standin.py, a small local server that stands in for Docker Hub and
  answers its documented ``/v1/search`` format. The daemon searches the index named in the term
  (``127.0.0.1:PORT/busybox``), which is how the tests point it at the stand-in.
- From a registry's catalog (``registry:``): the engine's real registry (plain HTTP), and real
  ``docker-registry`` instances with htpasswd auth behind TLS (secure_registry.py).
"""

from __future__ import annotations

import base64
import datetime
import json
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import docker
import pytest
import requests

from conftest import task
from hub_standin import _search, hub_standin  # noqa: F401  # pylint: disable=unused-import
from secure_registry import SecureRegistry, docker_config, engine_api_version
from secure_registry import secure_registry  # noqa: F401  # pylint: disable=unused-import

# A pushed image's manifest: Docker's schema 2 from the classic store, OCI from the containerd store.
MANIFEST_TYPES = 'application/vnd.docker.distribution.manifest.v2+json, application/vnd.oci.image.manifest.v1+json'
# Engine API 1.44 (Docker 25) deprecated is_automated: the daemon answers false for every repository.
AUTOMATED_DROPPED_API = (1, 44)
# From API 1.45 (Docker 26) the daemon takes every repository as not automated when it filters, too.
AUTOMATED_FILTER_DROPPED_API = (1, 45)


def hub_results(engine, term, limit=25):
    """What the stand-in holds for ``term``, as image_search returns it through ``engine``'s daemon."""
    automated_known = engine_api_version(engine) < AUTOMATED_DROPPED_API
    return [{'name': entry['name'], 'description': entry['description'], 'stars': entry['star_count'],
             'official': entry['is_official'], 'automated': entry['is_automated'] and automated_known}
            for entry in _search(term, limit, 1)['results']]


# --- through the daemon, against the Docker Hub stand-in ----------------------------------------


def test_hub_search_returns_what_the_standin_holds(ansible, engine, hub_standin):  # noqa: F811
    term = '%s/busybox' % hub_standin.address
    check, apply = ansible.run(task('image_search', check=True, term=term), task('image_search', term=term)).results
    expected = hub_results(engine, 'busybox')
    assert len(expected) == 5
    for result in (check, apply):
        assert result['changed'] is False
        assert result['results'] == expected
    assert [search['query'] for search in hub_standin.searches()] == [{'q': ['busybox'], 'n': ['25']}] * 2

    # docker search finds the same through the same daemon.
    shown = [json.loads(line) for line in engine.cli('search', '--no-trunc', '--format', '{{json .}}', term).splitlines()]
    assert [(row['Name'], int(row['StarCount'])) for row in shown] == [(r['name'], r['stars']) for r in expected]


def test_hub_search_with_limit_and_filters(ansible, engine, hub_standin):  # noqa: F811
    term = '%s/busybox' % hub_standin.address
    limited, official, unofficial_starred, automated = ansible.run(
        task('image_search', term=term, limit=2),
        task('image_search', term=term, filters={'is-official': True}),
        task('image_search', term=term, limit=4, filters={'stars': 10, 'is-official': False}),
        task('image_search', term=term, filters={'is-automated': True})).results
    everything = hub_results(engine, 'busybox')
    assert limited['results'] == everything[:2]
    assert official['results'] == [entry for entry in everything if entry['official']]
    assert [entry['name'] for entry in official['results']] == ['library/busybox']
    # The daemon filters the LIMIT results the index gave, as docker search does.
    assert unofficial_starred['results'] == [entry for entry in everything[:4]
                                             if entry['stars'] >= 10 and not entry['official']]
    assert [entry['name'] for entry in unofficial_starred['results']] == ['someone/web', 'dockyard/busybox-tools']
    if engine_api_version(engine) >= AUTOMATED_FILTER_DROPPED_API:
        assert automated['results'] == [], 'the daemon takes no repository as automated'
        asked = [['2'], ['25'], ['4']]  # and knows that without asking the index
    else:
        assert automated['results'] == [entry for entry in everything if entry['automated']]
        assert [entry['name'] for entry in automated['results']] == ['someone/web', 'dockyard/busybox-tools']
        asked = [['2'], ['25'], ['4'], ['25']]
    assert [search['query']['n'] for search in hub_standin.searches()] == asked


def test_hub_search_sends_the_credentials(ansible, engine, hub_standin, tmp_path):  # noqa: F811
    term = '%s/nginx' % hub_standin.address
    config = docker_config(tmp_path, auths={hub_standin.address: ('stored-user', 'stored-password')})
    other = {'username': 'other-user', 'password': 'other-password', 'registry': 'elsewhere.example.com'}
    given, stored, for_another, anonymous = ansible.run(
        task('image_search', term=term, registry_auth={'username': 'given-user', 'password': 'given-password'}),
        task('image_search', term=term, config_path=str(config)),
        task('image_search', term=term, config_path=str(config), registry_auth=other),
        task('image_search', term=term, config_path=str(tmp_path / 'absent.json'))).results
    for result in (given, stored, for_another, anonymous):
        assert result['results'] == hub_results(engine, 'nginx')
    sent = [search['headers'].get('Authorization') for search in hub_standin.searches()]
    assert sent == ['Basic ' + base64.b64encode(b'given-user:given-password').decode(),
                    'Basic ' + base64.b64encode(b'stored-user:stored-password').decode(),
                    'Basic ' + base64.b64encode(b'stored-user:stored-password').decode(),
                    None]


# --- the catalog of the engine's registry (plain HTTP) ------------------------------------------


def test_catalog_finds_repositories_by_term_and_lists_their_tags(ansible, engine, unique):
    for path, tag in [('search-%s/app' % unique, '1.0'), ('search-%s/app' % unique, '2.0'),
                      ('search-%s/db' % unique, '1.0'), ('elsewhere-%s' % unique, '1.0')]:
        engine.publish(path, tag)
    registry = 'http://%s' % engine.registry
    term = 'SEARCH-%s/' % unique

    check, apply = ansible.run(task('image_search', check=True, registry=registry, term=term, list_tags=True),
                               task('image_search', registry=registry, term=term, list_tags=True)).results
    for result in (check, apply):
        assert result['changed'] is False
        assert result['results'] == [{'name': 'search-%s/app' % unique, 'tags': ['1.0', '2.0']},
                                     {'name': 'search-%s/db' % unique, 'tags': ['1.0']}]

    # The registry keeps what earlier runs pushed: the empty term is asked for all of it.
    catalog = _catalog(registry)
    names, first, everything = ansible.run(
        task('image_search', registry=registry, term=unique),
        task('image_search', registry=registry, term=unique, limit=1),
        task('image_search', registry=registry, term='', limit=len(catalog))).results
    assert names['results'] == [{'name': 'elsewhere-%s' % unique}, {'name': 'search-%s/app' % unique},
                                {'name': 'search-%s/db' % unique}]
    assert first['results'] == [{'name': 'elsewhere-%s' % unique}]
    assert everything['results'] == [{'name': name} for name in catalog]
    assert {'name': 'search-%s/db' % unique} in everything['results']


def _catalog(registry):
    """Every repository the registry holds, in its order, page by page as its API hands them out."""
    names, url = [], '%s/v2/_catalog?n=100' % registry
    while url:
        response = requests.get(url, timeout=30)
        response.raise_for_status()
        names.extend(response.json()['repositories'])
        url = response.links.get('next', {}).get('url')
        if url and url.startswith('/'):
            url = registry + url
    return names


def _copy_repository(session, url, source, tag, target):
    """Make ``target:tag`` in the registry from ``source:tag`` with its v2 API (mount blobs, put the manifest)."""
    response = session.get('%s/v2/%s/manifests/%s' % (url, source, tag), headers={'Accept': MANIFEST_TYPES})
    response.raise_for_status()
    manifest = response.json()
    for blob in [manifest['config']] + manifest['layers']:
        mounted = session.post('%s/v2/%s/blobs/uploads/' % (url, target),
                               params={'mount': blob['digest'], 'from': source})
        assert mounted.status_code == 201, mounted.text
    put = session.put('%s/v2/%s/manifests/%s' % (url, target, tag), data=response.content,
                      headers={'Content-Type': response.headers['Content-Type']})
    assert put.status_code == 201, put.text


def test_a_loopback_registry_given_as_host_and_port_is_reached_as_the_daemon_reaches_it(ansible, engine, unique):
    """The engine's registry speaks plain HTTP on 127.0.0.1, which the daemon counts as insecure."""
    engine.publish('search-%s/app' % unique, '1.0')
    check, apply = ansible.run(task('image_search', check=True, registry=engine.registry, term=unique),
                               task('image_search', registry=engine.registry, term=unique)).results
    for result in (check, apply):
        assert result['changed'] is False
        assert result['results'] == [{'name': 'search-%s/app' % unique}]


def test_a_term_naming_a_v2_registry_says_it_has_no_search_api(ansible, engine, unique):
    term = '%s/search-%s' % (engine.registry, unique)
    result = ansible.module('image_search', term=term)
    assert result['failed'] is True
    assert result['msg'] == ('failed to search for %s: registry %s has no search API, as no v2 registry has; '
                             'give registry=%s to look through its catalog' % (term, engine.registry, engine.registry))


def test_catalog_follows_the_registrys_pages(ansible, engine, secure_registry, unique):  # noqa: F811
    registry = secure_registry(tls=False, auth=False)
    reference = '%s/pages/seed:1' % registry.address
    engine.make_image(reference, unique)
    engine.cli('push', reference)
    with requests.Session() as session:
        for number in range(130):
            _copy_repository(session, registry.url, 'pages/seed', '1', 'pages/r%03d' % number)

    mark = registry.mark()
    result = ansible.module('image_search', registry=registry.url, term='pages/r', limit=500)
    assert [entry['name'] for entry in result['results']] == ['pages/r%03d' % number for number in range(130)]
    catalog_requests = registry.since(mark, methods=['GET'], path='_catalog')
    assert len(catalog_requests) == 2, 'the catalog comes in pages of 100: %s' % catalog_requests
    assert 'last=pages%2Fr099' in catalog_requests[1], 'the second page starts after the last of the first'


# --- the catalog of a registry with htpasswd auth behind TLS -----------------------------------


def _seed(engine, registry, path, tags):
    auth = registry.auth_config()
    for tag in tags:
        reference = '%s/%s:%s' % (registry.address, path, tag)
        engine.make_image(reference, reference)
        for event in engine.api.push('%s/%s' % (registry.address, path), tag=tag, stream=True, decode=True,
                                     auth_config={'username': auth['username'], 'password': auth['password']}):
            assert 'error' not in event, event


def test_catalog_of_an_authenticated_tls_registry(ansible, engine, secure_registry, tmp_path, unique):  # noqa: F811
    registry = secure_registry()
    _seed(engine, registry, 'team/%s' % unique, ['1', '2'])
    auth = registry.auth_config()
    expected = [{'name': 'team/%s' % unique, 'tags': ['1', '2']}]
    config = docker_config(tmp_path, auths={registry.address: (registry.username, registry.password)})
    common = dict(registry=registry.address, term=unique, list_tags=True)

    untrusted, with_ca, unchecked, from_config, anonymous, wrong = ansible.run(
        task('image_search', registry_auth=auth, **common),
        task('image_search', registry_auth=auth, registry_ca_path=str(registry.ca_path), **common),
        task('image_search', registry_auth=auth, registry_validate_certs=False, **common),
        task('image_search', config_path=str(config), registry_ca_path=str(registry.ca_path), **common),
        task('image_search', config_path=str(tmp_path / 'absent.json'), registry_ca_path=str(registry.ca_path),
             **common),
        task('image_search', registry_auth=dict(auth, password='wrong'), registry_ca_path=str(registry.ca_path),
             **common)).results

    assert untrusted['failed'] is True
    assert untrusted['msg'] == (
        'failed to list the repositories of https://%s: its TLS certificate is not trusted (unable to get local '
        'issuer certificate); give the CA that signed it in registry_ca_path, or set registry_validate_certs=false'
        % registry.address)
    for result in (with_ca, unchecked, from_config):
        assert result['failed'] is False, result.get('msg')
        assert result['results'] == expected
    assert anonymous['msg'] == ('failed to list the repositories of https://%s: it refused access without '
                                'credentials: 401 Unauthorized (authentication required)' % registry.address)
    assert wrong['msg'] == ('failed to list the repositories of https://%s: it refused access as dockyard: '
                            '401 Unauthorized (authentication required)' % registry.address)


def test_the_password_is_absent_from_all_output_at_vvv(ansible, engine, secure_registry, hub_standin):  # noqa: F811
    registry = secure_registry()
    auth = registry.auth_config()
    run = ansible.run(
        task('image_search', registry=registry.url, term='', registry_auth=auth, registry_ca_path=str(registry.ca_path)),
        task('image_search', registry=registry.url, term='', registry_auth=auth),
        task('image_search', registry=registry.url, term='', registry_auth=dict(auth, password=auth['password'] + 'x'),
             registry_ca_path=str(registry.ca_path)),
        task('image_search', term='%s/busybox' % hub_standin.address, registry_auth=auth),
        verbosity=3)
    assert [result['failed'] for result in run] == [False, True, True, False]
    output = run.stdout + run.stderr + json.dumps(run.results)
    assert registry.address in output and 'dockyard' in output
    for secret in (auth['password'], base64.b64encode(('dockyard:%s' % auth['password']).encode()).decode()):
        assert secret not in output


def test_failures(ansible, engine, secure_registry, hub_standin):  # noqa: F811
    registry = secure_registry(tls=False, auth=False)
    registry.stop()
    down, zero, no_registry, both, over, unknown = ansible.run(
        task('image_search', registry=registry.url, term='x'),
        task('image_search', registry=registry.url, term='x', limit=0),
        task('image_search', term='x', list_tags=True),
        task('image_search', registry=registry.url, term='x', filters={'stars': 3}),
        task('image_search', term='%s/busybox' % hub_standin.address, limit=101),
        task('image_search', term='busybox', filters={'stars': 3, 'colour': 'blue'})).results
    assert down['msg'] == 'failed to list the repositories of %s: cannot connect: Connection refused' % registry.url
    assert zero['msg'] == 'limit must be at least 1, got 0'
    assert no_registry['msg'] == 'list_tags is True but all of the following are missing: registry'
    assert both['msg'] == 'parameters are mutually exclusive: registry|filters'
    # The daemon's words, as this engine says them: 20.10 writes 'Limit', 28.5 'limit'.
    with pytest.raises(docker.errors.APIError) as refused:
        engine.api.search('%s/busybox' % hub_standin.address, limit=101)
    assert refused.value.explanation.lower() == 'limit 101 is outside the range of [1, 100]'
    assert over['msg'] == 'failed to search for %s/busybox: %s' % (hub_standin.address, refused.value.explanation)
    assert unknown['msg'] == 'filters: unknown filter colour; the daemon knows is-automated, is-official, stars'


# --- the catalog of a registry with Bearer-token auth (as Harbor, GitLab, Docker Hub do it) -----


class TokenService:
    """A token service on loopback, for a real ``docker-registry`` configured with ``auth: token``.

    Registries like Harbor or GitLab answer 401 with ``WWW-Authenticate: Bearer realm=...``;
    clients get a JWT from that realm with their Basic credentials (GET) or an OAuth2 password grant
    (POST) and send it as Bearer. This small server is that realm, speaking both as Docker's token
    spec describes them: it checks one user's password and grants every scope asked for,
    signing with a key whose self-signed certificate the registry trusts (``rootcertbundle``).
    """

    def __init__(self, directory, username, password, service='dockyard-test', issuer='dockyard-test-issuer'):
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import rsa
        from cryptography.x509.oid import NameOID

        self.username, self.password, self.service, self.issuer = username, password, service, issuer
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, 'dockyard token signer')])
        now = datetime.datetime.now(datetime.timezone.utc)
        self.cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(self.key.public_key())
                     .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(hours=1))
                     .not_valid_after(now + datetime.timedelta(days=1))
                     .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
                     .sign(self.key, hashes.SHA256()))
        self.bundle = Path(directory) / 'token-signer.pem'
        self.bundle.write_bytes(self.cert.public_bytes(serialization.Encoding.PEM))
        self.issued = []
        service_self = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                service_self.answer(self)

            def do_POST(self):
                service_self.answer_oauth(self)

        self.server = ThreadingHTTPServer(('127.0.0.1', 0), Handler)
        self.realm = 'http://127.0.0.1:%d/token' % self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def _jwt(self, access):
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import padding

        def part(data):
            raw = data if isinstance(data, bytes) else json.dumps(data).encode()
            return base64.urlsafe_b64encode(raw).rstrip(b'=').decode()

        now = int(time.time())
        header = {'typ': 'JWT', 'alg': 'RS256',
                  'x5c': [base64.b64encode(self.cert.public_bytes(serialization.Encoding.DER)).decode()]}
        claims = {'iss': self.issuer, 'sub': self.username, 'aud': self.service, 'exp': now + 300, 'nbf': now - 10,
                  'iat': now, 'jti': uuid.uuid4().hex, 'access': access}
        signing_input = '%s.%s' % (part(header), part(claims))
        signature = self.key.sign(signing_input.encode(), padding.PKCS1v15(), hashes.SHA256())
        return '%s.%s' % (signing_input, part(signature))

    def answer(self, handler):
        """The token spec's GET: Basic credentials, scopes in the query; answers ``token``."""
        query = parse_qs(urlsplit(handler.path).query)
        expected = 'Basic ' + base64.b64encode(('%s:%s' % (self.username, self.password)).encode()).decode()
        if handler.headers.get('Authorization') != expected:
            handler.send_response(401)
            handler.end_headers()
            return
        self._grant(handler, query.get('scope', []), 'token')

    def answer_oauth(self, handler):
        """The OAuth2 password grant (POST), which containerd's resolver, and so Docker's containerd store, asks first."""
        form = parse_qs(handler.rfile.read(int(handler.headers.get('Content-Length') or 0)).decode())
        if (form.get('grant_type'), form.get('username'), form.get('password')) != (
                ['password'], [self.username], [self.password]):
            handler.send_response(401)
            handler.end_headers()
            return
        self._grant(handler, ' '.join(form.get('scope', [])).split(), 'access_token')

    def _grant(self, handler, scopes, key):
        access = []
        for scope in scopes:
            kind, name, actions = scope.split(':', 2) if scope.count(':') >= 2 else (scope, '', '')
            access.append({'type': kind, 'name': name, 'actions': actions.split(',')})
        self.issued.append(scopes)
        body = json.dumps({key: self._jwt(access), 'expires_in': 300}).encode()
        handler.send_response(200)
        handler.send_header('Content-Type', 'application/json')
        handler.send_header('Content-Length', str(len(body)))
        handler.end_headers()
        handler.wfile.write(body)

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


def test_catalog_of_a_registry_with_token_auth(ansible, engine, tmp_path, unique):
    password = 'pw-%s' % unique
    tokens = TokenService(tmp_path, 'reader', password)
    registry = SecureRegistry(tmp_path / 'registry', auth=False, tls=True)
    with registry.config.open('a') as config:
        config.write('auth:\n  token:\n    realm: %s\n    service: %s\n    issuer: %s\n    rootcertbundle: %s\n'
                     % (tokens.realm, tokens.service, tokens.issuer, tokens.bundle))
    registry.start()
    try:
        for tag in ('1', '2'):
            reference = '%s/token/%s:%s' % (registry.address, unique, tag)
            engine.make_image(reference, reference)
            for event in engine.api.push('%s/token/%s' % (registry.address, unique), tag=tag, stream=True,
                                         decode=True, auth_config={'username': 'reader', 'password': password}):
                assert 'error' not in event, event
        tokens.issued.clear()

        common = dict(registry=registry.address, term=unique, list_tags=True, registry_ca_path=str(registry.ca_path))
        found, wrong = ansible.run(
            task('image_search', registry_auth={'username': 'reader', 'password': password}, **common),
            task('image_search', registry_auth={'username': 'reader', 'password': 'wrong'}, **common)).results
    finally:
        registry.stop()
        tokens.stop()
    assert found['failed'] is False, found.get('msg')
    assert found['results'] == [{'name': 'token/%s' % unique, 'tags': ['1', '2']}]
    assert tokens.issued == [['registry:catalog:*'], ['repository:token/%s:pull' % unique]]
    assert wrong['msg'] == ('failed to list the repositories of https://%s: its token service %s answered '
                            '401 Unauthorized' % (registry.address, tokens.realm))
