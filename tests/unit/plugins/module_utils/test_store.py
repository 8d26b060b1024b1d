"""The image store model against listings recorded from real engines.

The fixtures were recorded from Docker 20.10 (classic store, overlay2) and Docker 28.5 (containerd store):
the image and container lists, inspect data, history, the content blobs (containerd), and the daemon's own
answers to one ``docker image prune`` and a sequence of ``docker rmi`` calls. The model must resolve names
the way the daemon did and replay rmi and prune with the same records.
"""

from __future__ import annotations

import json
import os
import re

import pytest

from ansible_collections.dockyard.docker.plugins.module_utils._errors import DockerError
from ansible_collections.dockyard.docker.plugins.module_utils._prune import (
    ContainerdPrunePlan, PrunePlan, image_facts, layer_sizes)
from ansible_collections.dockyard.docker.plugins.module_utils._reference import parse_reference
from ansible_collections.dockyard.docker.plugins.module_utils._store import (
    Conflict, ImageStore, RemovalRules, carried_digests, chain_ids, named_repositories, summary_of,
    uses_containerd_store)

HERE = os.path.dirname(__file__)
STORES = ['classic', 'containerd']


def recorded(kind):
    with open(os.path.join(HERE, 'fixtures', 'store_%s.json' % kind)) as handle:
        return json.load(handle)


def store_of(record, ids=None):
    containerd = uses_containerd_store({'DriverStatus': record['driver_status']})
    summaries = [summary for summary in record['images'] if ids is None or summary['Id'] in ids]
    return ImageStore(summaries, containerd, record['containers'])


def tagged(record, tag):
    return next(summary['Id'] for summary in record['images'] if tag in (summary.get('RepoTags') or []))


@pytest.mark.parametrize('kind', STORES)
def test_the_store_kind_comes_from_docker_info(kind):
    assert uses_containerd_store({'DriverStatus': recorded(kind)['driver_status']}) is (kind == 'containerd')


@pytest.mark.parametrize('kind', STORES)
def test_names_resolve_as_the_daemon_resolves_them(kind):
    record = recorded(kind)
    store = store_of(record)
    image_id = tagged(record, 'fx/a:1')
    for name in (image_id, image_id[7:], image_id[7:15], 'sha256:' + image_id[7:15], 'fx/a:1', 'fx/other:x',
                 'docker.io/fx/a:1'):
        match = store.resolve(name)
        assert match is not None and match.image_id == image_id, name
    assert store.resolve('fx/a:1').reference == 'fx/a:1'
    assert store.resolve(image_id[7:15]).by_id
    assert store.resolve('fx/a') is None, 'a name without a tag means latest'
    assert store.resolve('fx/a', tag='2').reference == 'fx/a:2'
    assert store.resolve('fx/a:1', tag='2').reference == 'fx/a:1', 'a tag in the name wins over the tag option'
    assert store.resolve('sha256:' + 'f' * 64) is None


@pytest.mark.parametrize('kind', STORES)
def test_digest_references_resolve(kind):
    record = recorded(kind)
    store = store_of(record)
    for summary in record['images']:
        for text in summary.get('RepoDigests') or []:
            if '<none>' not in text:
                assert store.resolve(text).image_id == summary['Id']


@pytest.mark.parametrize('kind', STORES)
def test_the_shortest_prefix_and_an_ambiguous_one(kind):
    record = recorded(kind)
    store = store_of(record)
    ids = [summary['Id'][7:] for summary in record['images']]
    unique = next(image_id[:1] for image_id in ids if sum(other.startswith(image_id[:1]) for other in ids) == 1)
    shared = next(image_id[:1] for image_id in ids if sum(other.startswith(image_id[:1]) for other in ids) > 1)
    if kind == 'containerd':
        # containerd takes a prefix of four hex digits or more; a shorter one is a repository name only.
        assert store.resolve(unique) is None and store.resolve(shared) is None
        return
    assert store.resolve(unique).image_id == 'sha256:' + next(image_id for image_id in ids if image_id[0] == unique)
    with pytest.raises(DockerError, match=r"^image ID prefix '%s' is ambiguous: it matches \d images \(" % shared):
        store.resolve(shared)
    with pytest.raises(DockerError, match='ambiguous'):
        store.resolve('sha256:' + shared)


def test_a_tag_that_looks_like_an_id_prefix_wins():
    record = recorded('classic')
    image_id = tagged(record, 'fx/a:1')
    other = tagged(record, 'fx/b:1')
    summaries = [dict(summary, RepoTags=(summary['RepoTags'] or []) + ['%s:latest' % image_id[7:15]])
                 if summary['Id'] == other else summary for summary in record['images']]
    store = ImageStore(summaries, False, [])
    assert store.resolve(image_id[7:15]).image_id == other
    assert store.resolve(image_id[7:15], tag='1') is None, 'with another tag a hex name is a repository only'
    assert store.resolve(image_id[7:16]).image_id == image_id


def _without_names(message):
    """Our refusal in the daemon's words: without the container names and the hint we add."""
    return re.sub(r' \([^)]*\)(?= is using|$)', '', message.split('; use force')[0])


@pytest.mark.parametrize('kind', STORES)
def test_rmi_replays_the_daemon_records_and_refusals(kind):
    record = recorded(kind)
    store = store_of(record, set(record['after_prune']))
    chains = None
    if kind == 'classic':
        chains = dict((image_id, chain_ids(inspect['RootFS']['Layers'])) for image_id, inspect in record['inspect'].items())
    rules = RemovalRules(store, chains)
    for step in record['rmi']:
        match = store.resolve(step['name'])
        if match is None or not rules.holds(match):
            assert step['error'].startswith('No such image'), step
            continue
        try:
            records = rules.remove(step['name'], match, step['force'], True)
        except Conflict as exc:
            assert 'error' in step, (step, str(exc))
            daemon = step['error']
            ours = _without_names(str(exc))
            assert ours.startswith(daemon) or daemon.startswith(ours.split(' (')[0]), (daemon, str(exc))
            continue
        assert 'answer' in step, (step, records)
        answer = [(key, entry[key]) for entry in step['answer'] for key in ('Untagged', 'Deleted') if entry.get(key)]
        assert records == answer, step['name']


def test_only_references_narrow_the_store_to_their_repositories():
    assert named_repositories(['fx/a:1', 'docker.io/library/busybox', 'busybox@sha256:' + 'a' * 64,
                               '127.0.0.1:5000/fx/a']) == ['127.0.0.1:5000/fx/a', 'busybox', 'fx/a']
    for name in ('f51ef810', 'sha256:f51e', 'sha256:' + 'a' * 64, 'cafe', 'Not A Name'):
        assert named_repositories(['fx/a:1', name]) is None, name


def _outcome(store, name):
    """What rmi NAME does by the model of ``store``: the records and whether the image stays, or the refusal."""
    match = store.resolve(name)
    if match is None:
        return None
    rules = RemovalRules(store)
    try:
        return rules.remove(name, match, False, True), match.image_id in rules.refs
    except Conflict as exc:
        return str(exc)


def test_a_store_narrowed_to_the_named_repositories_removes_as_the_whole_one():
    record = recorded('containerd')
    every = record['images']
    present = set(summary['Id'] for summary in every)
    tags = [tag for summary in every for tag in summary.get('RepoTags') or []]
    references = tags + [step['name'] for step in record['rmi'] if named_repositories([step['name']])]
    parents = set(summary['ParentId'] for summary in every if summary.get('ParentId'))
    assert any(tag in tags for parent in parents for tag in ImageStore(every, True).references[parent]), \
        'a tag of a parent image, whose child outside the repository keeps it'
    for name in references:
        repositories = named_repositories([name])
        # The images the daemon's reference filter lists: those with a name in one of the repositories.
        carrying = [summary_of(inspect) for image_id, inspect in record['inspect'].items() if image_id in present
                    and any(parse_reference(text, default_tag=None).repository in repositories
                            for text in (inspect.get('RepoTags') or []) + (inspect.get('RepoDigests') or []))]
        narrowed = ImageStore(carrying, True, record['containers'], every_summary=lambda: every)
        assert _outcome(narrowed, name) == _outcome(ImageStore(every, True, record['containers']), name), name


@pytest.mark.parametrize('kind', STORES)
def test_prune_predicts_the_daemon_report(kind):
    record = recorded(kind)
    images = dict((image_id, image_facts(inspect)) for image_id, inspect in record['inspect'].items())
    used = set(container['ImageID'] for container in record['containers'])
    if kind == 'containerd':
        # The recorded store holds no hidden dangling name: the untagged images are the dangling ones.
        dangling = set(summary['Id'] for summary in record['images'] if not summary.get('RepoTags'))
        plan = ContainerdPrunePlan(images, used, dangling,
                                   lambda image_id: [tuple(blob) for blob in record['blobs'][image_id]])
    else:
        plan = PrunePlan(images, used, lambda image_id, count: layer_sizes(record['history'][image_id], count))
    plan.run(True, {}, None)
    answer = record['prune']['answer']
    entries = answer['ImagesDeleted'] or []
    assert sorted(plan.deleted_images + plan.deleted_layers) == sorted(entry['Deleted'] for entry in entries
                                                                       if entry.get('Deleted'))
    assert sorted(plan.untagged) == sorted(entry['Untagged'] for entry in entries if entry.get('Untagged'))
    assert plan.space_reclaimed == answer['SpaceReclaimed']


def _containerd_facts(*names):
    return image_facts({'RepoTags': list(names), 'RootFS': {'Layers': ['sha256:' + 'c' * 64]}, 'Size': 100,
                        'Created': '2026-01-01T00:00:00Z', 'Config': {}})


@pytest.mark.parametrize('dangling_only, untagged, deleted', [
    (True, ['sha256:' + 'a' * 64], []),
    (False, ['load/moved:1', 'sha256:' + 'a' * 64], ['sha256:' + 'a' * 64]),
])
def test_prune_drops_the_hidden_dangling_name_of_a_reloaded_image(dangling_only, untagged, deleted):
    """As Docker 28.5 does after ``docker load`` brought back a tag that had moved to another image."""
    reloaded = 'sha256:' + 'a' * 64
    plan = ContainerdPrunePlan({reloaded: _containerd_facts('load/moved:1')}, set(), {reloaded},
                               lambda image_id: pytest.fail('one image holds its layers alone'))
    plan.run(dangling_only, {}, None)
    assert plan.untagged == untagged
    assert plan.deleted_images == deleted
    assert plan.space_reclaimed == (100 if deleted else 0)


def test_an_image_carries_the_digests_of_every_repository_and_its_id():
    image = {'Id': 'sha256:' + 'c' * 64,
             'RepoDigests': ['127.0.0.1:5000/team/api@sha256:' + 'a' * 64, 'mirror.test/team/api@sha256:' + 'b' * 64]}
    assert carried_digests(image) == {'sha256:' + 'a' * 64, 'sha256:' + 'b' * 64, 'sha256:' + 'c' * 64}
    assert carried_digests({'Id': 'sha256:' + 'c' * 64, 'RepoDigests': None}) == {'sha256:' + 'c' * 64}
