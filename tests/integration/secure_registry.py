"""A real registry (Debian's ``docker-registry``) on loopback with htpasswd auth behind TLS.

Tests that need an authenticated registry use the ``secure_registry`` fixture:

    def test_something(secure_registry):
        registry = secure_registry()                 # TLS + htpasswd, started
        registry.address, registry.username, registry.password, registry.ca_path
        registry.url                                  # https://127.0.0.1:PORT
        registry.stop(); registry.start()             # a registry that is down, and back
        registry.uploads()                            # PUT/POST/PATCH lines of its access log

``secure_registry(auth=False)`` or ``secure_registry(tls=False)`` give the plain variants;
``secure_registry(readonly=True)`` one that refuses every push (its maintenance read-only mode).
Each registry gets its own free port, its own storage and a certificate authority made
for it with the openssl CLI, so tests can run side by side.

What the machine needs: ``docker-registry`` (Debian package ``docker-registry``, as the
engine's registry), ``openssl``, ``curl`` and ``htpasswd`` (Debian package
``apache2-utils``) for the bcrypt password file. Without ``htpasswd`` the file is made with
Python's ``crypt`` module (bcrypt, Python <= 3.12) or the ``bcrypt`` package when either is
there.

About the daemon: dockerd always counts 127.0.0.0/8 as an insecure registry range (``docker
info`` lists it; neither a certs.d entry nor a ``localhost`` name changes that, the name is
resolved to its address). For an insecure registry it tries HTTPS without checking the
certificate, then plain HTTP. When it falls back differs by engine: Docker 20.10 takes the HTTPS
answer of a TLS registry as final (a 404 or 401 is reported as such), Docker 26.1 and 28.5 try
plain HTTP after any failed HTTPS look-up or login, which a TLS-only registry answers with
``400 Bad Request`` or a reset connection. So tests where the daemon talks to the registry (push,
pull, credentials) use ``tls=False``, an auth registry on plain HTTP, the realistic case of a
registry on loopback, where both engines report the registry's own answer. The TLS registry is for
what speaks TLS itself (image_search's catalog, curl) and for the tests that record each engine's
behaviour against it; its CA is what those clients need.
"""

from __future__ import annotations

import base64
import json
import shutil
import signal
import socket
import subprocess
import time
import uuid
from pathlib import Path

import pytest

UPLOAD_METHODS = ('PUT', 'POST', 'PATCH')


def free_port():
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(('127.0.0.1', 0))
        return probe.getsockname()[1]


def _run(*command, cwd=None):
    completed = subprocess.run(list(command), cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               check=False)
    if completed.returncode:
        raise AssertionError('%s failed: %s' % (' '.join(command), completed.stderr.strip()))
    return completed.stdout


def bcrypt_line(username, password):
    """One htpasswd line ``user:$2y$...`` as the registry's htpasswd auth reads it."""
    if shutil.which('htpasswd'):
        return _run('htpasswd', '-Bbn', username, password).strip()
    try:
        import warnings
        with warnings.catch_warnings():
            warnings.simplefilter('ignore', DeprecationWarning)
            import crypt
        return '%s:%s' % (username, crypt.crypt(password, crypt.mksalt(crypt.METHOD_BLOWFISH)))
    except (ImportError, AttributeError):
        pass
    try:
        import bcrypt
    except ImportError:
        raise AssertionError('need htpasswd (apt-get install apache2-utils) to write a bcrypt password file')
    return '%s:%s' % (username, bcrypt.hashpw(password.encode(), bcrypt.gensalt()).decode())


def make_certificates(directory, hosts=('127.0.0.1', 'localhost')):
    """A CA and a server certificate signed by it for ``hosts``; returns (ca, cert, key) paths."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    ca_key, ca_cert = directory / 'ca.key', directory / 'ca.crt'
    key, request, cert = directory / 'server.key', directory / 'server.csr', directory / 'server.crt'
    extensions = directory / 'server.ext'
    names = ','.join(('IP:%s' if host.replace('.', '').isdigit() else 'DNS:%s') % host for host in hosts)
    extensions.write_text('subjectAltName=%s\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\n'
                          'extendedKeyUsage=serverAuth\n' % names)
    _run('openssl', 'req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-sha256', '-days', '2',
         '-subj', '/CN=dockyard test CA %s' % uuid.uuid4().hex[:8], '-keyout', str(ca_key), '-out', str(ca_cert))
    _run('openssl', 'req', '-new', '-newkey', 'rsa:2048', '-nodes', '-sha256', '-subj', '/CN=%s' % hosts[0],
         '-keyout', str(key), '-out', str(request))
    _run('openssl', 'x509', '-req', '-in', str(request), '-CA', str(ca_cert), '-CAkey', str(ca_key),
         '-CAcreateserial', '-days', '2', '-sha256', '-extfile', str(extensions), '-out', str(cert))
    return ca_cert, cert, key


def make_client_certificate(directory, name='dockyard test client'):
    """A client certificate signed by the CA ``make_certificates`` made in ``directory``; returns (cert, key) paths."""
    directory = Path(directory)
    key, request, cert = directory / 'client.key', directory / 'client.csr', directory / 'client.crt'
    extensions = directory / 'client.ext'
    extensions.write_text('basicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\n'
                          'extendedKeyUsage=clientAuth\n')
    _run('openssl', 'req', '-new', '-newkey', 'rsa:2048', '-nodes', '-sha256', '-subj', '/CN=%s' % name,
         '-keyout', str(key), '-out', str(request))
    _run('openssl', 'x509', '-req', '-in', str(request), '-CA', str(directory / 'ca.crt'),
         '-CAkey', str(directory / 'ca.key'), '-CAcreateserial', '-days', '2', '-sha256', '-extfile', str(extensions),
         '-out', str(cert))
    return cert, key


def docker_config(directory, auths=None, creds_store=None, cred_helpers=None):
    """Write a docker CLI ``config.json`` into ``directory``; ``auths`` maps registry -> (username, password)."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    config = {'auths': {registry: {'auth': base64.b64encode(('%s:%s' % pair).encode()).decode()}
                        for registry, pair in (auths or {}).items()}}
    if creds_store:
        config['credsStore'] = creds_store
    if cred_helpers:
        config['credHelpers'] = dict(cred_helpers)
    path = directory / 'config.json'
    path.write_text(json.dumps(config))
    return path


def engine_api_version(engine):
    """The daemon's API version as a tuple: (1, 41) for Docker 20.10, (1, 51) for Docker 28.5."""
    return tuple(int(part) for part in engine.api.version()['ApiVersion'].split('.'))


# From this API version on the daemon tries plain HTTP after a failed HTTPS look-up or login of an insecure
# registry: seen on Docker 26.1 (API 1.45, issue 8) and 28.5 (1.51); 20.10 (1.41) does not. Engines in between
# were not tried.
HTTP_FALLBACK_API = (1, 45)


def containerd_store(engine):
    """Whether the daemon keeps images in containerd's image store, whose pushes and pulls word errors their own way."""
    return ['driver-type', 'io.containerd.snapshotter.v1'] in (engine.api.info().get('DriverStatus') or [])


class SecureRegistry:
    """One ``docker-registry serve`` process with its config, storage, certificates and log."""

    def __init__(self, directory, port=None, auth=True, tls=True, username='dockyard', password=None, readonly=False):
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.port = port or free_port()
        self.address = '127.0.0.1:%d' % self.port
        self.auth = auth
        self.tls = tls
        self.username = username if auth else None
        self.password = (password or 'pw-%s' % uuid.uuid4().hex) if auth else None
        self.url = '%s://%s' % ('https' if tls else 'http', self.address)
        self.log = self.directory / 'registry.log'
        self.config = self.directory / 'config.yml'
        self.ca_path = self.cert_path = self.key_path = None
        self.htpasswd = None
        lines = ['version: 0.1', 'log:', '  level: info', 'storage:', '  filesystem:',
                 '    rootdirectory: %s' % (self.directory / 'data'), '  delete:', '    enabled: true',
                 '  maintenance:', '    readonly:', '      enabled: %s' % ('true' if readonly else 'false'),
                 'http:', '  addr: %s' % self.address]
        if tls:
            self.ca_path, self.cert_path, self.key_path = make_certificates(self.directory / 'certs')
            lines += ['  tls:', '    certificate: %s' % self.cert_path, '    key: %s' % self.key_path]
        if auth:
            self.htpasswd = self.directory / 'htpasswd'
            self.htpasswd.write_text(bcrypt_line(self.username, self.password) + '\n')
            lines += ['auth:', '  htpasswd:', '    realm: dockyard-test', '    path: %s' % self.htpasswd]
        self.config.write_text('\n'.join(lines) + '\n')
        self.process = None

    def _status(self):
        """HTTP status of GET /v2/ (401 with auth, 200 without), or None while it does not answer."""
        command = ['curl', '-sS', '-o', '/dev/null', '-w', '%{http_code}', '--max-time', '2', self.url + '/v2/']
        if self.ca_path:
            command[1:1] = ['--cacert', str(self.ca_path)]
        completed = subprocess.run(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, check=False)
        return int(completed.stdout) if completed.returncode == 0 and completed.stdout.isdigit() else None

    def start(self):
        if self.process:
            return self
        self.process = subprocess.Popen(['docker-registry', 'serve', str(self.config)], stdout=self.log.open('a'),
                                        stderr=subprocess.STDOUT)
        for _attempt in range(150):
            if self._status() in (200, 401):
                return self
            if self.process.poll() is not None:
                break
            time.sleep(0.1)
        self.stop()
        raise AssertionError('registry on %s did not start: %s' % (self.address, self.log.read_text()))

    def freeze(self):
        """SIGSTOP: the registry keeps its port and connections open and answers nothing."""
        self.process.send_signal(signal.SIGSTOP)

    def thaw(self):
        self.process.send_signal(signal.SIGCONT)

    def stop(self):
        if self.process:
            self.thaw()
            self.process.terminate()
            self.process.wait()
            self.process = None

    @property
    def running(self):
        return self.process is not None

    def auth_config(self):
        """The ``registry_auth`` a task gives a module for this registry."""
        return {'username': self.username, 'password': self.password, 'registry': self.address}

    def requests(self, methods=None, path=''):
        """Access-log lines ``METHOD /v2/PATH...`` (all methods unless ``methods`` is given)."""
        text = self.log.read_text() if self.log.exists() else ''
        lines = []
        for line in text.splitlines():
            for method in methods or ('GET', 'HEAD', 'PUT', 'POST', 'PATCH', 'DELETE'):
                if '"%s /v2/%s' % (method, path) in line:
                    lines.append(line)
        return lines

    def uploads(self, path=''):
        """Requests that write blobs or manifests (PUT/POST/PATCH) under ``/v2/PATH``."""
        return self.requests(UPLOAD_METHODS, path)

    def mark(self):
        """A position in the access log; ``since(mark)`` gives only what came after it."""
        return len(self.log.read_text()) if self.log.exists() else 0

    def since(self, mark, methods=None, path=''):
        text = self.log.read_text()[mark:] if self.log.exists() else ''
        return [line for line in text.splitlines()
                if any('"%s /v2/%s' % (method, path) in line
                       for method in methods or ('GET', 'HEAD', 'PUT', 'POST', 'PATCH', 'DELETE'))]


@pytest.fixture
def secure_registry(tmp_path):
    """A factory: ``secure_registry(auth=True, tls=True, ...)`` starts a registry; all stop after the test."""
    started = []

    def make(**options):
        registry = SecureRegistry(tmp_path / ('registry-%d' % len(started)), **options)
        started.append(registry)
        return registry.start()

    yield make
    for registry in started:
        registry.stop()
