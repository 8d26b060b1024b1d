"""The progress-stream reader: errors hidden in a 200 response become failures."""

from __future__ import annotations

import pytest

from ansible_collections.dockyard.docker.plugins.module_utils._errors import DockerError
from ansible_collections.dockyard.docker.plugins.module_utils._stream import read_stream, stream_error


def test_a_clean_stream_yields_its_events_statuses_and_aux():
    events = [
        {'status': 'Pulling from team/app', 'id': '1.0'},
        {'status': 'Downloading', 'progressDetail': {'current': 1, 'total': 2}, 'id': 'abc'},
        {'aux': {'Tag': '1.0', 'Digest': 'sha256:' + 'a' * 64, 'Size': 528}},
        {'stream': 'Loaded image: app:1.0\n'},
    ]
    result = read_stream(iter(events), 'failed to pull app:1.0')
    assert result.events == events
    assert result.statuses == ['Pulling from team/app', 'Downloading']
    assert result.aux == [{'Tag': '1.0', 'Digest': 'sha256:' + 'a' * 64, 'Size': 528}]
    assert result.text == 'Loaded image: app:1.0\n'


def test_error_detail_becomes_a_failure_with_the_daemons_words():
    events = iter([
        {'status': 'Pushing', 'id': 'abc'},
        {'errorDetail': {'message': 'unauthorized: authentication required'},
         'error': 'unauthorized: authentication required'},
        {'status': 'never read'},
    ])
    with pytest.raises(DockerError) as caught:
        read_stream(events, 'failed to push app:1.0')
    assert str(caught.value) == 'failed to push app:1.0: unauthorized: authentication required'
    assert next(events) == {'status': 'never read'}


def test_a_bare_error_key_is_enough():
    with pytest.raises(DockerError) as caught:
        read_stream([{'error': 'unexpected EOF\n'}], 'failed to load a.tar')
    assert str(caught.value) == 'failed to load a.tar: unexpected EOF'


@pytest.mark.parametrize('event, message', [
    ({'status': 'ok'}, None),
    ({'error': ''}, None),
    ({'errorDetail': {'message': 'm1'}, 'error': 'm2'}, 'm1'),
    ({'errorDetail': {}, 'error': 'm2'}, 'm2'),
    ('not a dict', None),
])
def test_stream_error(event, message):
    assert stream_error(event) == message


def test_the_log_is_the_stream_and_status_text_one_line_each():
    result = read_stream(iter([{'stream': 'Loaded image: app:1\nLoaded image: app:2\n'}, {'aux': {'ID': 'x'}},
                               {'status': 'Loaded image ID: sha256:' + 'ab' * 32}]), 'failed to load')
    assert result.log == 'Loaded image: app:1\nLoaded image: app:2\nLoaded image ID: sha256:' + 'ab' * 32
    assert read_stream(iter([]), 'failed to load').log == ''
