"""Retries read the registry's answer: Retry-After of a 429 or 503, back-off with jitter otherwise, never a 4xx.

Where the module talks to a registry itself (image_search's catalog), the registry's status and
``Retry-After`` header reach it. The registry the tests run (docker-registry) never answers 429 nor
sends Retry-After, so those answers come from busy_registry.py, a small HTTP stand-in that produces
exactly that fault and otherwise answers as a v2 registry. Pulls and pushes go through the daemon,
which turns a registry's answer into a message and never passes its headers on: the tests show that
with the same stand-in, and the real registry stopped, or killed in the middle of a 128 MiB layer, for the
connection failures.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from busy_registry import busy_registry  # noqa: F401  # pylint: disable=unused-import
from conftest import task
from faults import when
from test_faults import big_image
from test_image_pull import only_in_the_registry, spare_registry  # noqa: F401  # pylint: disable=unused-import

pytestmark = pytest.mark.fault

CATALOG = '/v2/_catalog'


def catalog_words(registry, status, reason):
    return ('failed to list the repositories of %s: it answered %d %s (the stand-in answers %d)'
            % (registry.url, status, reason, status))


def test_a_429_and_a_503_with_retry_after_are_waited_out_as_told(ansible, busy_registry):  # noqa: F811
    busy_registry.fail((429, [('Retry-After', '2')]), (503, [('Retry-After', '1')]))
    result = ansible.module('image_search', term='busy', registry=busy_registry.url, retries=3, retry_delay=0.1)
    assert result['failed'] is False, result.get('msg')
    assert [entry['name'] for entry in result['results']] == ['busy/one', 'busy/two']
    assert [(entry['status'], entry['wait'], entry['error']) for entry in result['attempts']] == [
        (429, 2.0, catalog_words(busy_registry, 429, 'Too Many Requests')),
        (503, 1.0, catalog_words(busy_registry, 503, 'Service Unavailable'))]
    first, second = busy_registry.gaps(CATALOG)
    assert 2.0 <= first < 3.0 and 1.0 <= second < 2.0, 'each retry came when the registry said, not after retry_delay'


def test_retry_after_is_bounded_and_read_as_a_date_too(ansible, busy_registry):  # noqa: F811
    busy_registry.fail((503, [('Retry-After', 'Thu, 01 Jan 1970 00:00:00 GMT')]))
    result = ansible.module('image_search', term='busy', registry=busy_registry.url, retries=1, retry_delay=30)
    assert result['failed'] is False, result.get('msg')
    assert [entry['wait'] for entry in result['attempts']] == [0.0], 'a date gone by means now, not retry_delay'


def test_other_5xx_back_off_exponentially_with_jitter(ansible, busy_registry):  # noqa: F811
    busy_registry.fail(*[(500, [('Retry-After', '30')])] * 3)
    result = ansible.module('image_search', term='busy', registry=busy_registry.url, retries=3, retry_delay=0.4)
    assert result['failed'] is False, result.get('msg')
    waits = [entry['wait'] for entry in result['attempts']]
    assert [entry['status'] for entry in result['attempts']] == [500] * 3
    assert 0.2 <= waits[0] <= 0.4 and 0.4 <= waits[1] <= 0.8 and 0.8 <= waits[2] <= 1.6, waits
    assert all(gap >= wait for gap, wait in zip(busy_registry.gaps(CATALOG), waits))


def test_other_4xx_are_never_retried(ansible, busy_registry):  # noqa: F811
    busy_registry.fail((404, []), (400, []))
    missing, bad = ansible.run(
        {'dockyard.docker.image_search': dict(term='busy', registry=busy_registry.url, retries=5, retry_delay=0.1),
         'ignore_errors': True},
        {'dockyard.docker.image_search': dict(term='busy', registry=busy_registry.url, retries=5, retry_delay=0.1),
         'ignore_errors': True}).results
    for result, status, reason in ((missing, 404, 'Not Found'), (bad, 400, 'Bad Request')):
        assert result['failed'] is True
        assert result['msg'] == catalog_words(busy_registry, status, reason)
        assert [(entry['status'], entry['wait']) for entry in result['attempts']] == [(status, None)]
    assert len(busy_registry.gaps(CATALOG)) == 1, 'two tasks, one request each'


def test_retries_that_run_out_list_every_attempt(ansible, busy_registry):  # noqa: F811
    busy_registry.fail(*[(429, [('Retry-After', '0')])] * 3)
    result = ansible.module('image_search', term='busy', registry=busy_registry.url, retries=2)
    assert result['failed'] is True
    assert result['msg'] == catalog_words(busy_registry, 429, 'Too Many Requests')
    assert [(entry['status'], entry['wait']) for entry in result['attempts']] == [(429, 0.0), (429, 0.0), (429, None)]


def test_the_daemon_does_not_pass_a_registrys_retry_after_on(ansible, busy_registry, unique):  # noqa: F811
    """A look-up through the daemon that the registry answers 429 with Retry-After: 30.

    The daemon answers 500 with its own words, so the module backs off by retry_delay instead.
    """
    busy_registry.fail(*[(429, [('Retry-After', '30')])] * 6)
    reference = '%s/busy/one:1.0' % busy_registry.address
    result = ansible.module('image_pull', check=True, name=reference, retries=1, retry_delay=0.2)
    assert result['failed'] is True
    assert result['msg'].startswith('failed to look up %s in its registry: ' % reference)
    assert result['msg'].endswith(' (2 attempts)')
    assert [entry['status'] for entry in result['attempts']] == [500, 500]
    assert 0.1 <= result['attempts'][0]['wait'] <= 0.2 and result['attempts'][1]['wait'] is None


def module_process_started(module, mark):
    """Whether the process of ``module`` started by the run whose environment holds ``mark`` is running."""
    for environ in Path('/proc').glob('[0-9]*/environ'):
        try:
            if (mark.encode() in environ.read_bytes().split(b'\0')
                    and ('AnsiballZ_%s.py' % module).encode() in environ.with_name('cmdline').read_bytes()):
                return True
        except OSError:
            continue
    return False


def restart_once_the_module_runs(registry, module, mark, after):
    """Start ``registry`` ``after`` seconds after the module's own process began, not after ansible's start-up.

    Ansible's start-up takes from one second to several on a loaded machine; the module's first pull follows
    its start within a fraction of a second, so the registry comes back once the module has met it down.
    """
    for _poll in range(600):
        if module_process_started(module, mark):
            time.sleep(after)
            break
        time.sleep(0.05)
    registry.start()


@pytest.mark.fault('the registry stopped, and started again 2 s after the module began, under a pull with retries')
def test_a_pull_rides_out_a_registry_that_comes_back_and_lists_its_attempts(ansible, engine, spare_registry, unique):  # noqa: F811
    reference = '%s/retry/%s:1.0' % (spare_registry.address, unique)
    image_id = only_in_the_registry(engine, reference)
    spare_registry.stop()
    mark = 'DOCKYARD_TEST_RUN=%s' % unique
    restart = threading.Thread(target=restart_once_the_module_runs, args=(spare_registry, 'image_pull', mark, 2))
    restart.start()
    try:
        result = ansible.run(task('image_pull', name=reference, retries=6, retry_delay=0.5),
                             extra_env=dict([mark.split('=')]))[0]
    finally:
        restart.join()
    assert result['changed'] is True, result.get('msg')
    assert result['image']['Id'] == image_id
    assert result['attempts'], 'the pulls while the registry was down are listed'
    for entry in result['attempts']:
        assert entry['error'].startswith('failed to pull %s: ' % reference)
        assert 'connection refused' in entry['error']
        assert entry['wait'] is not None
    waits = [entry['wait'] for entry in result['attempts']]
    assert all(0.5 * 2 ** retry / 2 <= wait <= 0.5 * 2 ** retry for retry, wait in enumerate(waits)), waits


def test_each_name_of_a_list_has_its_attempts(ansible, engine, spare_registry, unique):  # noqa: F811
    names = ['%s/retry/%s-%s:1.0' % (spare_registry.address, unique, part) for part in 'ab']
    for name in names:
        only_in_the_registry(engine, name)
    one, both = ansible.run(
        {'dockyard.docker.image_pull': dict(name=names[:1], retries=3, retry_delay=0.1)},
        {'dockyard.docker.image_pull': dict(name=names, retries=3, retry_delay=0.1)}).results
    assert one['attempts'] == [], 'one name: its attempts stand at the top'
    assert 'attempts' not in one['image']
    assert [image['attempts'] for image in both['images']] == [[], []], 'several: each image entry has its own'
    assert 'attempts' not in both
    missing = '%s/retry/%s:nope' % (spare_registry.address, unique)
    failed = ansible.module('image_pull', name=missing, retries=3, retry_delay=0.1)
    assert failed['failed'] is True
    assert [(entry['error'], entry['wait']) for entry in failed['attempts']] == [(failed['msg'], None)], \
        'a missing tag is tried once'


def kill_midway(registry, reference_bytes=16 * 1024 * 1024, back_after=1.0):
    """Kill ``registry`` once it has moved ``reference_bytes`` of a transfer, and start it again ``back_after`` s later."""
    start = registry.moved()

    def kill_and_restart():
        registry.kill()
        threading.Timer(back_after, registry.start).start()

    return when(lambda: registry.moved() - start > reference_bytes, kill_and_restart)


@pytest.mark.fault('the registry killed (SIGKILL) 16 MiB into the pull of a 128 MiB layer, back 1 s later, with retries')
def test_a_pull_cut_off_by_a_killed_registry_is_completed_once_it_is_back(
        ansible, engine, spare_registry, unique, tmp_path):  # noqa: F811
    reference = '%s/killed/%s:1.0' % (spare_registry.address, unique)
    image_id = big_image(engine, reference, tmp_path)
    for event in engine.api.push(reference.rsplit(':', 1)[0], tag='1.0', stream=True, decode=True):
        assert 'error' not in event, event
    engine.api.remove_image(reference)
    strike = kill_midway(spare_registry)
    result = ansible.module('image_pull', name=reference, retries=5, retry_delay=1)
    assert strike.join(), 'the registry was killed while the layer was on its way'
    assert result['failed'] is False, result.get('msg')
    assert result['changed'] is True
    assert engine.image_id(reference) == image_id
    assert result['transfer']['layers'] >= 1
    for entry in result['attempts']:
        assert entry['error'].startswith('failed to pull %s: ' % reference)


@pytest.mark.fault('the registry killed (SIGKILL) 16 MiB into the push of a 128 MiB layer, back 1 s later, with retries')
def test_a_push_cut_off_by_a_killed_registry_is_completed_once_it_is_back(
        ansible, engine, spare_registry, unique, tmp_path):  # noqa: F811
    reference = '%s/killed/%s:1.0' % (spare_registry.address, unique)
    image_id = big_image(engine, reference, tmp_path)
    strike = kill_midway(spare_registry)
    result = ansible.module('image_push', name=reference, retries=5, retry_delay=1)
    assert strike.join(), 'the registry was killed while the layer was on its way'
    assert result['failed'] is False, result.get('msg')
    assert result['changed'] is True
    for entry in result['attempts']:
        assert entry['error'].startswith('failed to push %s to registry %s: ' % (reference, spare_registry.address))
    engine.api.remove_image(reference)
    engine.cli('pull', '-q', reference)
    assert engine.image_id(reference) == image_id, 'the registry holds the whole image after the cut'
