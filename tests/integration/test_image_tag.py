"""image_tag against the real engine: docker tag SOURCE TARGET."""

from __future__ import annotations

from conftest import task


def digests(engine, image_id, tags):
    """The digests inspect shows for an imported image: none on the classic store; on the containerd store its
    manifest digest (the ID) in each repository it is tagged in."""
    if not engine.containerd:
        return []
    return sorted(set('%s@%s' % (tag.rsplit(':', 1)[0], image_id) for tag in tags))


def state(engine, reference):
    """What image_tag's diff shows for a name: the image it names now."""
    inspect = engine.api.inspect_image(reference)
    return {'exists': True, 'id': inspect['Id'], 'tags': sorted(inspect['RepoTags']),
            'digests': sorted(inspect['RepoDigests'])}


def listed(reference, image_id=None):
    """One target as diff.before.images / diff.after.images list it, as community.docker.docker_image_tag does."""
    repository, tag = reference.rsplit(':', 1)
    if image_id:
        return dict(name=repository, tag=tag, exists=True, id=image_id)
    return dict(name=repository, tag=tag, exists=False)


def test_tag_check_apply_and_idempotence(ansible, engine, unique):
    source = 'tag/%s/src:1.0' % unique
    image_id = engine.make_image(source)
    plain = 'tag/%s/dst:2.0' % unique
    pushed = '%s/tag/%s/dst' % (engine.registry, unique)
    args = dict(name=source, repository=[plain, pushed])

    check, apply, check_again, apply_again = ansible.sequence('image_tag', **args)

    targets = [plain, pushed + ':latest']  # a target without a tag gets latest, as docker tag does
    assert check['changed'] is True
    assert check['tagged_images'] == targets
    assert check['actions'] == ['Tagged image %s as %s: %s named no image' % (image_id, target, target)
                                for target in targets]
    assert check['image']['Id'] == image_id
    after = {'exists': True, 'id': image_id, 'tags': sorted([source] + targets),
             'digests': digests(engine, image_id, [source] + targets)}
    assert check['diff'] == {'before': dict({target: {'exists': False} for target in targets},
                                            images=[listed(target) for target in targets]),
                             'after': dict({target: after for target in targets},
                                           images=[listed(target, image_id) for target in targets])}

    assert apply['changed'] is True
    assert apply['tagged_images'] == targets
    assert apply['actions'] == check['actions']
    assert apply['diff'] == check['diff']
    assert sorted(apply['image']['RepoTags']) == sorted([source] + targets)
    assert [engine.image_id(target) for target in targets] == [image_id, image_id]

    assert check_again['changed'] is False
    assert check_again['tagged_images'] == []
    assert apply_again['changed'] is False, 'tagging twice is ok the second time'
    assert apply_again['tagged_images'] == []
    assert apply_again['actions'] == ['Not tagged image %s as %s: %s names it already' % (image_id, target, target)
                                      for target in targets]
    assert apply_again['diff']['before'] == apply_again['diff']['after'] == dict(
        {target: after for target in targets}, images=[listed(target, image_id) for target in targets])


def test_existing_images_keep_leaves_a_target_where_it_was(ansible, engine, unique):
    source = 'tag/%s/src:new' % unique
    target = 'tag/%s/app:stable' % unique
    new_id = engine.make_image(source)
    old_id = engine.make_image(target)

    check, apply = ansible.run(task('image_tag', check=True, name=source, repository=[target], existing_images='keep'),
                               task('image_tag', name=source, repository=[target], existing_images='keep')).results
    for result in (check, apply):
        assert result['changed'] is False
        assert result['tagged_images'] == []
        assert result['diff']['before'] == result['diff']['after'] == {target: state(engine, target),
                                                                       'images': [listed(target, old_id)]}
        assert result['actions'] == ['Not tagged image %s as %s: %s named image %s, kept as existing_images=keep asks'
                                     % (new_id, target, target, old_id)]
    assert engine.image_id(target) == old_id
    assert engine.image_id(source) == new_id


def test_overwrite_moves_an_existing_target(ansible, engine, unique):
    source = 'tag/%s/src:new' % unique
    target = 'tag/%s/app:stable' % unique
    new_id = engine.make_image(source)
    old_id = engine.make_image(target)
    engine.api.tag(old_id, 'tag/%s/app' % unique, 'old')  # so the old image keeps a name after the move
    old_before = state(engine, target)

    check, apply, again = ansible.run(task('image_tag', check=True, name=source, repository=[target]),
                                      task('image_tag', name=source, repository=[target]),
                                      task('image_tag', name=source, repository=[target])).results
    assert check['changed'] is True
    assert engine.image_id(source) == new_id
    assert apply['changed'] is True
    assert apply['tagged_images'] == [target]
    assert apply['diff'] == check['diff'] == {
        'before': {target: old_before, 'images': [listed(target, old_id)]},
        'after': {target: {'exists': True, 'id': new_id, 'tags': sorted([source, target]),
                           'digests': digests(engine, new_id, [source, target])}, 'images': [listed(target, new_id)]}}
    assert apply['actions'] == ['Tagged image %s as %s: %s named image %s' % (new_id, target, target, old_id)]
    assert engine.image_id(target) == new_id
    assert engine.api.inspect_image(old_id)['RepoTags'] == ['tag/%s/app:old' % unique]
    assert again['changed'] is False


def test_the_tag_option_and_image_ids(ansible, engine, unique):
    repository = 'tag/%s/src' % unique
    image_id = engine.make_image(repository + ':3.1')

    by_option, by_id, by_short_id, by_prefix = ansible.run(
        task('image_tag', name=repository, tag='3.1', repository=['tag/%s/a' % unique, 'tag/%s/a:latest' % unique]),
        task('image_tag', name=image_id, repository=['tag/%s/b' % unique, 'tag/%s/c:x' % unique]),
        task('image_tag', name=image_id.split(':')[1][:12], repository=['tag/%s/d:v2' % unique]),
        task('image_tag', name=image_id.split(':')[1][:8], repository=['tag/%s/e' % unique])).results
    # A target without a tag gets latest, as docker tag does, whatever the source's tag.
    assert by_option['tagged_images'] == ['tag/%s/a:latest' % unique], 'a target named twice is tagged once'
    assert list(by_option['diff']['after']) == ['tag/%s/a:latest' % unique, 'images']
    assert by_id['tagged_images'] == ['tag/%s/b:latest' % unique, 'tag/%s/c:x' % unique]
    assert by_id['actions'][0] == 'Tagged image %s as tag/%s/b:latest: tag/%s/b:latest named no image' % (
        image_id, unique, unique)
    assert by_short_id['tagged_images'] == ['tag/%s/d:v2' % unique]
    assert by_prefix['tagged_images'] == ['tag/%s/e:latest' % unique], 'an ID prefix of 8 hex digits names the image'
    assert sorted(engine.api.inspect_image(image_id)['RepoTags']) == sorted(
        '%s:%s' % (name, tag) for name, tag in [(repository, '3.1'), ('tag/%s/a' % unique, 'latest'),
                                                ('tag/%s/b' % unique, 'latest'), ('tag/%s/c' % unique, 'x'),
                                                ('tag/%s/d' % unique, 'v2'), ('tag/%s/e' % unique, 'latest')])


IMAGE_ID = 'sha256:' + 'ab' * 32


BAD_INPUT = [
    (dict(repository=['ok:1', 'x@sha256:' + 'cd' * 32]),
     "repository[1]: 'x@sha256:%s' carries a digest; a target takes a tag, not a digest" % ('cd' * 32)),
    (dict(repository=[IMAGE_ID]), "repository[0]: '%s' is an image ID; a target must be a repository name" % IMAGE_ID),
    (dict(repository=['ab' * 32 + ':1']),
     "repository[0]: '%s:1' is not a valid target: a repository name must not be 64 hex digits" % ('ab' * 32)),
    (dict(repository=['repo::tag']),
     "repository[0]: invalid image reference 'repo::tag': only one ':' may separate the repository from its tag"),
    (dict(repository=[]), 'repository must hold at least one target'),
    (dict(name='Busybox', repository=['x']), "invalid image reference 'Busybox': repository name must be lowercase"),
    (dict(tag='bad tag', repository=['x']), "invalid image reference 'busybox:bad tag': it contains white space"),
    (dict(repository=['x'], existing_images='replace'),
     'value of existing_images must be one of: keep, overwrite, got: replace'),
    (dict(name=None, repository=['x']), 'missing required arguments: name'),
]


def test_failures_name_the_source_or_the_bad_target(ansible, engine, unique):
    source = 'tag/%s/src:1' % unique
    engine.make_image(source)
    missing = 'tag/%s/missing:1.0' % unique
    good = 'tag/%s/good:1' % unique
    expected = [
        (dict(name=missing, repository=[good, 'tag/%s/b' % unique]),
         'failed to tag %s as %s, tag/%s/b:latest: no such image: %s' % (missing, good, unique, missing)),
        (dict(name=source, repository=[good, 'tag/%s/Bad' % unique]),
         "repository[1]: invalid image reference 'tag/%s/Bad': repository name must be lowercase" % unique),
        (dict(name=source, repository=['x'], docker_host='unix:///nonexistent/docker.sock'),
         'Cannot connect to the Docker daemon at unix:///nonexistent/docker.sock: No such file or directory'),
    ] + [(dict(dict(name='busybox'), **args), message) for args, message in BAD_INPUT]
    tasks = []
    for args, _message in expected:
        args = dict((key, value) for key, value in args.items() if value is not None)
        tasks.extend([task('image_tag', check=True, **args), task('image_tag', **args)])
    results = ansible.run(*tasks).results
    assert [(result.get('failed'), result['msg']) for result in results] == [
        (True, message) for _args, message in expected for _mode in ('check', 'apply')]
    assert engine.image_id(good) is None, 'nothing is tagged when a target is bad'
    assert engine.image_id(missing) is None
