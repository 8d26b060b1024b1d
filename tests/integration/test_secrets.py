"""No credential in any output: every module that talks to a registry, at -vvvv, with a known password.

Each registry-facing module runs through ansible-playbook at ``-vvvv``, with a HOME of its own: image_pull,
image_push, image_search (a registry's catalog, which the module reads itself) and registry_login, once
with the right password and once with a wrong one each (a failing login, push, pull and catalog read).
The password, and the base64 ``user:password`` the docker CLI keeps, must appear nowhere: not in
stdout, stderr, the results (with their diffs, warnings and invocations), nor in any file written under
HOME, except the config.json registry_login writes, which only its owner may read (0600).

The registries are real docker-registry instances with htpasswd auth (secure_registry.py), with the
same password: one behind TLS for registry_login and the catalog, one on plain HTTP for pushes and
pulls, which the daemon reaches the same way on every engine (see secure_registry.py). image_info
takes no credentials, and the images role passes none, so neither is run here.
"""

from __future__ import annotations

import base64
import json
import os
import stat
import uuid

import pytest

from conftest import task
from secure_registry import secure_registry  # noqa: F401  # pylint: disable=unused-import

pytestmark = pytest.mark.fault


def b64(username, password):
    return base64.b64encode(('%s:%s' % (username, password)).encode()).decode()


def files_under(root):
    for directory, _subdirectories, names in os.walk(root):
        for name in names:
            yield os.path.join(directory, name)


def test_no_password_anywhere_at_vvvv(ansible, engine, secure_registry, tmp_path, unique):  # noqa: F811
    password = 'Sekr1t-%s' % uuid.uuid4().hex
    wrong_password = 'Wr0ng-%s' % uuid.uuid4().hex
    tls = secure_registry(password=password)
    plain = secure_registry(tls=False, password=password)
    home = tmp_path / 'home'
    home.mkdir()
    reference = '%s/secrets/%s:1' % (plain.address, unique)
    engine.make_image(reference)

    def auth(registry, secret=password):
        return dict(registry.auth_config(), password=secret)

    def login(secret):
        return dict(registry_url=tls.address, username=tls.username, password=secret)

    catalog = dict(registry=tls.address, term=unique, list_tags=True, registry_ca_path=str(tls.ca_path))
    run = ansible.run(
        task('registry_login', check=True, **login(password)),
        task('registry_login', **login(password)),
        task('registry_login', **login(wrong_password)),
        task('image_push', check=True, name=reference, registry_auth=auth(plain)),
        task('image_push', name=reference, registry_auth=auth(plain)),
        task('image_push', name=reference, registry_auth=auth(plain, wrong_password)),
        task('image_pull', check=True, name=reference, registry_auth=auth(plain)),
        task('image_pull', name=reference, registry_auth=auth(plain)),
        task('image_pull', name=reference, registry_auth=auth(plain, wrong_password)),
        task('image_search', registry_auth=auth(tls), **catalog),
        task('image_search', **catalog),  # with the login registry_login stored under HOME
        task('image_search', registry_auth=auth(tls, wrong_password), **catalog),
        verbosity=4,
        # ansible-core 2.21 leaves the invocation out of results unless asked (INJECT_INVOCATION).
        extra_env={'HOME': str(home), 'DOCKER_CONFIG': '', 'ANSIBLE_INJECT_INVOCATION': 'true'})

    failed = [result['failed'] for result in run.results]
    assert failed == [False, False, True, False, False, True, False, False, True, False, False, True], [
        result.get('msg') for result in run.results]
    assert run[1]['changed'] is True and run[4]['changed'] is True
    assert run[9]['results'] == run[10]['results'] == [], 'the catalog was read with the credentials (else 401)'
    assert 'VALUE_SPECIFIED_IN_NO_LOG_PARAMETER' in run.stdout, 'the -vvvv output shows the masked invocation'
    assert tls.address in run.stdout and 'dockyard' in run.stdout, 'the output is there, with registry and user'

    secrets = [password, wrong_password, b64('dockyard', password), b64('dockyard', wrong_password)]
    recorded = json.dumps(run.results)
    for secret in secrets:
        assert secret not in run.stdout
        assert secret not in run.stderr
        assert secret not in recorded

    config = home / '.docker' / 'config.json'
    assert json.loads(config.read_text())['auths'][tls.address] == {'auth': b64('dockyard', password)}
    assert stat.S_IMODE(config.stat().st_mode) == 0o600
    written = [path for path in files_under(str(home)) if path != str(config)]
    for path in written:
        with open(path, 'rb') as handle:
            content = handle.read()
        for secret in secrets:
            assert secret.encode() not in content, '%s holds a credential' % path
