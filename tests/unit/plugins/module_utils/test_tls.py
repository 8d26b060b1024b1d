"""Which files a TLS connection to the daemon uses (module_utils/_tls.py), and the CLI's TLS switches."""

from __future__ import annotations

import pytest
from ansible.module_utils.common.parameters import AnsibleFallbackNotFound

from ansible_collections.dockyard.docker.plugins.module_utils._errors import DockerError
from ansible_collections.dockyard.docker.plugins.module_utils._options import set_flag
from ansible_collections.dockyard.docker.plugins.module_utils._tls import TLSPlan, tls_plan


def params(**given):
    options = dict(tls=False, validate_certs=False, ca_path=None, client_cert=None, client_key=None, tls_hostname=None)
    options.update(given)
    return options


@pytest.fixture
def files(tmp_path):
    for name in ('ca.pem', 'cert.pem', 'key.pem'):
        (tmp_path / name).write_text(name)
    return tmp_path


def test_no_tls_without_tls_or_validate_certs(files):
    assert tls_plan(params(ca_path=str(files / 'ca.pem')), {'DOCKER_CERT_PATH': str(files)}) is None


def test_options_win_over_docker_cert_path(files, tmp_path_factory):
    other = tmp_path_factory.mktemp('other')
    for name in ('ca.pem', 'cert.pem', 'key.pem'):
        (other / name).write_text(name)
    plan = tls_plan(params(validate_certs=True, ca_path=str(files / 'ca.pem'), client_cert=str(files / 'cert.pem'),
                           client_key=str(files / 'key.pem'), tls_hostname='daemon.test'),
                    {'DOCKER_CERT_PATH': str(other)})
    assert plan == TLSPlan(True, str(files / 'ca.pem'), (str(files / 'cert.pem'), str(files / 'key.pem')),
                           'daemon.test')


def test_docker_cert_path_gives_all_three(files):
    plan = tls_plan(params(validate_certs=True), {'DOCKER_CERT_PATH': str(files)})
    assert plan == TLSPlan(True, str(files / 'ca.pem'), (str(files / 'cert.pem'), str(files / 'key.pem')), None)


def test_system_cas_without_ca_path_or_docker_cert_path():
    assert tls_plan(params(validate_certs=True), {}) == TLSPlan(True, None, None, None)


def test_tls_alone_checks_nothing_and_needs_no_ca(tmp_path):
    # As the docker CLI: no CA is read when the certificate is not checked, and tls_hostname does not apply.
    assert tls_plan(params(tls=True, ca_path=str(tmp_path / 'absent.pem'), tls_hostname='daemon.test'),
                    {'DOCKER_CERT_PATH': str(tmp_path)}) == TLSPlan(False, None, None, None)


def test_docker_cert_path_without_client_files_means_no_client_certificate(tmp_path):
    (tmp_path / 'ca.pem').write_text('ca')
    plan = tls_plan(params(validate_certs=True), {'DOCKER_CERT_PATH': str(tmp_path)})
    assert plan == TLSPlan(True, str(tmp_path / 'ca.pem'), None, None)


@pytest.mark.parametrize('given, message', [
    (dict(validate_certs=True, ca_path='{d}/absent.pem'), 'the CA certificate {d}/absent.pem (ca_path) does not exist'),
    (dict(validate_certs=True, ca_path='{d}'), 'the CA certificate {d} (ca_path) is not a file'),
    (dict(tls=True, client_cert='{d}/absent.pem', client_key='{d}/key.pem'),
     'the client certificate {d}/absent.pem (client_cert) does not exist'),
    (dict(tls=True, client_cert='{d}/cert.pem', client_key='{d}/absent.pem'),
     'the client key {d}/absent.pem (client_key) does not exist'),
    (dict(tls=True, client_cert='{d}/cert.pem'),
     'the client certificate {d}/cert.pem (client_cert) has no client key: give client_key too'),
    (dict(tls=True, client_key='{d}/key.pem'),
     'the client key {d}/key.pem (client_key) has no client certificate: give client_cert too'),
])
def test_missing_files_are_named(files, given, message):
    with pytest.raises(DockerError) as caught:
        tls_plan(params(**{key: value.format(d=files) if isinstance(value, str) else value
                           for key, value in given.items()}), {})
    assert str(caught.value) == message.format(d=files)


def test_the_ca_of_docker_cert_path_must_exist_when_verifying(tmp_path):
    (tmp_path / 'cert.pem').write_text('cert')
    (tmp_path / 'key.pem').write_text('key')
    with pytest.raises(DockerError) as caught:
        tls_plan(params(validate_certs=True), {'DOCKER_CERT_PATH': str(tmp_path)})
    assert str(caught.value) == 'the CA certificate %s/ca.pem (DOCKER_CERT_PATH) does not exist' % tmp_path


@pytest.mark.parametrize('value', ['1', 'true', '0', 'no'])
def test_cli_switches_are_on_when_set(monkeypatch, value):
    monkeypatch.setenv('DOCKER_TLS_VERIFY', value)
    assert set_flag('DOCKER_TLS_VERIFY') is True


@pytest.mark.parametrize('value', [None, ''])
def test_cli_switches_unset_or_empty_fall_back_to_the_default(monkeypatch, value):
    if value is None:
        monkeypatch.delenv('DOCKER_TLS', raising=False)
    else:
        monkeypatch.setenv('DOCKER_TLS', value)
    with pytest.raises(AnsibleFallbackNotFound):
        set_flag('DOCKER_TLS')
