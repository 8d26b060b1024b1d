"""The fleet playbook (playbooks/fleet.yml) and its three roles, on four real engines at once.

The tests run in order on one fleet: a fresh fleet previewed and then converged, a second run, an engine
stopped before the play and brought back. Every engine is then checked with the docker CLI.
"""

from __future__ import annotations

import json
import urllib.request

from conftest import APP, HOSTS, OFFLINE, TOOL

# The task check mode runs in the place of one that cannot run before something it needs exists.
PREDICTS = {
    'dockyard.docker.airgap : Predict the load of the archive to be made (check mode)':
        'dockyard.docker.airgap : Load the archive on each host that lacks one of its images',
    'dockyard.docker.mirror : Predict the copy of an image the engine has yet to pull (check mode)':
        'dockyard.docker.mirror : Push each under its name in the mirror, unless the mirror serves that image already',
}


def changed_tasks(results):
    """The tasks that changed something on each host, by name."""
    return {host: sorted(PREDICTS.get(entry['_task'], entry['_task']) for entry in entries if entry.get('changed'))
            for host, entries in results.items()}


def messages(entry):
    """A failed task's messages, those of its failed loop items for a loop."""
    items = [item['msg'] for item in entry.get('results', []) if item.get('failed')]
    return items or [entry['msg']]


def failures(results):
    return {host: [text for entry in entries if entry['failed'] for text in messages(entry)]
            for host, entries in results.items() if any(entry['failed'] for entry in entries)}


def fact(results, host, name):
    return next(entry['ansible_facts'][name] for entry in results[host] if name in entry.get('ansible_facts', {}))


def mirror_tags(fleet, repository):
    with urllib.request.urlopen('http://%s/v2/%s/tags/list' % (fleet.mirror, repository), timeout=10) as answer:
        return json.load(answer)['tags']


def expected_ids(fleet):
    registry = fleet.controller.registry
    return {name: fleet.controller.image_id('%s/%s' % (registry, name)) for name in (APP, TOOL, OFFLINE)}


def held_ids(fleet, host):
    registry = fleet.controller.registry
    return {name: fleet.engines[host].image_id('%s/%s' % (registry, name)) for name in (APP, TOOL, OFFLINE)}


def test_check_mode_on_a_fresh_fleet_predicts_the_first_run(fleet):
    predicted, output = fleet.play('--check', '--diff')
    assert not failures(predicted), output
    for host in HOSTS:
        assert held_ids(fleet, host) == dict.fromkeys((APP, TOOL, OFFLINE)), 'check mode changed ' + host
    assert not fleet.archive.exists()

    applied, output = fleet.play('--diff')
    assert not failures(applied), output
    assert changed_tasks(applied) == changed_tasks(predicted)
    pulled = 'dockyard.docker.images : Pull the images every host must hold, those of one platform at a time'
    loaded = 'dockyard.docker.airgap : Load the archive on each host that lacks one of its images'
    for host in HOSTS:
        assert pulled in changed_tasks(applied)[host] and loaded in changed_tasks(applied)[host]
        assert held_ids(fleet, host) == expected_ids(fleet), host
    source = '%s/%s' % (fleet.controller.registry, APP)
    assert fact(applied, 'tls', 'mirror_copied') == [source] and fact(applied, 'tls', 'mirror_skipped') == []
    assert mirror_tags(fleet, 'fleet/app') == ['1.0']


def test_a_second_run_changes_nothing_on_any_host(fleet):
    for options in (('--check', '--diff'), ('--diff',)):
        results, output = fleet.play(*options)
        assert not failures(results), output
        assert changed_tasks(results) == {host: [] for host in HOSTS}, output
    source = '%s/%s' % (fleet.controller.registry, APP)
    assert fact(results, 'unix-a', 'mirror_copied') == [] and fact(results, 'unix-a', 'mirror_skipped') == [source]


def test_a_stopped_engine_fails_alone_and_converges_when_back(fleet):
    tool = '%s/%s' % (fleet.controller.registry, TOOL)
    for host in ('unix-b', 'tcp'):
        fleet.engines[host].cli('image', 'rm', tool)
    fleet.engines['unix-b'].engine('stop')
    try:
        results, output = fleet.play()
    finally:
        fleet.engines['unix-b'].engine('start')
    socket = fleet.addresses['unix-b']
    assert list(failures(results)) == ['unix-b'], output
    assert failures(results)['unix-b'][0].startswith('Cannot connect to the Docker daemon at %s: ' % socket), output
    assert changed_tasks(results)['tcp'] == [
        'dockyard.docker.images : Pull the images every host must hold, those of one platform at a time']
    assert changed_tasks(results)['unix-a'] == changed_tasks(results)['tls'] == []
    assert fleet.engines['tcp'].image_id(tool) == expected_ids(fleet)[TOOL]

    results, output = fleet.play()
    assert not failures(results), output
    assert changed_tasks(results) == {
        'unix-a': [], 'tcp': [], 'tls': [],
        'unix-b': ['dockyard.docker.images : Pull the images every host must hold, those of one platform at a time']}
    assert held_ids(fleet, 'unix-b') == expected_ids(fleet)
