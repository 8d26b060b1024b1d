"""Which failures are transient (from exception type and HTTP status), and the back-off of retries."""

from __future__ import annotations

import http.client
import ssl

import pytest
import requests
from docker import errors as docker_errors
from urllib3 import exceptions as urllib3_errors

from ansible_collections.dockyard.docker.plugins.module_utils._batch import RETRY_AFTER_MAX, Batch, retry_wait
from ansible_collections.dockyard.docker.plugins.module_utils import _client
from ansible_collections.dockyard.docker.plugins.module_utils._client import calling, connection_message, read_consistently
from ansible_collections.dockyard.docker.plugins.module_utils._errors import DockerError, retry_after_seconds, transient_status
from ansible_collections.dockyard.docker.plugins.module_utils._stream import read_stream

HOST = 'unix:///run/docker.sock'


def test_backoff_doubles_with_jitter_in_the_upper_half():
    down = DockerError('reset', transient=True)
    assert [retry_wait(down, retry, 0.5, jitter=lambda: 1.0) for retry in range(4)] == [0.5, 1.0, 2.0, 4.0]
    assert [retry_wait(down, retry, 0.5, jitter=lambda: 0.0) for retry in range(4)] == [0.25, 0.5, 1.0, 2.0]


@pytest.mark.parametrize('status', [429, 503])
def test_retry_after_of_a_429_or_503_is_waited_as_told_up_to_a_bound(status):
    assert retry_wait(DockerError('busy', True, status, retry_after=7), 3, 0.1) == 7
    assert retry_wait(DockerError('busy', True, status, retry_after=3600), 0, 0.1) == RETRY_AFTER_MAX
    assert retry_wait(DockerError('busy', True, status, retry_after=0), 0, 5) == 0


def test_retry_after_of_another_status_is_not_read():
    assert retry_wait(DockerError('bad gateway', True, 502, retry_after=30), 0, 1, jitter=lambda: 1.0) == 1


@pytest.mark.parametrize('header, seconds', [
    ('120', 120.0), (' 0 ', 0.0), ('Thu, 03 Dec 2026 12:00:30 GMT', 30.0), ('Thu, 03 Dec 2026 11:00:00 GMT', 0.0),
    (None, None), ('', None), ('soon', None), ('-5', None), ('1.5', None),
])
def test_retry_after_headers_are_read_as_seconds_or_an_http_date(header, seconds):
    noon = 1796299200.0  # 2026-12-03T12:00:00Z
    assert retry_after_seconds(header, now=noon) == seconds


@pytest.mark.parametrize('status, transient', [
    (500, True), (502, True), (503, True), (504, True), (429, True),
    (400, False), (401, False), (403, False), (404, False), (409, False), (None, False),
])
def test_transient_statuses(status, transient):
    assert transient_status(status) is transient


def api_error(status, message):
    """Raise the SDK's APIError for a daemon answer of ``status`` whose JSON says ``message``."""
    response = requests.Response()
    response.status_code = status
    raise docker_errors.APIError('%d Client Error' % status, response=response, explanation=message)


def failure(raise_it):
    with pytest.raises(DockerError) as caught:
        with calling('failed to pull x', HOST):
            raise_it()
    return caught.value


@pytest.mark.parametrize('status, message, transient', [
    (500, 'Get "https://127.0.0.1:5099/v2/": dial tcp 127.0.0.1:5099: connect: connection refused', True),
    (503, 'received unexpected HTTP status: 503 Service Unavailable', True),
    (429, 'toomanyrequests: You have reached your pull rate limit', True),
    (404, 'manifest for x not found: manifest unknown: manifest unknown', False),
    (401, 'unauthorized: authentication required', False),
    # The words do not decide: a 4xx that sounds like a timeout is not retried.
    (400, 'connection timed out', False),
])
def test_daemon_answers_are_classified_by_status(status, message, transient):
    error = failure(lambda: api_error(status, message))
    assert str(error) == 'failed to pull x: %s' % message
    assert error.transient is transient
    assert error.status == status


@pytest.mark.parametrize('exception', [
    requests.exceptions.ConnectionError('refused'),
    requests.exceptions.ReadTimeout('read timed out'),
    requests.exceptions.ConnectTimeout('connect timed out'),
    requests.exceptions.ChunkedEncodingError('broken'),
])
def test_broken_connections_are_transient(exception):
    def broken():
        raise exception
    error = failure(broken)
    assert error.transient is True
    assert error.status is None


def test_other_sdk_failures_are_not_transient():
    def invalid():
        raise docker_errors.InvalidVersion('bad version')
    error = failure(invalid)
    assert str(error) == 'failed to pull x: bad version'
    assert error.transient is False


INCONSISTENT = 'consistency error: data changed during operation, retry'


class Answers:
    """A read that raises ``failures`` (status, message) in turn, then returns its argument."""

    def __init__(self, *failures):
        self.failures = list(failures)
        self.calls = 0

    def __call__(self, name):
        self.calls += 1
        if self.failures:
            api_error(*self.failures.pop(0))
        return {'Id': name}


@pytest.fixture
def pauses(monkeypatch):
    waited = []
    monkeypatch.setattr(_client.time, 'sleep', waited.append)
    return waited


def test_a_read_the_containerd_store_calls_inconsistent_is_made_again(pauses):
    read = Answers((500, INCONSISTENT), (500, INCONSISTENT))
    assert read_consistently(read, 'sha256:ab') == {'Id': 'sha256:ab'}
    assert read.calls == 3
    assert pauses == [0.02, 0.04]


def test_a_read_inconsistent_at_every_try_fails_with_the_daemons_words(pauses):
    read = Answers(*[(500, INCONSISTENT)] * 5)
    with pytest.raises(docker_errors.APIError) as caught:
        read_consistently(read, 'sha256:ab')
    assert caught.value.explanation == INCONSISTENT
    assert read.calls == 5
    assert len(pauses) == 4


@pytest.mark.parametrize('status, message', [(500, 'failed to read the content store'), (404, 'No such image: x')])
def test_other_failures_of_a_read_are_not_read_again(pauses, status, message):
    read = Answers((status, message))
    with pytest.raises(docker_errors.APIError):
        read_consistently(read, 'x')
    assert read.calls == 1
    assert pauses == []


def stream_failure(event):
    with pytest.raises(DockerError) as caught:
        read_stream(iter([{'status': 'Pushing'}, event]), 'failed to push x')
    return caught.value


@pytest.mark.parametrize('event, transient', [
    ({'errorDetail': {'code': 503, 'message': 'service down'}, 'error': 'service down'}, True),
    ({'errorDetail': {'code': 401, 'message': 'unauthorized: connection refused'}, 'error': 'x'}, False),
    ({'error': 'received unexpected HTTP status: 502 Bad Gateway'}, True),
    ({'error': 'received unexpected HTTP status: 403 Forbidden'}, False),
    ({'error': 'Put "https://r/v2/x/blobs/uploads/": dial tcp 127.0.0.1:5000: connect: connection refused'}, True),
    ({'error': 'read tcp 127.0.0.1:40000->127.0.0.1:5000: read: connection reset by peer'}, True),
    ({'error': 'net/http: TLS handshake timeout'}, True),
    # Docker 28.5 (containerd store) when the registry dies under an upload:
    ({'error': 'failed to copy: failed to do request: Put "http://127.0.0.1:5000/v2/x/blobs/uploads/u": readfrom '
               'tcp 127.0.0.1:60638->127.0.0.1:5000: write tcp 127.0.0.1:60638->127.0.0.1:5000: use of closed '
               'network connection'}, True),
    ({'error': 'write tcp 127.0.0.1:60638->127.0.0.1:5000: write: broken pipe'}, True),
    ({'error': 'no basic auth credentials'}, False),
    ({'error': 'denied: requested access to the resource is denied'}, False),
])
def test_streamed_failures_are_classified_from_their_fields(event, transient):
    assert stream_failure(event).transient is transient


class Attempts:
    """An operation failing with the given errors in turn, then answering 'done'."""

    def __init__(self, *errors):
        self.errors = list(errors)
        self.calls = 0

    def __call__(self):
        self.calls += 1
        if self.errors:
            raise self.errors.pop(0)
        return 'done'


def batch(retries, sleep=lambda seconds: None):
    return Batch({'name': ['x'], 'parallel': 1, 'retries': retries, 'retry_delay': 0}, sleep=sleep)


def test_a_transient_failure_is_retried_until_it_passes():
    operation = Attempts(DockerError('a', transient=True), DockerError('b', transient=True))
    assert batch(3).retrying(operation) == 'done'
    assert operation.calls == 3


def test_a_permanent_failure_is_not_retried():
    operation = Attempts(DockerError('manifest unknown'))
    with pytest.raises(DockerError):
        batch(3).retrying(operation)
    assert operation.calls == 1


def test_retries_run_out():
    operation = Attempts(*[DockerError('down', transient=True)] * 3)
    with pytest.raises(DockerError, match='down'):
        batch(2).retrying(operation)
    assert operation.calls == 3


def test_each_failed_attempt_is_listed_with_its_wait():
    waited = []
    runner = batch(3, sleep=waited.append)
    operation = Attempts(DockerError('slow down', True, 429, retry_after=2),
                         DockerError('connection reset by peer', transient=True))
    assert runner.retrying(operation) == 'done'
    assert [(entry['error'], entry['status'], entry['wait']) for entry in runner.attempts] == [
        ('slow down', 429, 2.0), ('connection reset by peer', None, 0.0)]
    assert waited == [2.0, 0.0]
    assert all(entry['when'].endswith('Z') and 'T' in entry['when'] for entry in runner.attempts)


def test_a_batch_keeps_each_items_attempts_and_counts_them_in_its_error():
    runner = Batch({'name': ['x'], 'parallel': 2, 'retries': 1, 'retry_delay': 0}, sleep=lambda seconds: None)
    failing = {'a': Attempts(DockerError('503 busy', True, 503)), 'b': Attempts(*[DockerError('down', True)] * 2),
               'c': Attempts(DockerError('404 unknown', False, 404))}
    assert runner.run(lambda item: runner.retrying(failing[item]), ['a', 'b', 'c']) == [
        ('done', None), (None, 'down (2 attempts)'), (None, '404 unknown')]
    assert [[entry['error'] for entry in attempts] for attempts in runner.item_attempts] == [
        ['503 busy'], ['down', 'down'], ['404 unknown']]
    assert [entry['wait'] for entry in runner.item_attempts[1]] == [0.0, None]


@pytest.mark.parametrize('params, message', [
    (dict(name=[]), 'name must hold at least one image'),
    (dict(parallel=0), 'parallel must be at least 1, got 0'),
    (dict(retries=-1), 'retries and retry_delay must not be negative'),
])
def test_batch_options_are_checked(params, message):
    given = dict({'name': ['x'], 'parallel': 1, 'retries': 0, 'retry_delay': 0}, **params)
    with pytest.raises(DockerError, match=message):
        Batch(given)


def test_a_batch_reports_each_failure_by_item():
    def work(item):
        if item == 'bad':
            raise DockerError('failed on bad')
        return item.upper()
    assert Batch({'name': ['x'], 'parallel': 2, 'retries': 0, 'retry_delay': 0}).run(work, ['a', 'bad', 'c']) == [
        ('A', None), (None, 'failed on bad'), ('C', None)]


def test_a_refused_daemon_certificate_is_named_as_such():
    refused = ssl.SSLCertVerificationError(1, '[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed')
    refused.verify_message = 'unable to get local issuer certificate'
    wrapped = requests.exceptions.SSLError(urllib3_errors.MaxRetryError(None, '/version', urllib3_errors.SSLError(refused)))
    assert connection_message('tcp://192.0.2.1:2376', wrapped) == (
        'Cannot connect to the Docker daemon at tcp://192.0.2.1:2376: its TLS certificate did not verify (unable to get '
        'local issuer certificate); check ca_path and tls_hostname')


def test_other_connection_failures_keep_the_system_s_words():
    refused = requests.exceptions.ConnectionError(ConnectionRefusedError(111, 'Connection refused'))
    assert connection_message('tcp://192.0.2.1:2376', refused) == (
        'Cannot connect to the Docker daemon at tcp://192.0.2.1:2376: Connection refused')


@pytest.mark.parametrize('closed', [
    http.client.RemoteDisconnected('Remote end closed connection without response'),
    # The daemon gone while the body of a load was still being sent.
    ConnectionResetError(104, 'Connection reset by peer'),
    BrokenPipeError(32, 'Broken pipe'),
])
def test_a_daemon_that_closed_the_connection_unanswered_is_named_as_such(closed):
    aborted = requests.exceptions.ConnectionError(urllib3_errors.ProtocolError('Connection aborted.', closed))
    assert connection_message('unix:///run/docker.sock', aborted) == (
        'Cannot connect to the Docker daemon at unix:///run/docker.sock: the connection was closed before the daemon '
        'answered')
