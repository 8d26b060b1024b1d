"""Retry classification and back-off of the shared client."""

from __future__ import annotations

import pytest

from ansible_collections.dockyard.docker.plugins.module_utils._client import backoff_delays, is_transient


def test_backoff_doubles():
    assert backoff_delays(4, 0.5) == [0.5, 1.0, 2.0, 4.0]
    assert backoff_delays(0, 1) == []


@pytest.mark.parametrize('text', [
    'failed to pull x: Get "http://127.0.0.1:5055/v2/": dial tcp 127.0.0.1:5055: connect: connection refused',
    'failed to pull x: received unexpected HTTP status: 503 Service Unavailable',
    'failed to push x: net/http: TLS handshake timeout',
])
def test_transient_failures_are_retried(text):
    assert is_transient(text)


@pytest.mark.parametrize('text', [
    'failed to pull x:nope: manifest for 127.0.0.1:5055/x:nope not found: manifest unknown: manifest unknown',
    'failed to pull x: pull access denied for x, repository does not exist or may require docker login',
    'failed to push x: unauthorized: authentication required',
])
def test_permanent_failures_are_not_retried(text):
    assert not is_transient(text)
