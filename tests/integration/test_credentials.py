"""Registry credentials, as the modules find them: registry_auth, the docker CLI's config.json, credential helpers.

All against a real ``docker-registry`` with htpasswd auth on plain HTTP (secure_registry.py), as a
registry on loopback is for the daemon; the last test records what each engine does with one behind TLS.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path

import docker
import pytest

from conftest import task
import secure_registry as registries
from secure_registry import HTTP_FALLBACK_API, containerd_store, docker_config, engine_api_version

secure_registry = registries.secure_registry  # the fixture, for the tests of this file


@pytest.fixture
def registry(secure_registry):
    # Plain HTTP with auth: on loopback the daemon reports this registry's own answers on every engine
    # (against TLS, Docker 28.5 falls back to plain HTTP after a 401 or 404; see secure_registry.py).
    return secure_registry(tls=False)


def local_image(engine, registry, path, tag='1'):
    reference = '%s/%s:%s' % (registry.address, path, tag)
    return reference, engine.make_image(reference)


def credential_helper(directory, name, registry):
    """A ``docker-credential-NAME`` program that knows ``registry``'s login and logs every call it gets."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    log = directory / 'helper.log'
    program = directory / ('docker-credential-%s' % name)
    program.write_text(
        '#!/bin/sh\n'
        'server=$(cat)\n'
        'echo "$1 $server" >> %(log)s\n'
        'if [ "$1" = get ] && [ "$server" = "%(address)s" ]; then\n'
        '  printf \'{"ServerURL": "%%s", "Username": "%(username)s", "Secret": "%(password)s"}\' "$server"\n'
        '  exit 0\n'
        'fi\n'
        'echo "credentials not found in native keychain"\n'
        'exit 1\n' % dict(log=log, address=registry.address, username=registry.username, password=registry.password))
    program.chmod(0o755)
    return log


def test_config_json_auths_work_without_registry_auth(ansible, engine, registry, unique, tmp_path):
    home = tmp_path / 'home'
    docker_config(home / '.docker', auths={registry.address: (registry.username, registry.password)})
    reference, image_id = local_image(engine, registry, 'creds/%s' % unique)
    env = {'HOME': str(home)}

    push, push_again = ansible.run(task('image_push', name=reference), task('image_push', name=reference),
                                   extra_env=env).results
    assert push['changed'] is True, push.get('msg')
    assert push_again['changed'] is False
    engine.api.remove_image(reference, force=True)

    pull, pull_again = ansible.run(task('image_pull', name=reference), task('image_pull', name=reference),
                                   extra_env=env).results
    assert pull['changed'] is True, pull.get('msg')
    assert pull['image']['Id'] == image_id == engine.image_id(reference)
    assert pull_again['changed'] is False


@pytest.mark.parametrize('setting', ['credHelpers', 'credsStore'])
def test_a_credential_helper_is_used(ansible, engine, registry, unique, tmp_path, setting):
    helper = 'dyk%s' % unique
    log = credential_helper(tmp_path / 'bin', helper, registry)
    if setting == 'credHelpers':
        docker_config(tmp_path / 'config', cred_helpers={registry.address: helper})
    else:
        docker_config(tmp_path / 'config', creds_store=helper)
    reference, _image_id = local_image(engine, registry, 'creds/%s' % unique)
    env = {'DOCKER_CONFIG': str(tmp_path / 'config'), 'PATH': '%s:%s' % (tmp_path / 'bin', os.environ['PATH'])}

    check, push = ansible.run(task('image_push', check=True, name=reference), task('image_push', name=reference),
                              extra_env=env).results
    assert check['changed'] is True, check.get('msg')
    assert push['changed'] is True, push.get('msg')
    assert 'get %s' % registry.address in log.read_text().splitlines()


def test_registry_auth_wins_over_config_json(ansible, engine, registry, unique, tmp_path):
    docker_config(tmp_path, auths={registry.address: (registry.username, 'stale-password')})
    reference, _image_id = local_image(engine, registry, 'creds/%s' % unique)

    stale, given = ansible.run(task('image_push', name=reference),
                               task('image_push', name=reference, registry_auth=registry.auth_config()),
                               extra_env={'DOCKER_CONFIG': str(tmp_path)}).results
    assert stale['failed'] is True
    assert stale['msg'] == 'failed to look up %s in registry %s: unauthorized: authentication required' % (
        reference, registry.address)
    assert given['changed'] is True, given.get('msg')


def test_registry_auth_for_another_registry_leaves_config_json_in_charge(ansible, engine, registry, unique, tmp_path):
    docker_config(tmp_path, auths={registry.address: (registry.username, registry.password)})
    reference, _image_id = local_image(engine, registry, 'creds/%s' % unique)
    elsewhere = dict(username='someone', password='wrong', registry='registry.example.com')

    result = ansible.run(task('image_push', name=reference, registry_auth=elsewhere),
                         extra_env={'DOCKER_CONFIG': str(tmp_path)})[0]
    assert result['changed'] is True, result.get('msg')


@pytest.mark.parametrize('url', ['https://%s/v2/', 'http://%s'])
def test_registry_auth_may_name_the_registry_as_a_url(ansible, engine, registry, unique, tmp_path, url):
    reference, _image_id = local_image(engine, registry, 'creds/%s' % unique)
    as_url = dict(registry.auth_config(), registry=url % registry.address)

    result = ansible.run(task('image_push', name=reference, registry_auth=as_url),
                         extra_env={'DOCKER_CONFIG': str(tmp_path)})[0]
    assert result['changed'] is True, result.get('msg')


def test_image_pull_uses_registry_auth(ansible, engine, registry, unique, tmp_path):
    reference, image_id = local_image(engine, registry, 'creds/%s' % unique)
    ansible.module('image_push', name=reference, registry_auth=registry.auth_config())
    engine.api.remove_image(reference, force=True)
    auth = registry.auth_config()

    without, check, pull, again = ansible.run(
        task('image_pull', name=reference), task('image_pull', check=True, name=reference, registry_auth=auth),
        task('image_pull', name=reference, registry_auth=auth), task('image_pull', name=reference, registry_auth=auth),
        extra_env={'DOCKER_CONFIG': str(tmp_path)}).results
    assert without['failed'] is True
    # The daemon's words: the containerd store's resolver has its own, the classic store quotes the request.
    if containerd_store(engine):
        words = ('failed to resolve reference "%s": pull access denied, repository does not exist or may require '
                 'authorization: authorization failed: no basic auth credentials' % reference)
    else:
        words = 'Head "%s/v2/creds/%s/manifests/1": no basic auth credentials' % (registry.url, unique)
    assert without['msg'] == 'failed to pull %s: %s' % (reference, words)
    assert check['changed'] is True
    assert pull['changed'] is True
    assert pull['image']['Id'] == image_id
    assert again['changed'] is False


def test_the_password_is_absent_from_all_output_at_vvv(ansible, engine, registry, unique, tmp_path):
    reference, _image_id = local_image(engine, registry, 'creds/%s' % unique)
    other = '%s/creds/%s-pulled:1' % (registry.address, unique)
    engine.make_image(other)
    ansible.module('image_push', name=other, registry_auth=registry.auth_config())
    engine.api.remove_image(other, force=True)
    wrong_password = 'wrong-%s' % unique
    wrong = dict(registry.auth_config(), password=wrong_password)

    run = ansible.run(
        task('image_push', check=True, name=reference, registry_auth=registry.auth_config()),
        task('image_push', name=reference, registry_auth=registry.auth_config()),
        task('image_push', name=reference, registry_auth=wrong),
        task('image_pull', name=other, registry_auth=registry.auth_config()),
        task('image_pull', name=other, registry_auth=wrong),
        # ansible-core 2.21 leaves the invocation out of results unless asked (INJECT_INVOCATION).
        verbosity=3, extra_env={'DOCKER_CONFIG': str(tmp_path), 'ANSIBLE_INJECT_INVOCATION': 'true'})
    assert [result['failed'] for result in run.results] == [False, False, True, False, True]
    recorded = json.dumps(run.results)
    for secret in (registry.password, wrong_password):
        assert secret not in run.stdout
        assert secret not in run.stderr
        assert secret not in recorded
    assert 'VALUE_SPECIFIED_IN_NO_LOG_PARAMETER' in run.stdout, 'the -vvv output shows the masked invocation'


def test_a_tls_registry_on_loopback_as_each_engine_sees_it(engine, secure_registry, unique):
    """Records what the daemon does with a registry behind TLS on loopback, and why the tests above use plain HTTP.

    dockerd counts 127.0.0.0/8 as an insecure registry range: it speaks TLS to the registry without
    verifying the certificate (which nobody but the test trusts) and the registry's htpasswd auth is
    enforced. When the HTTPS answer is not a success, Docker 20.10 reports it; newer engines try plain
    HTTP next, which the TLS-only registry drops, so a look-up of an absent tag reads as a reset
    connection instead of the registry's 404.
    """
    registry = secure_registry()
    untrusted = subprocess.run(['curl', '-sS', '-o', '/dev/null', 'https://%s/v2/' % registry.address],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, check=False)
    assert untrusted.returncode == 60, 'curl without the test CA must reject the certificate'
    plain = subprocess.run(['curl', '-sS', '-o', '/dev/null', '-w', '%{http_code}', 'http://%s/v2/' % registry.address],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, check=False)
    assert plain.stdout == '400', 'the registry speaks TLS only'
    reference, _image_id = local_image(engine, registry, 'creds/%s' % unique)
    repository = reference.rsplit(':', 1)[0]
    auth = {'username': registry.username, 'password': registry.password}

    refused = list(engine.api.push(repository, tag='1', stream=True, decode=True))
    assert refused[-1].get('error') == (
        'push access denied, repository does not exist or may require authorization: authorization failed: '
        'no basic auth credentials' if containerd_store(engine) else 'no basic auth credentials')
    accepted = list(engine.api.push(repository, tag='1', stream=True, decode=True, auth_config=auth))
    assert not any('error' in event for event in accepted), accepted
    assert any(line.startswith('127.0.0.1') and ' HTTP/1.1" 201 ' in line
               for line in registry.uploads('creds/%s/manifests/1' % unique)), 'the manifest was put over TLS'
    # Both engines end a push with '1: digest: sha256:... size: N' (only 20.10 sends it as an aux event too).
    pushed = [event['status'].split()[2] for event in accepted if event.get('status', '').startswith('1: digest: ')]
    assert engine.api.inspect_distribution(reference, auth_config=auth)['Descriptor']['digest'] == pushed[-1]

    absent = '%s:absent' % repository
    if engine_api_version(engine) >= HTTP_FALLBACK_API:
        with pytest.raises(docker.errors.APIError) as caught:
            engine.api.inspect_distribution(absent, auth_config=auth)
        assert caught.value.response.status_code == 500
        reset = r'read tcp 127\.0\.0\.1:\d+->%s: read: connection reset by peer' % re.escape(registry.address)
        assert re.fullmatch(reset, caught.value.explanation), caught.value.explanation
    else:
        with pytest.raises(docker.errors.NotFound) as caught:
            engine.api.inspect_distribution(absent, auth_config=auth)
        assert caught.value.explanation == 'manifest unknown: manifest unknown'
