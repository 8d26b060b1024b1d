"""The docker images rows and the fields of docker inspect -f."""

from __future__ import annotations

import pytest

from ansible_collections.dockyard.docker.plugins.module_utils._errors import DockerError
from ansible_collections.dockyard.docker.plugins.module_utils._views import (
    field_paths, human_size, listing_rows, pick_fields)

IMAGE_ID = 'sha256:4bcff63911fcb4448bd4fdacec207030997caf25e9bea4045fa6c8c44de311d1'


@pytest.mark.parametrize('size, text', [
    (0, '0B'), (12, '12B'), (8990, '8.99kB'), (3080000, '3.08MB'), (3083312, '3.08MB'), (316_987_000, '317MB'),
    (1_073_741_824, '1.07GB'), (999, '999B'), (1000, '1kB'),
])
def test_sizes_in_the_cli_units(size, text):
    assert human_size(size) == text


def test_a_row_per_tag_and_one_for_an_untagged_image():
    summaries = [
        {'Id': IMAGE_ID, 'RepoTags': ['busybox:1.36', '127.0.0.1:5000/team/app:2'], 'Created': 1796280146,
         'Size': 4261550},
        {'Id': 'sha256:' + 'a' * 64, 'RepoTags': None, 'Created': 0, 'Size': 12},
        {'Id': 'sha256:' + 'b' * 64, 'RepoTags': ['<none>:<none>'], 'Created': 0, 'Size': 0},
    ]
    assert listing_rows(summaries) == [
        {'repository': 'busybox', 'tag': '1.36', 'id': '4bcff63911fc', 'created': '2026-12-03T06:42:26Z',
         'size': '4.26MB', 'size_bytes': 4261550},
        {'repository': '127.0.0.1:5000/team/app', 'tag': '2', 'id': '4bcff63911fc', 'created': '2026-12-03T06:42:26Z',
         'size': '4.26MB', 'size_bytes': 4261550},
        {'repository': '<none>', 'tag': '<none>', 'id': 'a' * 12, 'created': '1970-01-01T00:00:00Z', 'size': '12B',
         'size_bytes': 12},
        {'repository': '<none>', 'tag': '<none>', 'id': 'b' * 12, 'created': '1970-01-01T00:00:00Z', 'size': '0B',
         'size_bytes': 0},
    ]


def test_fields_as_paths_with_or_without_the_leading_dot():
    assert field_paths(['Id', '.Config.Labels', 'RootFS.Layers']) == ['Id', 'Config.Labels', 'RootFS.Layers']


@pytest.mark.parametrize('text', ['', 'Config..Labels', 'json .Config', 'Config.Labels.app=1', '.', '{{.Id}}'])
def test_a_field_that_is_no_path_is_named(text):
    with pytest.raises(DockerError) as caught:
        field_paths(['Id', text])
    assert str(caught.value).startswith('fields[1]: %r is no field of the inspect data' % text)


def test_picked_fields_and_absent_ones():
    inspect = {'Id': IMAGE_ID, 'Config': {'Labels': {'app': 'web'}, 'Cmd': None}, 'Size': 5}
    assert pick_fields(inspect, ['Id', 'Config.Labels', 'Config.Cmd', 'Config.Nope', 'Size.Deeper']) == {
        'Id': IMAGE_ID, 'Config.Labels': {'app': 'web'}, 'Config.Cmd': None, 'Config.Nope': None, 'Size.Deeper': None}
