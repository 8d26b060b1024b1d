"""How image_prune reads its filters and until values before the daemon sees them."""

from __future__ import annotations

import pytest

from ansible_collections.dockyard.docker.plugins.module_utils._errors import DockerError
from ansible_collections.dockyard.docker.plugins.module_utils._prune import (
    go_duration, normalize_filters, parse_timestamp, until_nanoseconds)

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
