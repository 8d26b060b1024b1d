"""image_prune against the real engine: docker image prune [-a] [--filter ...] -f.

Other tests share the engine and leave dangling images behind, so the tests that
compare numbers scope the prune with a label only their own images carry; the
unscoped default prune is checked by comparing its check-mode run with the real
run right after it, in one play.
"""

from __future__ import annotations

import io
import json
import tarfile

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


def content_blobs(engine, image_id):
    """``{digest: size}`` of an image's manifest, config and layer blobs on the containerd store, from docker save."""
    sizes, documents = {}, {}
    with tarfile.open(fileobj=io.BytesIO(b''.join(engine.api.get_image(image_id)))) as tar:
        for member in tar:
            if member.isfile() and member.name.startswith('blobs/'):
                digest = 'sha256:' + member.name.rsplit('/', 1)[1]
                sizes[digest] = member.size
                if digest == image_id:
                    documents[digest] = json.loads(tar.extractfile(member).read())
    manifest = documents[image_id]
    wanted = [image_id, manifest['config']['digest']] + [layer['digest'] for layer in manifest['layers']]
    return {digest: sizes[digest] for digest in wanted}


def freed_content(engine, doomed, kept):
    """The bytes of the content blobs of the ``doomed`` images that none of the ``kept`` ones holds."""
    blobs = dict(item for image_id in doomed for item in content_blobs(engine, image_id).items())
    held = set(digest for image_id in kept for digest in content_blobs(engine, image_id))
    return sum(size for digest, size in blobs.items() if digest not in held)


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
    freed_blobs = engine.containerd and freed_content(engine, doomed, [tagged_twin])
    layers = sorted(engine.api.inspect_image(image_id)['RootFS']['Layers'][0] for image_id in (own, other, twin_a))
    assert engine.api.inspect_image(twin_b)['RootFS']['Layers'][0] in layers

    check, apply, check_again, apply_again = ansible.sequence(
        'image_prune', filters={'label': 'dockyard.test=%s' % unique})

    assert check['changed'] is True
    assert check['images_deleted'] == doomed
    # The twins share one layer: it is freed once. The image sharing its layer with the tagged image frees nothing
    # of it.
    if engine.containerd:
        # There an untagged image is held by a name made of its ID, which the report lists as untagged; the report
        # lists no layers, and the space is that of the content blobs freed: each image's manifest, config and
        # layers (an image's size there), less the layer blobs (the imported tars) another image still holds.
        assert check['untagged'] == doomed
        assert check['layers_deleted'] == []
        assert check['space_reclaimed'] == freed_blobs
    else:
        assert check['untagged'] == []
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
    # The used image keeps one reference; the daemon untags its others, in its own sorted order. The classic
    # store also reports the digests it removes; on the containerd store a digest is no name of its own.
    kept_tags = ['%s:used' % repository]
    untagged = ['%s:unused' % repository, '%s:alias' % repository, '%s-other:used' % repository,
                pushed_repository + ':1.0']
    assert check['untagged'] == sorted(untagged + ([] if engine.containerd else [digests[0]]))
    kept_digests = ['%s@%s' % (repository, used)] if engine.containerd else []
    assert check['diff']['after'][used] == {'exists': True, 'id': used, 'tags': kept_tags, 'digests': kept_digests}
    assert check['space_reclaimed'] == space
    assert report(apply) == report(check)
    assert apply['diff'] == check['diff']
    assert not present(engine, unused) and not present(engine, pushed)
    assert sorted(engine.api.inspect_image(used)['RepoTags']) == kept_tags
    assert apply_again['changed'] is False

    engine.cli('rm', container)
    freed = ansible.module('image_prune', **args)
    assert freed['images_deleted'] == [used]
    assert freed['untagged'] == kept_tags


def test_parents_left_without_children_go_with_them(ansible, engine, unique):
    base = image(engine, 'base-%s' % unique, unique, 'prune/%s' % unique, 'base')
    container = engine.cli('create', '--network', 'none', base, 'sh', '-c', 'echo %s > /data' % unique).strip()
    engine.cli('start', '-a', container)
    child = engine.api.commit(container)['Id']
    engine.cli('rm', container)
    space = size(engine, child)
    assert space > size(engine, base)
    engine.api.remove_image('prune/%s:base' % unique)
    # The containerd store reports the base deleted, yet keeps it, untagged, for its child.
    assert present(engine, base), 'an image with a child only loses its tag'
    assert len(engine.api.inspect_image(child)['RootFS']['Layers']) == 2
    if engine.containerd:
        space = freed_content(engine, [base, child], [])

    args = dict(filters={'label': 'dockyard.test=%s' % unique})
    check, apply = ansible.run(task('image_prune', check=True, **args), task('image_prune', **args)).results
    assert check['images_deleted'] == sorted([base, child])
    assert len(check['layers_deleted']) == (0 if engine.containerd else 2)
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
    if engine.containerd:
        # The containerd store reads label!=keep=yes as "has keep, with another value": young has no keep label.
        assert spare_keep['images_deleted'] == []
        assert present(engine, keep) and present(engine, young)
        engine.api.remove_image(young)
    else:
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
        (dict(filters={'until': ['1h', '2h']}), "filters.until takes one value, got 2: '1h', '2h'"),
        (dict(all='maybe'), "argument 'all' is of type str and we were unable to convert to bool: "
                            "The value 'maybe' is not a valid boolean."),
    ]
    # Each failure in a real run; the until parser's in check mode too, since check mode reads until itself.
    tasks = [task('image_prune', **args) for args, _message in cases] + [task('image_prune', check=True, **cases[2][0])]
    results = ansible.run(*tasks).results
    for result, message in zip(results, [message for _args, message in cases] + [cases[2][1]]):
        assert result['failed'] is True
        assert result['msg'] == message if 'maybe' not in message else result['msg'].startswith(message)


def test_an_image_loaded_back_under_a_moved_tag(ansible, engine, unique):
    """docker load brings a tag back to the image it had left; the image it moved to is dangling again.

    The containerd store keeps the reloaded image's own dangling name as well: a prune drops that name,
    reported as untagged by ID, and keeps the image for its tag.
    """
    name = 'prune/%s:moved' % unique
    archived = image(engine, 'archived-%s' % unique, unique, 'prune/%s' % unique, 'moved')
    archive = b''.join(engine.api.get_image(name))
    moved_to = image(engine, 'moved-to-%s' % unique, unique, 'prune/%s' % unique, 'moved')
    for event in engine.api.load_image(archive):  # a stream: the load is done once it is read to its end
        assert 'error' not in event, event
    assert engine.image_id(name) == archived

    args = dict(filters={'label': 'dockyard.test=%s' % unique})
    check, apply, again = ansible.run(task('image_prune', check=True, **args), task('image_prune', **args),
                                      task('image_prune', **args)).results
    assert check['images_deleted'] == [moved_to]
    assert check['untagged'] == (sorted([archived, moved_to]) if engine.containerd else [])
    assert report(apply) == report(check)
    assert apply['actions'] == (['Untagged %s' % archived] if engine.containerd else []) + [
        'Deleted image %s' % moved_to]
    assert again['changed'] is False
    assert engine.image_id(name) == archived


def test_keep_last_keeps_each_repositorys_newest_and_leaves_a_containers_image_alone(ansible, engine, unique):
    repository = 'keep-%s/app' % unique
    # Oldest first: each import is created after the one before it.
    oldest, used, shared, newer, newest = (image(engine, '%s-%s' % (build, unique), unique, repository, build)
                                           for build in ('0', '1', '2', '3', '4'))
    engine.api.tag(shared, 'keep-%s/other' % unique, 'x')
    container = engine.cli('create', '--network', 'none', used).strip()
    args = dict(keep_last=2, filters={'reference': repository, 'label': 'dockyard.test=%s' % unique})
    try:
        check, apply, check_again, apply_again = ansible.run(
            task('image_prune', check=True, **args), task('image_prune', **args),
            task('image_prune', check=True, **args), task('image_prune', **args)).results
    finally:
        engine.cli('rm', container)
    # The two newest keep their tags; the container's image is left alone; the image that held another
    # repository's tag only loses this one's; the oldest goes with its last tag.
    assert check['changed'] is True
    assert check['untagged'] == sorted(['%s:0' % repository, '%s:2' % repository])
    assert check['images_deleted'] == [oldest]
    assert check['space_reclaimed'] is None
    assert check['actions'] == ['Would untag %s:0' % repository, 'Would untag %s:2' % repository,
                                'Would delete image %s' % oldest]
    assert report(apply) == report(check)
    assert apply['diff'] == check['diff']
    assert apply['actions'] == ['Untagged %s:0' % repository, 'Untagged %s:2' % repository,
                                'Deleted image %s' % oldest]
    assert not present(engine, oldest)
    assert engine.api.inspect_image(used)['RepoTags'] == ['%s:1' % repository]
    assert engine.api.inspect_image(shared)['RepoTags'] == ['keep-%s/other:x' % unique]
    assert [engine.api.inspect_image(image_id)['RepoTags'] for image_id in (newer, newest)] == [
        ['%s:3' % repository], ['%s:4' % repository]]
    assert check_again['changed'] is False and check_again['untagged'] == []
    assert apply_again['changed'] is False and apply_again['actions'] == []


def test_keep_last_failures(ansible):
    results = ansible.run(task('image_prune', keep_last=0), task('image_prune', keep_last=1, all=True),
                          task('image_prune', keep_last=1, filters={'dangling': 'true'}),
                          task('image_prune', filters={'reference': 'app'})).results
    assert [result['msg'] for result in results] == [
        'keep_last must be at least 1, got 0',
        'keep_last and all do not combine: keep_last removes the tags of older images per repository; run the '
        'prune with all in a task of its own',
        'filters: use the all option instead of a dangling filter',
        "filters: image_prune takes the filters until, label, label!, not 'reference'",
    ]
