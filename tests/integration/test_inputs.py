"""Bad input that the argument spec lets through: every module refuses it before it talks to the daemon.

An empty string is never taken as "not given": an undefined or empty variable must not turn a push or a
login towards Docker Hub, the default registry.
"""

from __future__ import annotations

import pytest

from conftest import task

pytestmark = pytest.mark.fault


EMPTY_OPTION_TASKS = [
    ('image_pull', dict(name=['busybox:1.36', '']), 'name[1] is empty: give it a value'),
    ('image_push', dict(name='team/app:1', repository=''), 'repository is empty: give it a value, or leave it out'),
    ('registry_login', dict(registry_url='', username='someone', password='secret-of-someone'),
     'registry_url is empty: give it a value, or leave it out for its default, https://index.docker.io/v1/'),
    ('image_push', dict(name='team/app:1', registry_auth=dict(username='someone', password='secret', registry='')),
     'registry_auth.registry is empty: give it a value, or leave it out'),
    ('image_tag', dict(name='team/app:1', repository=['team/app:2', ' ']), 'repository[1] is empty: give it a value'),
    ('image_remove', dict(name='team/app', tag=''),
     'tag is empty: give it a value, or leave it out for its default, latest'),
    ('image_info', dict(name=['']), 'name[0] is empty: give it a value'),
    ('image_archive', dict(names=['team/app:1'], path=''), 'path is empty: give it a value'),
    ('image_load', dict(path=''), 'path is empty: give it a value, or leave it out'),
    ('image_load', dict(src=''), 'src is empty: give it a value, or leave it out'),
    ('image_import', dict(src='/tmp/rootfs.tar', repository=''), 'repository is empty: give it a value'),
    ('image_commit', dict(container='', repository='team/app'), 'container is empty: give it a value'),
    ('container_export', dict(container='c', path=''), 'path is empty: give it a value'),
    ('image_prune', dict(docker_host=''),
     'docker_host is empty: give it a value, or leave it out for its default, unix:///var/run/docker.sock'),
    ('image_search', dict(term='busybox', registry=''), 'registry is empty: give it a value, or leave it out'),
]


def test_an_empty_string_is_refused_with_the_option_named(ansible, tmp_path):
    results = ansible.run(*(task(module, **args) for module, args, _message in EMPTY_OPTION_TASKS),
                          extra_env={'DOCKER_CONFIG': str(tmp_path)}).results
    assert [(result['failed'], result['msg']) for result in results] == [
        (True, message) for _module, _args, message in EMPTY_OPTION_TASKS]
    assert list(tmp_path.iterdir()) == [], 'registry_login wrote no config'
    assert 'secret-of-someone' not in repr(results)


def test_an_api_version_that_is_no_version(ansible):
    bad, good = ansible.run(task('image_info', api_version='abc'), task('image_info', api_version='1.41')).results
    assert bad['failed'] is True
    assert bad['msg'] == "api_version must be 'auto' or an Engine API version such as 1.41, not 'abc'"
    assert good['failed'] is False
