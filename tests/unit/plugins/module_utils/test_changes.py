"""The ``changes`` lines of image_commit and image_import: checks and what they set in an image config."""

from __future__ import annotations

import pytest

from ansible_collections.dockyard.docker.plugins.module_utils._changes import (
    expected_settings, parse_changes, settings, target_reference,
)
from ansible_collections.dockyard.docker.plugins.module_utils._errors import DockerError

INSTRUCTIONS = 'CMD, ENTRYPOINT, ENV, EXPOSE, LABEL, ONBUILD, USER, VOLUME, WORKDIR'


@pytest.mark.parametrize('lines, taker, message', [
    (['ENV A=1', 'RUN echo no'], 'a commit',
     'changes[1]: RUN is not an instruction a commit accepts; use one of %s' % INSTRUCTIONS),
    (['FROM scratch'], 'an import', 'changes[0]: FROM is not an instruction an import accepts; use one of %s'
     % INSTRUCTIONS),
    (['ENV A'], 'a commit', 'changes[0]: ENV needs KEY=VALUE pairs or KEY VALUE'),
    (['LABEL a=1 b'], 'a commit', "changes[0]: 'b' is not of the form KEY=VALUE"),
    (['workdir'], 'an import', 'changes[0]: WORKDIR needs an argument'),
    (['EXPOSE 80 http'], 'a commit', "changes[0]: 'http' is not a port, a port range or either with /tcp, /udp or /sctp"),
    (['EXPOSE 80/quic'], 'a commit', "changes[0]: '80/quic' names protocol quic; use tcp, udp or sctp"),
    (['EXPOSE 0'], 'a commit', "changes[0]: '0' is not a port, a port range or either with /tcp, /udp or /sctp"),
    (['USER root', '  '], 'a commit', 'changes[1]: the line is empty'),
    (['ONBUILD FROM busybox'], 'an import', 'changes[0]: ONBUILD cannot trigger FROM'),
    (['ENV A="unclosed'], 'a commit', "changes[0]: ENV 'A=\"unclosed': No closing quotation"),
])
def test_bad_lines_are_named(lines, taker, message):
    with pytest.raises(DockerError) as caught:
        parse_changes(lines, taker)
    assert str(caught.value) == message


def test_changes_apply_in_order_as_the_daemon_does():
    container = {'Cmd': ['sh'], 'Env': ['PATH=/bin'], 'WorkingDir': '/srv', 'ExposedPorts': {'22/tcp': {}}}
    changes = parse_changes([
        'ENTRYPOINT ["/app"]', 'env MODE=prod LEVEL="two words"', 'ENV OLD style value', 'EXPOSE 8080-8081/udp 9000',
        'LABEL team=core', 'VOLUME ["/data"]', 'VOLUME /cache /logs', 'WORKDIR app', 'USER 1000', 'ONBUILD RUN make',
    ], 'a commit')
    assert expected_settings(container, changes) == {
        'Cmd': [], 'Entrypoint': ['/app'],
        'Env': {'PATH': '/bin', 'MODE': 'prod', 'LEVEL': 'two words', 'OLD': 'style value'},
        'Labels': {'team': 'core'},
        'ExposedPorts': {'22/tcp', '8080/udp', '8081/udp', '9000/tcp'},
        'Volumes': {'/data', '/cache', '/logs'},
        'User': '1000', 'WorkingDir': '/srv/app', 'OnBuild': ['RUN make'],
    }


def test_cmd_after_entrypoint_is_kept_and_shell_form_runs_through_sh():
    changes = parse_changes(['CMD echo hi', 'ENTRYPOINT /entry'], 'a commit')
    config = expected_settings({}, changes)
    assert config['Cmd'] == ['/bin/sh', '-c', 'echo hi']
    assert config['Entrypoint'] == ['/bin/sh', '-c', '/entry']


def test_settings_normalize_an_image_config():
    assert settings(None) == {'Cmd': [], 'Entrypoint': [], 'Env': {}, 'Labels': {}, 'ExposedPorts': set(),
                              'Volumes': set(), 'User': '', 'WorkingDir': '', 'OnBuild': []}
    assert settings({'Env': ['A=1', 'B']})['Env'] == {'A': '1', 'B': ''}


def test_the_target_takes_the_tag_option_only():
    assert str(target_reference('registry.example.com/team/app', '1.0')) == 'registry.example.com/team/app:1.0'
    with pytest.raises(DockerError, match="repository 'app:1' holds a tag; give the tag in the tag option"):
        target_reference('app:1', 'latest')
