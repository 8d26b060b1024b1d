"""How image_prune reads its filters and until values before the daemon sees them."""

from __future__ import annotations

import pytest

from ansible_collections.dockyard.docker.plugins.module_utils._errors import DockerError
from ansible_collections.dockyard.docker.plugins.module_utils._prune import (
    go_duration, normalize_filters, parse_timestamp, retention, until_nanoseconds)

NOW = 1_700_000_000 * 10 ** 9


@pytest.mark.parametrize('text, nanoseconds', [
    ('24h', 24 * 3600 * 10 ** 9),
    ('-1.5s', -1_500_000_000),
    ('0.' + '5' * 400 + 's', 555_555_555),
    ('0' * 30 + '1ns', 1),
    ('9223372036854775807ns', 2 ** 63 - 1),
    ('-9223372036854775808ns', -2 ** 63),
    ('9223372036854775808ns', None),
    ('2562048h', None),
    ('1' * 5000 + 's', None),
])
def test_go_durations_are_int64_nanoseconds(text, nanoseconds):
    assert go_duration(text) == nanoseconds


@pytest.mark.parametrize('text', ['0\n', '2024-01-02\n', '10m\n', '1' * 5000, '99999999999999999999'])
def test_an_until_value_the_daemon_refuses_is_refused_naming_it(text):
    assert parse_timestamp(text) is None or '\n' not in text
    with pytest.raises(DockerError) as caught:
        until_nanoseconds(text, NOW, 0)
    assert "filters.until: '%s' " % text in str(caught.value)


def test_unix_seconds_keep_nanoseconds():
    assert until_nanoseconds('12.5', NOW, 0) == 12_500_000_000
    assert until_nanoseconds('12.1234567891', NOW, 0) == 12_123_456_789


def test_filters_with_keys_that_are_not_text_are_refused_naming_the_key():
    with pytest.raises(DockerError) as caught:
        normalize_filters({'until': '1h', 0: None})
    assert str(caught.value) == "filters: image_prune takes the filters until, label, label!, not '0'"


def test_two_until_values_are_named():
    with pytest.raises(DockerError) as caught:
        normalize_filters({'until': ['1h', '2h']})
    assert str(caught.value) == "filters.until takes one value, got 2: '1h', '2h'"


# --- keep_last --------------------------------------------------------------------------------------

def test_each_repository_keeps_its_newest_images_tags():
    images = {
        'sha256:a': (1, ['shop/api:1']),
        'sha256:b': (2, ['shop/api:2', 'shop/web:2']),
        'sha256:c': (3, ['shop/api:3']),
        'sha256:d': (1, ['shop/web:1']),
    }
    assert retention(images, 2, set()) == [('sha256:a', 'shop/api:1')]
    doomed = retention(images, 1, set())
    assert doomed == [('sha256:a', 'shop/api:1'), ('sha256:b', 'shop/api:2'), ('sha256:d', 'shop/web:1')]


def test_an_image_loses_only_the_tags_of_the_repository_it_is_old_in():
    images = {'sha256:old': (1, ['app:1', 'app:stable', 'other:x']), 'sha256:new': (2, ['app:2'])}
    assert retention(images, 1, set()) == [('sha256:old', 'app:1'), ('sha256:old', 'app:stable')]


def test_a_containers_image_is_left_alone_and_still_counts_among_the_newest():
    images = {'sha256:a': (1, ['app:1']), 'sha256:b': (2, ['app:2']), 'sha256:c': (3, ['app:3'])}
    assert retention(images, 1, {'sha256:a'}) == [('sha256:b', 'app:2')]
    assert retention(images, 1, {'sha256:c'}) == [('sha256:a', 'app:1'), ('sha256:b', 'app:2')]


def test_equal_creation_times_are_ranked_by_id_so_every_run_chooses_alike():
    images = {'sha256:b': (5, ['app:b']), 'sha256:a': (5, ['app:a'])}
    assert retention(images, 1, set()) == [('sha256:b', 'app:b')]


def test_fewer_images_than_kept_remove_nothing():
    assert retention({'sha256:a': (1, ['app:1'])}, 3, set()) == []
