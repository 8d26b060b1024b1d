"""Connections to a daemon on TCP with TLS and client certificates (issue 10, "Connections").

A second engine of the same kind (``scripts/engine`` with ``DOCKYARD_TLS_PORT``, a state dir of its own)
listens on 127.0.0.1 with ``--tlsverify``; its server certificate is for 127.0.0.1 and DAEMON_NAME, and
the client certificate is signed by the same CA. Every task runs with REQUESTS_CA_BUNDLE and
CURL_CA_BUNDLE naming an unrelated CA, which requests would otherwise put in place of ``ca_path``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

from conftest import REPO, task
from secure_registry import free_port, make_certificates, make_client_certificate

DAEMON_NAME = 'daemon.dockyard.test'
ENGINE = str(REPO / 'scripts' / 'engine')


class TLSEngine:
    def __init__(self, directory):
        self.directory = directory
        self.port = free_port()
        self.host = 'tcp://127.0.0.1:%d' % self.port
        certs = directory / 'certs'
        self.ca_path, server_cert, server_key = make_certificates(certs, hosts=('127.0.0.1', DAEMON_NAME))
        self.client_cert, self.client_key = make_client_certificate(certs)
        self.other_ca = make_certificates(directory / 'other')[0]
        # The daemon's names for its files, and the docker CLI's for a DOCKER_CERT_PATH.
        self.server_dir = directory / 'server'
        self.cert_path = directory / 'client'
        for target, pairs in ((self.server_dir, [(self.ca_path, 'ca.pem'), (server_cert, 'server-cert.pem'),
                                                 (server_key, 'server-key.pem')]),
                              (self.cert_path, [(self.ca_path, 'ca.pem'), (self.client_cert, 'cert.pem'),
                                                (self.client_key, 'key.pem')])):
            target.mkdir()
            for source, name in pairs:
                shutil.copy(source, target / name)
        self.environment = dict(os.environ, DOCKYARD_STATE=str(directory / 'state'),
                                DOCKYARD_REGISTRY_PORT=str(free_port()), DOCKYARD_TLS_PORT=str(self.port),
                                DOCKYARD_TLS_DIR=str(self.server_dir))

    def engine(self, command):
        subprocess.run([ENGINE, command], env=self.environment, check=True)

    def options(self, **overrides):
        """Connection options of a task that verifies the daemon and authenticates to it."""
        options = dict(docker_host=self.host, validate_certs=True, ca_path=str(self.ca_path),
                       client_cert=str(self.client_cert), client_key=str(self.client_key))
        options.update(overrides)
        return {key: value for key, value in options.items() if value is not None}

    def unrelated_bundles(self):
        """The environment of a Debian host whose CA bundle does not hold the daemon's CA."""
        return {'REQUESTS_CA_BUNDLE': str(self.other_ca), 'CURL_CA_BUNDLE': str(self.other_ca)}


@pytest.fixture(scope='module')
def tls_engine():
    # A short state dir: unix socket paths are limited to 107 bytes.
    directory = Path(tempfile.mkdtemp(prefix='dy-tls-', dir='/tmp'))
    engine = TLSEngine(directory)
    engine.engine('start')
    try:
        yield engine
    finally:
        engine.engine('purge')
        shutil.rmtree(directory, ignore_errors=True)


def info(ansible, tls_engine, *option_sets, extra_env=None):
    env = tls_engine.unrelated_bundles()
    env.update(extra_env or {})
    return ansible.run(*[task('image_info', name=['busybox:absent'], **options) for options in option_sets],
                       extra_env=env).results


def test_ca_path_holds_whatever_the_ca_bundle_variables_say(ansible, tls_engine):
    pinned, auto = info(ansible, tls_engine, tls_engine.options(api_version='1.41'), tls_engine.options())
    for result in (pinned, auto):
        assert not result['failed'], result
        assert result['images'] == []


def test_tls_without_verification_works_and_warns(ansible, tls_engine):
    result, = info(ansible, tls_engine, tls_engine.options(validate_certs=None, ca_path=None, tls=True))
    assert not result['failed'], result
    assert result['warnings'] == [
        'The Docker daemon at %s is reached over TLS without checking its certificate (tls without '
        'validate_certs): set validate_certs to check it' % tls_engine.host]


def test_tls_hostname_holds_from_the_first_request(ansible, tls_engine):
    host = 'tcp://localhost:%d' % tls_engine.port
    named, pinned, unnamed = info(ansible, tls_engine,
                                  tls_engine.options(docker_host=host, tls_hostname=DAEMON_NAME),
                                  tls_engine.options(docker_host=host, tls_hostname=DAEMON_NAME, api_version='1.41'),
                                  tls_engine.options(docker_host=host))
    assert not named['failed'], named
    assert not pinned['failed'], pinned
    assert unnamed['msg'] == (
        "Cannot connect to the Docker daemon at %s: its TLS certificate did not verify (Hostname mismatch, "
        "certificate is not valid for 'localhost'.); check ca_path and tls_hostname" % host)


def test_missing_files_fail_naming_them(ansible, tls_engine, tmp_path):
    absent = str(tmp_path / 'absent.pem')
    results = info(ansible, tls_engine, tls_engine.options(ca_path=absent), tls_engine.options(client_cert=absent),
                   tls_engine.options(client_key=absent), tls_engine.options(client_key=None),
                   tls_engine.options(ca_path=str(tmp_path)))
    prefix = 'Cannot connect to the Docker daemon at %s: ' % tls_engine.host
    assert [result['msg'] for result in results] == [
        prefix + 'the CA certificate %s (ca_path) does not exist' % absent,
        prefix + 'the client certificate %s (client_cert) does not exist' % absent,
        prefix + 'the client key %s (client_key) does not exist' % absent,
        prefix + 'the client certificate %s (client_cert) has no client key: give client_key too'
        % tls_engine.client_cert,
        prefix + 'the CA certificate %s (ca_path) is not a file' % tmp_path,
    ]


def test_docker_cert_path_and_tls_verify_as_the_cli_reads_them(ansible, tls_engine, tmp_path):
    cli = {'DOCKER_HOST': tls_engine.host, 'DOCKER_TLS_VERIFY': '1', 'DOCKER_CERT_PATH': str(tls_engine.cert_path)}
    shutil.copy(tls_engine.client_cert, tmp_path / 'cert.pem')
    shutil.copy(tls_engine.client_key, tmp_path / 'key.pem')
    works, = info(ansible, tls_engine, {}, extra_env=cli)
    without_ca, = info(ansible, tls_engine, {}, extra_env=dict(cli, DOCKER_CERT_PATH=str(tmp_path)))
    assert not works['failed'], works
    assert works['images'] == []
    assert without_ca['msg'] == ('Cannot connect to the Docker daemon at %s: the CA certificate %s (DOCKER_CERT_PATH) '
                                 'does not exist' % (tls_engine.host, tmp_path / 'ca.pem'))


def test_a_wrong_ca_fails_naming_the_daemon(ansible, tls_engine):
    auto, pinned = info(ansible, tls_engine, tls_engine.options(ca_path=str(tls_engine.other_ca)),
                        tls_engine.options(ca_path=str(tls_engine.other_ca), api_version='1.41'))
    assert auto['msg'] == ('Cannot connect to the Docker daemon at %s: its TLS certificate did not verify (unable to '
                           'get local issuer certificate); check ca_path and tls_hostname' % tls_engine.host)
    assert pinned['msg'] == 'failed to read the daemon information: ' + auto['msg']
