"""Registry keys and the one credentials look-up (registry_auth, config.json auths, credential helpers)."""

from __future__ import annotations

import base64
import json
import os
import stat

import pytest

from ansible_collections.dockyard.docker.plugins.module_utils._errors import DockerError
from ansible_collections.dockyard.docker.plugins.module_utils._registry import (
    DOCKER_HUB_KEY, DockerConfig, _for_platform, credentials, insecure_registry, registry_client, registry_key,
)


@pytest.mark.parametrize('registry', [
    None, '', 'docker.io', 'index.docker.io', 'registry-1.docker.io', 'registry.hub.docker.com',
    'https://index.docker.io/v1/', 'HTTPS://Index.Docker.IO/v1/', 'https://registry-1.docker.io/v2/',
])
def test_every_spelling_of_docker_hub_is_one_key(registry):
    assert registry_key(registry) == DOCKER_HUB_KEY


@pytest.mark.parametrize('registry, key', [
    ('127.0.0.1:5000', '127.0.0.1:5000'),
    ('https://127.0.0.1:5000/v2/', '127.0.0.1:5000'),
    ('http://registry.example.com', 'registry.example.com'),
    ('Registry.Example.com:443/path', 'registry.example.com:443'),
    ('localhost:5000', 'localhost:5000'),
])
def test_other_registries_are_keyed_by_host_and_port(registry, key):
    assert registry_key(registry) == key


def config(tmp_path, **data):
    path = tmp_path / 'config.json'
    path.write_text(json.dumps(data))
    return str(path)


def auth(username, password):
    return {'auth': base64.b64encode(('%s:%s' % (username, password)).encode()).decode()}


def test_registry_auth_wins_when_it_names_the_registry_or_none(tmp_path):
    path = config(tmp_path, auths={'127.0.0.1:5000': auth('stored', 'old')})
    given = {'username': 'given', 'password': 'new', 'registry': None}
    assert credentials('127.0.0.1:5000', given, path) == ('given', 'new')
    as_url = dict(given, registry='https://127.0.0.1:5000/v2/')
    assert credentials('127.0.0.1:5000', as_url, path) == ('given', 'new')


def test_registry_auth_for_another_registry_leaves_the_config_in_charge(tmp_path):
    path = config(tmp_path, auths={'https://127.0.0.1:5000': auth('stored', 'old')})
    elsewhere = {'username': 'given', 'password': 'new', 'registry': 'registry.example.com'}
    assert credentials('127.0.0.1:5000', elsewhere, path) == ('stored', 'old')
    assert credentials('registry.example.com:5000', None, path) is None


def test_docker_hub_credentials_are_found_under_the_cli_key(tmp_path):
    path = config(tmp_path, auths={DOCKER_HUB_KEY: auth('hubuser', 'token')})
    assert credentials('docker.io', None, path) == ('hubuser', 'token')
    assert credentials('index.docker.io', None, path) == ('hubuser', 'token')


def test_a_missing_config_means_no_credentials(tmp_path):
    assert credentials('127.0.0.1:5000', None, str(tmp_path / 'absent.json')) is None


def test_a_config_that_is_not_json_fails_naming_it(tmp_path):
    path = tmp_path / 'config.json'
    path.write_text('{not json')
    with pytest.raises(DockerError, match='failed to read the docker config %s: it is not JSON' % path):
        credentials('127.0.0.1:5000', None, str(path))


def helper(tmp_path, monkeypatch, name='dyunit'):
    """A real ``docker-credential-NAME`` on PATH keeping its credentials in a JSON file."""
    program = tmp_path / 'bin' / ('docker-credential-%s' % name)
    program.parent.mkdir()
    program.write_text('''#!/usr/bin/env python3
import json, os, sys
store = os.path.join(os.path.dirname(__file__), 'store.json')
known = json.load(open(store)) if os.path.exists(store) else {}
verb, data = sys.argv[1], sys.stdin.read()
if verb == 'store':
    entry = json.loads(data)
    known[entry['ServerURL']] = [entry['Username'], entry['Secret']]
elif data.strip() not in known:
    print('credentials not found in native keychain')
    sys.exit(1)
elif verb == 'get':
    username, secret = known[data.strip()]
    print(json.dumps({'ServerURL': data.strip(), 'Username': username, 'Secret': secret}))
else:
    del known[data.strip()]
json.dump(known, open(store, 'w'))
''')
    program.chmod(0o755)
    monkeypatch.setenv('PATH', '%s%s%s' % (program.parent, os.pathsep, os.environ['PATH']))
    return name


def test_a_credential_helper_stores_gets_and_erases(tmp_path, monkeypatch):
    name = helper(tmp_path, monkeypatch)
    path = config(tmp_path, credHelpers={'127.0.0.1:5000': name})
    stored = DockerConfig(path)
    assert stored.get('127.0.0.1:5000') is None
    stored.store('127.0.0.1:5000', 'user', 's3cret')
    assert credentials('https://127.0.0.1:5000', None, path) == ('user', 's3cret')
    written = json.loads((tmp_path / 'config.json').read_text())
    assert written['auths'] == {'127.0.0.1:5000': {}}, 'the password is in the helper, not the file'
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    DockerConfig(path).erase('127.0.0.1:5000')
    assert credentials('127.0.0.1:5000', None, path) is None


def test_a_missing_credential_helper_fails_naming_it(tmp_path):
    path = config(tmp_path, credsStore='dyabsent')
    with pytest.raises(DockerError) as caught:
        credentials('127.0.0.1:5000', None, path)
    assert str(caught.value).startswith(
        'failed to get the credentials for 127.0.0.1:5000 with docker-credential-dyabsent: ')
    assert 'not installed or not available in PATH' in str(caught.value)


def test_the_file_keeps_credentials_0600_and_replaces_other_spellings(tmp_path):
    path = config(tmp_path, auths={'https://127.0.0.1:5000': auth('old', 'old')})
    DockerConfig(path).store('127.0.0.1:5000', 'user', 'pw')
    written = json.loads((tmp_path / 'config.json').read_text())
    assert written['auths'] == {'127.0.0.1:5000': auth('user', 'pw')}
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600


DAEMON_REGISTRY_CONFIG = {
    'InsecureRegistryCIDRs': ['::1/128', '127.0.0.0/8'],
    'IndexConfigs': {'docker.io': {'Name': 'docker.io', 'Secure': True},
                     'mirror.lan:5000': {'Name': 'mirror.lan:5000', 'Secure': False},
                     '127.0.0.1:5443': {'Name': '127.0.0.1:5443', 'Secure': True}},
}
ADDRESSES = {'localhost': {'127.0.0.1', '::1'}, 'registry.example.com': {'203.0.113.7'}, '127.0.0.1': {'127.0.0.1'},
             '::1': {'::1'}}


@pytest.mark.parametrize('key, insecure', [
    ('127.0.0.1:5000', True),
    ('localhost:5000', True),
    ('[::1]:5000', True),
    ('mirror.lan:5000', True),
    ('127.0.0.1:5443', False),
    ('registry.example.com', False),
    ('unknown.invalid', False),
])
def test_insecure_registries_as_the_daemon_counts_them(key, insecure):
    assert insecure_registry(key, DAEMON_REGISTRY_CONFIG, lambda hostname: ADDRESSES.get(hostname, set())) is insecure


INDEX = [
    'not an entry',
    {'digest': 'sha256:' + 'a' * 64, 'platform': {'os': 'linux', 'architecture': 'amd64'}},
    {'digest': 'sha256:' + 'b' * 64, 'platform': {'os': 'linux', 'architecture': 'arm', 'variant': 'v7'}},
    {'digest': 'sha256:' + 'c' * 64, 'platform': {'os': 'unknown', 'architecture': 'unknown'}},
]


@pytest.mark.parametrize('platform, digest', [
    ('linux/amd64', 'a'), ('linux/arm', 'b'), ('linux/arm/v7', 'b'), ('linux/arm/v6', None), ('linux/s390x', None),
    ('windows/amd64', None),
])
def test_an_index_entry_is_chosen_by_os_arch_and_a_given_variant(platform, digest):
    assert _for_platform(INDEX, platform) == ('sha256:' + digest * 64 if digest else None)


def test_docker_hub_names_are_read_from_the_daemons_mirror_else_hubs_v2_address():
    assert registry_client('docker.io', {}, {}).url == 'https://registry-1.docker.io'
    assert registry_client('docker.io', {}, {'Mirrors': ['http://127.0.0.1:5000/']}).url == 'http://127.0.0.1:5000'
    assert registry_client('127.0.0.1:5000', {}, {'InsecureRegistryCIDRs': ['127.0.0.0/8']}).verify is False, \
        'as the daemon, an insecure registry is not asked for a valid certificate'
    assert registry_client('127.0.0.1:5000', {}, {'InsecureRegistryCIDRs': ['127.0.0.0/8']}).plain_fallback is True
    assert registry_client('192.0.2.1:5000', {}, {'InsecureRegistryCIDRs': ['127.0.0.0/8']}).plain_fallback is False
