"""Option values the argument spec cannot judge: empty strings and the API version."""

from __future__ import annotations

import pytest

from ansible.module_utils.common.parameters import AnsibleFallbackNotFound

from ansible_collections.dockyard.docker.plugins.module_utils._client import DOCKER_COMMON_ARGS, REGISTRY_AUTH_ARG
from ansible_collections.dockyard.docker.plugins.module_utils._options import (
    api_version_problem, empty_message, empty_options, set_environment)

SPEC = dict(DOCKER_COMMON_ARGS, name=dict(type='list', elements='str'), repository=dict(type='str'),
            registry_auth=REGISTRY_AUTH_ARG, force=dict(type='bool'))


def test_empty_strings_are_named_wherever_they_stand():
    params = dict(docker_host='unix:///run/docker.sock', name=['app:1', '', ' '], repository='',
                  registry_auth=dict(username='u', password='p', registry=''), force=False)
    assert [path for path, _rules in empty_options(SPEC, params)] == [
        'name[1]', 'name[2]', 'repository', 'registry_auth.registry']
    assert [path for path, _rules in empty_options(SPEC, params, allowed=('repository', 'name'))] == [
        'registry_auth.registry']


def test_values_and_absent_options_pass():
    params = dict(name=['app:1'], repository='team/app', registry_auth=None, tls_hostname=None)
    assert empty_options(SPEC, params) == []


def test_the_message_says_what_to_do():
    messages = [empty_message(*found) for found in empty_options(
        dict(SPEC, tag=dict(type='str', default='latest')),
        dict(name=[''], repository='', tag='', docker_host='', registry_auth=dict(username='')))]
    assert messages == [
        'docker_host is empty: give it a value, or leave it out for its default, unix:///var/run/docker.sock',
        'name[0] is empty: give it a value',
        'repository is empty: give it a value, or leave it out',
        'registry_auth.username is empty: give it a value',
        'tag is empty: give it a value, or leave it out for its default, latest',
    ]


@pytest.mark.parametrize('text', ['auto', '1.41', '1.51', '2.0'])
def test_api_versions_the_sdk_takes(text):
    assert api_version_problem(text) is None


@pytest.mark.parametrize('text', ['abc', '1', '1.41.0', 'v1.41', '', '1.4x'])
def test_other_api_versions_are_refused_by_name(text):
    assert api_version_problem(text) == (
        "api_version must be 'auto' or an Engine API version such as 1.41, not %r" % text)


def test_an_empty_environment_variable_counts_as_unset(monkeypatch):
    monkeypatch.setenv('DOCKER_HOST', '')
    with pytest.raises(AnsibleFallbackNotFound):
        set_environment('DOCKER_HOST')
    monkeypatch.setenv('DOCKER_HOST', 'tcp://127.0.0.1:2375')
    assert set_environment('DOCKER_HOST') == 'tcp://127.0.0.1:2375'
