"""registry_login against the real engine and a real registry with htpasswd auth behind TLS: docker login / logout.

Every test logs in to its own ``docker-registry`` (tests/integration/secure_registry.py) and keeps
its credentials in a config.json of its own, never in ``~/.docker``.
"""

from __future__ import annotations

import base64
import json
import os
import stat
import sys
import textwrap

import pytest

from conftest import task
from secure_registry import HTTP_FALLBACK_API, docker_config, engine_api_version
from secure_registry import secure_registry  # noqa: F401  # pylint: disable=unused-import


@pytest.fixture
def registry(secure_registry):  # noqa: F811
    return secure_registry()


def b64(username, password):
    return base64.b64encode(('%s:%s' % (username, password)).encode()).decode()


def login_args(registry, config, password=None, **extra):
    return dict(registry_url=registry.address, username=registry.username,
                password=password or registry.password, config_path=str(config), **extra)


def read(config):
    return json.loads(config.read_text())


def refused_login(engine, registry):
    """The daemon's words when ``registry`` refuses a login.

    The daemon tries HTTPS first, then plain HTTP, as for every registry on loopback. A plain-HTTP
    registry's 401 comes from the second attempt on every engine. Behind TLS, Docker 20.10 reports
    the HTTPS 401; newer engines go on to plain HTTP after it and report what the TLS-only registry
    answers to that, 400.
    """
    if not registry.tls:
        url, status = 'http', '401 Unauthorized'
    elif engine_api_version(engine) >= HTTP_FALLBACK_API:
        url, status = 'http', '400 Bad Request'
    else:
        url, status = 'https', '401 Unauthorized'
    return 'login attempt to %s://%s/v2/ failed with status: %s' % (url, registry.address, status)


def test_login_check_apply_and_idempotence(ansible, engine, registry, tmp_path, unique):
    config = tmp_path / 'docker' / 'config.json'
    args = login_args(registry, config)
    logged_out = {registry.address: {'registry': registry.address, 'logged_in': False}}
    logged_in = {registry.address: {'registry': registry.address, 'logged_in': True, 'username': 'dockyard'}}

    before_check = registry.mark()
    check = ansible.module('registry_login', check=True, **args)
    assert check['changed'] is True
    assert check['actions'] == ['Logged in to %s as dockyard' % registry.address]
    assert check['login_result'] == {'serveraddress': registry.address, 'username': 'dockyard', 'Status': 'Login Succeeded'}
    assert check['diff'] == {'before': logged_out, 'after': logged_in}
    assert not config.exists(), 'check mode must not write the config'
    assert registry.since(before_check), 'check mode still has the daemon check the credentials'

    apply = ansible.module('registry_login', **args)
    assert apply['changed'] is True
    assert apply['actions'] == ['Logged in to %s as dockyard' % registry.address]
    assert apply['diff'] == {'before': logged_out, 'after': logged_in}
    assert (apply['registry'], apply['username'], apply['config_path']) == (registry.address, 'dockyard', str(config))
    assert apply['credentials_store'] is None
    assert apply['login_result'] == check['login_result']
    assert read(config) == {'auths': {registry.address: {'auth': b64('dockyard', registry.password)}}}
    assert stat.S_IMODE(config.stat().st_mode) == 0o600

    mark = registry.mark()
    check_again, apply_again = ansible.run(task('registry_login', check=True, **args),
                                           task('registry_login', **args)).results
    for result in (check_again, apply_again):
        assert result['changed'] is False
        assert result['actions'] == []
        assert result['diff'] == {'before': logged_in, 'after': logged_in}
        assert result['login_result'] == {'serveraddress': registry.address, 'username': 'dockyard'}, \
            'no Status: the daemon was not asked'
    assert registry.since(mark) == [], 'the same stored credentials are not checked again'

    # The docker CLI uses what the module stored: a push to the authenticated registry succeeds.
    reference = '%s/login/%s:1' % (registry.address, unique)
    engine.make_image(reference)
    engine.cli('--config', str(config.parent), 'push', reference)
    assert registry.uploads('login/%s/manifests/1' % unique)


def test_other_entries_are_kept_and_a_new_password_replaces_the_old_one(ansible, registry, tmp_path):
    # An older login stored under another spelling of the same registry, with an old password.
    config = docker_config(tmp_path, auths={'https://%s' % registry.address: ('dockyard', 'an-old-password'),
                                            'other.example.com': ('someone', 'secret')})
    config.write_text(json.dumps(dict(read(config), credHelpers={'ecr.example.com': 'ecr-login'},
                                      psFormat='table {{.ID}}')))

    result = ansible.module('registry_login', **login_args(registry, config))
    assert result['changed'] is True
    assert result['diff']['before'] == result['diff']['after'], 'same user: the diff cannot tell, changed does'
    assert result['actions'] == ['Logged in to %s as dockyard' % registry.address]
    assert read(config) == {
        'auths': {'other.example.com': {'auth': b64('someone', 'secret')},
                  registry.address: {'auth': b64('dockyard', registry.password)}},
        'credHelpers': {'ecr.example.com': 'ecr-login'},
        'psFormat': 'table {{.ID}}',
    }


def test_reauthorize_checks_stored_credentials_again(ansible, engine, registry, tmp_path):
    # Stored credentials that the registry no longer accepts (written by hand, as an old login would).
    config = docker_config(tmp_path, auths={registry.address: ('dockyard', 'no-longer-valid')})
    args = login_args(registry, config, password='no-longer-valid')
    trusted, checked = ansible.run(task('registry_login', **args),
                                   task('registry_login', reauthorize=True, **args)).results
    assert trusted['changed'] is False
    assert trusted['failed'] is False
    assert checked['failed'] is True
    assert checked['msg'] == 'failed to log in to %s as dockyard: %s' % (registry.address,
                                                                         refused_login(engine, registry))


@pytest.mark.parametrize('tls', [True, False], ids=['tls', 'plain-http'])
def test_wrong_credentials_fail_naming_the_registry(ansible, engine, secure_registry, tmp_path, tls):  # noqa: F811
    registry = secure_registry(tls=tls)
    config = tmp_path / 'config.json'
    check, apply = ansible.run(task('registry_login', check=True, **login_args(registry, config, password='wrong')),
                               task('registry_login', **login_args(registry, config, password='wrong'))).results
    for result in (check, apply):
        assert result['failed'] is True
        assert result['msg'] == 'failed to log in to %s as dockyard: %s' % (registry.address,
                                                                            refused_login(engine, registry))
    assert not config.exists()


def test_logout_check_apply_and_idempotence(ansible, registry, tmp_path):
    config = docker_config(tmp_path, auths={registry.address: ('dockyard', registry.password),
                                            'https://%s/v1/' % registry.address: ('dockyard', registry.password),
                                            'other.example.com': ('someone', 'secret')})
    args = dict(registry_url='https://%s' % registry.address, state='absent', config_path=str(config))
    logged_in = {registry.address: {'registry': registry.address, 'logged_in': True, 'username': 'dockyard'}}
    logged_out = {registry.address: {'registry': registry.address, 'logged_in': False}}

    check, apply, check_again, apply_again = ansible.sequence('registry_login', **args)
    assert [result['changed'] for result in (check, apply, check_again, apply_again)] == [True, True, False, False]
    assert check['actions'] == ['Logged out of %s' % registry.address]
    assert check['login_result'] == apply['login_result'] == {}
    assert apply['actions'] == ['Logged out of %s' % registry.address]
    assert check['diff'] == apply['diff'] == {'before': logged_in, 'after': logged_out}
    assert check_again['diff'] == apply_again['diff'] == {'before': logged_out, 'after': logged_out}
    assert apply['username'] is None
    assert read(config) == {'auths': {'other.example.com': {'auth': b64('someone', 'secret')}}}


HELPER = textwrap.dedent('''\
    #!{python}
    """A docker credential helper keeping credentials in a JSON file, for the tests.

    It speaks the protocol of docker-credential-helpers: get/store/erase, JSON on stdin/stdout.
    """
    import json, os, sys
    verb, path = sys.argv[1], {store!r}
    data = json.load(open(path)) if os.path.exists(path) else {{}}
    request = sys.stdin.read().strip()
    if verb == 'store':
        entry = json.loads(request)
        data[entry['ServerURL']] = {{'Username': entry['Username'], 'Secret': entry['Secret']}}
    elif request not in data:
        print('credentials not found in native keychain')
        sys.exit(1)
    elif verb == 'get':
        print(json.dumps(dict(data[request], ServerURL=request)))
    elif verb == 'erase':
        del data[request]
    json.dump(data, open(path, 'w'))
    ''')


def test_a_credential_helper_named_in_the_config_keeps_the_credentials(ansible, engine, registry, tmp_path, unique):
    bin_dir = tmp_path / 'bin'
    bin_dir.mkdir()
    store = tmp_path / 'helper-store.json'
    helper = bin_dir / 'docker-credential-dockyardtest'
    helper.write_text(HELPER.format(python=sys.executable, store=str(store)))
    helper.chmod(0o755)
    config = docker_config(tmp_path / 'docker', creds_store='dockyardtest')
    env = {'PATH': '%s:%s' % (bin_dir, os.environ['PATH'])}
    args = login_args(registry, config)

    login, again = ansible.run(task('registry_login', **args), task('registry_login', **args), extra_env=env).results
    assert login['failed'] is False, login['msg']
    assert (login['changed'], again['changed']) == (True, False), login
    assert login['credentials_store'] == 'dockyardtest'
    assert json.loads(store.read_text()) == {registry.address: {'Username': 'dockyard', 'Secret': registry.password}}
    assert read(config) == {'auths': {registry.address: {}}, 'credsStore': 'dockyardtest'}
    assert registry.password not in config.read_text()

    # The docker CLI finds the credentials through the same helper.
    reference = '%s/helper/%s:1' % (registry.address, unique)
    engine.make_image(reference)
    cli = engine.cli  # the CLI runs the helper from PATH
    os.environ['PATH'], saved = env['PATH'], os.environ['PATH']
    try:
        cli('--config', str(config.parent), 'push', reference)
    finally:
        os.environ['PATH'] = saved
    assert registry.uploads('helper/%s/manifests/1' % unique)

    logout, logout_again = ansible.run(task('registry_login', state='absent', registry_url=registry.address,
                                            config_path=str(config)),
                                       task('registry_login', state='absent', registry_url=registry.address,
                                            config_path=str(config)), extra_env=env).results
    assert (logout['changed'], logout_again['changed']) == (True, False)
    assert json.loads(store.read_text()) == {}
    assert read(config) == {'auths': {}, 'credsStore': 'dockyardtest'}


def test_the_password_is_absent_from_all_output_at_vvv(ansible, registry, tmp_path):
    config = tmp_path / 'config.json'
    args = login_args(registry, config)
    run = ansible.run(
        task('registry_login', check=True, **args),
        task('registry_login', **args),
        task('registry_login', reauthorize=True, **args),
        task('registry_login', **login_args(registry, config, password=registry.password + '-wrong')),
        task('registry_login', state='absent', registry_url=registry.address, config_path=str(config)),
        verbosity=3)
    assert [result['failed'] for result in run] == [False, False, False, True, False]
    assert run[1]['changed'] is True and run[2]['changed'] is False
    output = run.stdout + run.stderr + json.dumps(run.results)
    assert 'dockyard' in output and registry.address in output, 'the output is there, with the user and the registry'
    for secret in (registry.password, b64('dockyard', registry.password),
                   b64('dockyard', registry.password + '-wrong')):
        assert secret not in output


def test_docker_config_is_the_default_and_image_search_uses_the_login(ansible, engine, registry, tmp_path, unique):
    reference = '%s/found/%s:1' % (registry.address, unique)
    engine.make_image(reference)
    for event in engine.api.push(reference, stream=True, decode=True,
                                 auth_config={'username': registry.username, 'password': registry.password}):
        assert 'error' not in event, event
    env = {'DOCKER_CONFIG': str(tmp_path / 'dot-docker')}
    login, search = ansible.run(
        task('registry_login', registry_url=registry.address, username=registry.username, password=registry.password),
        task('image_search', registry=registry.address, term=unique, list_tags=True,
             registry_ca_path=str(registry.ca_path)),
        extra_env=env).results
    assert login['config_path'] == str(tmp_path / 'dot-docker' / 'config.json')
    assert read(tmp_path / 'dot-docker' / 'config.json') == {
        'auths': {registry.address: {'auth': b64('dockyard', registry.password)}}}
    assert search['failed'] is False, search.get('msg')
    assert search['results'] == [{'name': 'found/%s' % unique, 'tags': ['1']}]


def test_bad_input(ansible, tmp_path):
    config = tmp_path / 'config.json'
    config.write_text('{not json')
    no_password, broken = ansible.run(
        task('registry_login', username='someone', config_path=str(tmp_path / 'absent.json')),
        task('registry_login', username='someone', password='x', config_path=str(config))).results
    assert no_password['msg'] == 'state is present but all of the following are missing: password'
    assert broken['msg'].startswith('failed to read the docker config %s: it is not JSON (' % config)
