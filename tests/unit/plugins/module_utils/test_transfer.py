"""Transfer figures counted from the daemon's progress streams, as the real engines send them.

fixtures/streams.json holds streams recorded from Docker 20.10 (classic store) and Docker 28.5
(containerd store) against the project's registry, with the registry manifest's layers.
"""

from __future__ import annotations

import json
import os

import pytest

from ansible_collections.dockyard.docker.plugins.module_utils._stream import read_stream
from ansible_collections.dockyard.docker.plugins.module_utils._transfer import (
    Transfer, file_transfer, image_layers, layers_before, layers_of, pull_transfer, push_transfer, timed, total)

HERE = os.path.dirname(__file__)
with open(os.path.join(HERE, 'fixtures', 'streams.json')) as handle:
    STREAMS = json.load(handle)
CLASSIC = STREAMS['docker-20.10-classic']
CONTAINERD = STREAMS['docker-28.5-containerd']


def figures(transfer):
    return {key: value for key, value in transfer.as_dict().items() if key != 'seconds'}


def test_a_classic_pull_counts_the_compressed_size_of_each_layer_it_downloads():
    base, top = CLASSIC['layers']
    transfer = pull_transfer(CLASSIC['pull_base_present'], image_layers=2)
    assert figures(transfer) == {'bytes': top['size'], 'layers': 1, 'layers_present': 1}
    assert base['digest'][7:19] in str(CLASSIC['pull_base_present'])  # 'Already exists' names the base layer


def test_a_classic_pull_of_a_big_layer_takes_its_last_total():
    transfer = pull_transfer(CLASSIC['pull_big'], image_layers=1)
    assert figures(transfer) == {'bytes': 6293530, 'layers': 1, 'layers_present': 0}


def test_the_containerd_store_sends_no_sizes_and_skips_present_layers():
    transfer = pull_transfer(CONTAINERD['pull_base_present'], image_layers=2)
    assert figures(transfer) == {'bytes': None, 'layers': 1, 'layers_present': 1}
    assert figures(pull_transfer(CONTAINERD['pull_big'], image_layers=1)) == {
        'bytes': None, 'layers': 1, 'layers_present': 0}


@pytest.mark.parametrize('engine', [CLASSIC, CONTAINERD])
def test_a_pull_of_an_image_up_to_date_moves_nothing(engine):
    assert figures(pull_transfer(engine['pull_again'], image_layers=2)) == {
        'bytes': 0, 'layers': 0, 'layers_present': 2}


def test_a_classic_push_counts_the_layers_as_the_daemon_reads_them():
    transfer = push_transfer(CLASSIC['push'])
    assert figures(transfer) == {'bytes': CLASSIC['image_size'], 'layers': 2, 'layers_present': 0}
    assert figures(push_transfer(CLASSIC['push_big'])) == {'bytes': 6291456, 'layers': 1, 'layers_present': 0}


def test_a_containerd_push_counts_layers_but_no_bytes():
    assert figures(push_transfer(CONTAINERD['push'])) == {'bytes': None, 'layers': 2, 'layers_present': 0}


@pytest.mark.parametrize('engine', [CLASSIC, CONTAINERD])
def test_a_push_the_registry_has_counts_every_layer_present(engine):
    assert figures(push_transfer(engine['push_again'])) == {'bytes': 0, 'layers': 0, 'layers_present': 2}


def test_a_layer_mounted_from_another_repository_is_present_not_moved():
    events = [{'status': 'Preparing', 'progressDetail': {}, 'id': 'aaa'},
              {'status': 'Mounted from team/base', 'progressDetail': {}, 'id': 'aaa'},
              {'status': 'Pushing', 'progressDetail': {'current': 10, 'total': 40}, 'id': 'bbb'},
              {'status': 'Pushed', 'progressDetail': {}, 'id': 'bbb'}]
    assert figures(push_transfer(events)) == {'bytes': 40, 'layers': 1, 'layers_present': 1}


def test_the_digest_line_of_a_pull_is_read():
    assert read_stream(iter(CLASSIC['pull_again']), 'pull').digest == CLASSIC['pull_again'][1]['status'][8:]
    assert read_stream(iter(CONTAINERD['push']), 'push').digest is None


def test_image_layers_counts_the_rootfs():
    assert image_layers({'RootFS': {'Type': 'layers', 'Layers': ['sha256:a', 'sha256:b']}}) == 2
    assert image_layers(None) == 0


def test_totals_sum_the_figures_and_span_the_wall_clock():
    first = Transfer(10, 1, 0, seconds=2.0, started=100.0)
    second = Transfer(5, 1, 2, seconds=2.0, started=101.0)
    assert total([first, second]) == {'bytes': 15, 'layers': 2, 'layers_present': 2, 'seconds': 3.0}
    assert total([first, Transfer(None, 1, 0, 1.0, 100.0)])['bytes'] is None
    assert total([Transfer(1, 1, 0, 1.0, 100.0), Transfer(1, 1, 0, 1.0, 103.0)])['seconds'] == 4.0, 'the gap is counted'
    assert total([]) == {'bytes': 0, 'layers': 0, 'layers_present': 0, 'seconds': 0.0}


def test_timed_returns_the_answer_and_how_long_it_took():
    answer, started, seconds = timed(lambda value: value * 2, 21)
    assert answer == 42
    assert started > 0 and seconds >= 0


def test_layers_are_told_apart_by_chain_so_a_shared_base_counts_once():
    base = {'RootFS': {'Layers': ['sha256:' + 'a' * 64]}}
    child = {'RootFS': {'Layers': ['sha256:' + 'a' * 64, 'sha256:' + 'b' * 64]}}
    other = {'RootFS': {'Layers': ['sha256:' + 'b' * 64]}}  # the same content on no base is another layer
    assert len(layers_of([base, child, None])) == 2
    assert len(layers_of([base, child, other])) == 3


def test_an_archive_counts_its_layers_and_those_already_there():
    base = {'RootFS': {'Layers': ['sha256:' + 'a' * 64]}}
    child = {'RootFS': {'Layers': ['sha256:' + 'a' * 64, 'sha256:' + 'b' * 64]}}
    loaded = file_transfer(4096, layers_of([child]), layers_of([base]), seconds=0.5, started=1.0)
    assert loaded.as_dict() == {'bytes': 4096, 'layers': 1, 'layers_present': 1, 'seconds': 0.5}
    assert figures(file_transfer(0, layers_of([child]), layers_of([child]))) == {
        'bytes': 0, 'layers': 0, 'layers_present': 2}


def test_the_layers_held_before_a_load_leave_out_the_images_it_added():
    base = {'Id': 'sha256:' + '1' * 64, 'RootFS': {'Layers': ['sha256:' + 'a' * 64]}}
    child = {'Id': 'sha256:' + '2' * 64, 'RootFS': {'Layers': ['sha256:' + 'a' * 64, 'sha256:' + 'b' * 64]}}
    # Read while the child was being loaded: the list may or may not have caught it.
    assert layers_before([base, child], added={child['Id']}) == layers_of([base])
    assert layers_before([base, None], added={child['Id']}) == layers_of([base])
    assert layers_before([base, child], added=set()) == layers_of([base, child])
