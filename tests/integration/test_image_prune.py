"""image_prune against the real engine: docker image prune [-a] [--filter ...] -f.

Other tests share the engine and leave dangling images behind, so the tests that
compare numbers scope the prune with a label only their own images carry; the
unscoped default prune is checked by comparing its check-mode run with the real
run right after it, in one play.
"""

from __future__ import annotations

import json

from conftest import rootfs_tar, task

KEYS = ('images_deleted', 'layers_deleted', 'untagged', 'space_reclaimed')


def image(engine, marker, label, repository=None, tag=None, extra=()):
    """Import a busybox image with the test's label; without a repository it is dangling. Returns its ID."""
    changes = ['CMD ["/bin/sh"]', 'LABEL dockyard.test=%s' % label] + list(extra)
    answer = engine.api.import_image_from_data(rootfs_tar(marker), repository=repository, tag=tag, changes=changes)
    return json.loads(answer.splitlines()[0])['status']


def size(engine, image_id):
    return engine.api.inspect_image(image_id)['Size']


def present(engine, image_id):
    return engine.image_id(image_id) is not None


def report(result):
    return {key: result[key] for key in KEYS}


def test_check_mode_predicts_exactly_what_prune_deletes(ansible, engine, unique):
    own = image(engine, 'own-%s' % unique, unique)
    other = image(engine, 'other-%s' % unique, unique)
    twin_a = image(engine, 'twin-%s' % unique, unique)
    twin_b = image(engine, 'twin-%s' % unique, unique)
    tagged_twin = image(engine, 'kept-%s' % unique, unique, 'prune/%s' % unique, 'kept')
    sharing = image(engine, 'kept-%s' % unique, unique)
    unlabelled = image(engine, 'unlabelled-%s' % unique, 'someone-else')
    doomed = sorted([own, other, twin_a, twin_b, sharing])
    sizes = {image_id: size(engine, image_id) for image_id in doomed}
    layers = sorted(engine.api.inspect_image(image_id)['RootFS']['Layers'][0] for image_id in (own, other, twin_a))
    assert engine.api.inspect_image(twin_b)['RootFS']['Layers'][0] in layers

    check, apply, check_again, apply_again = ansible.sequence(
        'image_prune', filters={'label': 'dockyard.test=%s' % unique})

    assert check['changed'] is True
    assert check['images_deleted'] == doomed
    assert check['untagged'] == []
    # The twins share one layer: it is freed once. The image sharing its layer with the tagged image frees nothing.
    assert check['layers_deleted'] == layers
    assert check['space_reclaimed'] == sizes[own] + sizes[other] + sizes[twin_a]
    assert check['space_reclaimed'] < sum(sizes.values())
    assert check['actions'] == ['Would delete image %s' % image_id for image_id in doomed]
    assert check['diff']['after'] == {image_id: {'exists': False} for image_id in doomed}
    assert check['diff']['before'][own] == {'exists': True, 'id': own, 'tags': [], 'digests': []}

    assert apply['changed'] is True
    assert report(apply) == report(check)
    assert apply['actions'] == ['Deleted image %s' % image_id for image_id in doomed]
    assert apply['diff'] == check['diff']
    assert [present(engine, image_id) for image_id in doomed] == [False] * 5
    assert present(engine, tagged_twin) and present(engine, unlabelled)

    for again in (check_again, apply_again):
        assert again['changed'] is False
        assert report(again) == dict(images_deleted=[], layers_deleted=[], untagged=[], space_reclaimed=0)
        assert again['diff'] == {'before': {}, 'after': {}}


def test_the_unscoped_default_prune_matches_its_preview(ansible, engine, unique):
    dangling = image(engine, 'dangling-%s' % unique, unique)
    tagged = image(engine, 'tagged-%s' % unique, unique, 'prune/%s' % unique, 'tagged')

    check, apply, apply_again = ansible.run(task('image_prune', check=True), task('image_prune'),
                                            task('image_prune')).results
    assert dangling in check['images_deleted']
    assert tagged not in check['images_deleted']
    assert report(apply) == report(check)
    assert apply['diff'] == check['diff']
    assert check['changed'] is apply['changed'] is True
    assert apply_again['changed'] is False
    assert report(apply_again) == dict(images_deleted=[], layers_deleted=[], untagged=[], space_reclaimed=0)
    assert not present(engine, dangling)
    assert present(engine, tagged)


def test_all_removes_unused_tagged_images_and_spares_used_ones(ansible, engine, unique):
    repository = 'prune/%s' % unique
    unused = image(engine, 'unused-%s' % unique, unique, repository, 'unused')
    engine.api.tag(unused, repository, 'alias')
    used = image(engine, 'used-%s' % unique, unique, repository, 'used')
    engine.api.tag(used, repository + '-other', 'used')
    container = engine.cli('create', '--network', 'none', used).strip()
    pushed_repository = '%s/prune/%s' % (engine.registry, unique)
    pushed = image(engine, 'pushed-%s' % unique, unique, pushed_repository, '1.0')
    for event in engine.api.push(pushed_repository, tag='1.0', stream=True, decode=True):
        assert 'error' not in event, event
    digests = engine.api.inspect_image(pushed)['RepoDigests']
    assert len(digests) == 1
    space = size(engine, unused) + size(engine, pushed)
    args = dict(all=True, filters={'label': ['dockyard.test=%s' % unique]})

    check, apply, apply_again = ansible.run(task('image_prune', check=True, **args), task('image_prune', **args),
                                            task('image_prune', **args)).results
    assert check['images_deleted'] == sorted([unused, pushed])
    # The used image keeps one reference; the daemon untags its others first, in its own sorted order.
    assert check['untagged'] == sorted(['%s:unused' % repository, '%s:alias' % repository,
                                        '%s-other:used' % repository, pushed_repository + ':1.0', digests[0]])
    assert check['space_reclaimed'] == space
    assert report(apply) == report(check)
    assert apply['diff'] == check['diff']
    assert apply['diff']['after'][used] == {'exists': True, 'id': used, 'tags': ['%s:used' % repository],
                                            'digests': []}
    assert not present(engine, unused) and not present(engine, pushed)
    assert engine.api.inspect_image(used)['RepoTags'] == ['%s:used' % repository]
    assert apply_again['changed'] is False

    engine.cli('rm', container)
    freed = ansible.module('image_prune', **args)
    assert freed['images_deleted'] == [used]
    assert freed['untagged'] == ['%s:used' % repository]


def test_parents_left_without_children_go_with_them(ansible, engine, unique):
    base = image(engine, 'base-%s' % unique, unique, 'prune/%s' % unique, 'base')
    container = engine.cli('create', '--network', 'none', base, 'sh', '-c', 'echo %s > /data' % unique).strip()
    engine.cli('start', '-a', container)
    child = engine.api.commit(container)['Id']
    engine.cli('rm', container)
    engine.api.remove_image('prune/%s:base' % unique)
    assert present(engine, base), 'an image with a child only loses its tag'
    assert len(engine.api.inspect_image(child)['RootFS']['Layers']) == 2
    space = size(engine, child)
    assert space > size(engine, base)

    args = dict(filters={'label': 'dockyard.test=%s' % unique})
    check, apply = ansible.run(task('image_prune', check=True, **args), task('image_prune', **args)).results
    assert check['images_deleted'] == sorted([base, child])
    assert len(check['layers_deleted']) == 2
    assert check['space_reclaimed'] == space
    assert report(apply) == report(check)
    assert not present(engine, base) and not present(engine, child)


def test_until_and_label_filters(ansible, engine, unique):
    keep = image(engine, 'keep-%s' % unique, unique, extra=['LABEL keep=yes'])
    young = image(engine, 'young-%s' % unique, unique)
    created = engine.api.inspect_image(young)['Created']
    label = 'dockyard.test=%s' % unique

    older_than_an_hour, before_creation, at_creation, future, spare_keep = ansible.run(
        task('image_prune', check=True, filters={'label': label, 'until': '1h'}),
        task('image_prune', check=True, filters={'label': label, 'until': '2000-01-01'}),
        task('image_prune', check=True, filters={'label': label, 'until': created}),
        task('image_prune', check=True, filters={'label': label, 'until': '-1h30m'}),
        task('image_prune', filters={'label': [label], 'label!': 'keep=yes', 'until': '2099-01-01T00:00:00Z'}),
    ).results
    assert older_than_an_hour['images_deleted'] == []
    assert before_creation['images_deleted'] == []
    assert at_creation['images_deleted'] == sorted([keep, young]), 'until keeps images created after it, not at it'
    assert future['images_deleted'] == sorted([keep, young])
    assert spare_keep['images_deleted'] == [young]
    assert present(engine, keep) and not present(engine, young)
    engine.api.remove_image(keep)


def test_bad_filters_are_rejected_before_the_daemon(ansible):
    cases = [
        (dict(filters={'dangling': True}), 'filters: use the all option instead of a dangling filter'),
        (dict(filters={'reference': 'x'}), "filters: image_prune takes the filters until, label, label!, not 'reference'"),
        (dict(filters={'until': 'yesterday'}),
         "filters.until: 'yesterday' is neither a time stamp nor a duration such as 24h or 10m"),
        (dict(filters={'until': '2026-13-01'}),
         "filters.until: '2026-13-01' is neither a time stamp nor a duration such as 24h or 10m"),
        (dict(filters={'until': ['1h', '2h']}), 'filters.until takes one value, got 2'),
        (dict(all='maybe'), "argument 'all' is of type str and we were unable to convert to bool: "
                            "The value 'maybe' is not a valid boolean."),
    ]
    # Each failure in a real run; the until parser's in check mode too, since check mode reads until itself.
    tasks = [task('image_prune', **args) for args, _message in cases] + [task('image_prune', check=True, **cases[2][0])]
    results = ansible.run(*tasks).results
    for result, message in zip(results, [message for _args, message in cases] + [cases[2][1]]):
        assert result['failed'] is True
        assert result['msg'] == message if 'maybe' not in message else result['msg'].startswith(message)
