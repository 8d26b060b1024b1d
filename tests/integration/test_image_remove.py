"""image_remove against the real engine: docker rmi NAME, with the daemon's rules."""

from __future__ import annotations

import hashlib
import io

from conftest import rootfs_tar, task

ABSENT = {'exists': False}


def short(image_id):
    return image_id.split(':')[-1][:12]


def state(engine, image_id, *tags, digests=None):
    """The diff state of an image with these tags. Its digests, unless given: on the containerd store the
    manifest digest (the ID) in each tagged repository, as inspect shows them; none for an imported image else."""
    if digests is None:
        digests = set('%s@%s' % (tag.rsplit(':', 1)[0], image_id) for tag in tags) if engine.containerd else ()
    return {'exists': True, 'id': image_id, 'tags': sorted(tags), 'digests': sorted(digests)}


def one_name(name, before, after):
    """The diff of a task about one name: keyed by the name, and that state also at the top, as community.docker has it."""
    return {'before': dict(before, **{name: before}), 'after': dict(after, **{name: after})}


def with_layers(engine, *entries):
    """``deleted`` as the daemon reports it: image IDs each followed by the layers it frees, on the classic store;
    the containerd store reports no layers. ``entries`` holds (image ID, layer or None) pairs."""
    return [item for image_id, layer in entries for item in (image_id, layer)
            if item is not None and (item == image_id or not engine.containerd)]


def layers(engine, reference):
    """The chain ID of an image's top layer, as the daemon reports it when it deletes that layer."""
    chain = None
    for diff_id in engine.api.inspect_image(reference)['RootFS']['Layers']:
        chain = diff_id if chain is None else 'sha256:' + hashlib.sha256(('%s %s' % (chain, diff_id)).encode()).hexdigest()
    return chain


def build(engine, tag, base, steps):
    """A classic (non-BuildKit) build on ``base``: each step leaves an untagged parent image."""
    dockerfile = 'FROM %s\n%s\n' % (base, '\n'.join(steps))
    for event in engine.api.build(fileobj=io.BytesIO(dockerfile.encode()), tag=tag, rm=True, decode=True):
        assert 'error' not in event, event
    return engine.api.inspect_image(tag)['Id']


def test_removing_one_of_two_tags_untags_and_the_last_deletes(ansible, engine, unique):
    first = 'rm/%s/app:1' % unique
    second = 'rm/%s/app:2' % unique
    image_id = engine.make_image(first)
    engine.api.tag(image_id, 'rm/%s/app' % unique, '2')
    top_layer = layers(engine, first)

    check, apply, check_again, apply_again = ansible.sequence('image_remove', name=first)
    assert check['changed'] is True
    assert (check['untagged'], check['deleted']) == ([first], [])
    assert check['actions'] == ['Removed image %s' % first]
    assert check['diff'] == one_name(first, state(engine, image_id, first, second), state(engine, image_id, second))
    assert check['diff']['before']['id'] == check['diff']['after']['id'] == image_id
    assert apply['changed'] is True
    assert (apply['untagged'], apply['deleted']) == (check['untagged'], check['deleted'])
    assert apply['actions'] == ['Removed image %s' % first]
    assert apply['diff'] == check['diff']
    assert apply['image']['Id'] == image_id
    assert engine.image_id(second) == image_id, 'the image stays while it has another tag'
    assert (check_again['changed'], apply_again['changed']) == (False, False)
    assert (apply_again['untagged'], apply_again['deleted'], apply_again['actions']) == ([], [], [])
    assert apply_again['image'] == {}
    assert apply_again['diff'] == one_name(first, ABSENT, ABSENT)
    assert apply_again['diff']['before']['exists'] is apply_again['diff']['after']['exists'] is False

    check, apply, apply_again = ansible.run(task('image_remove', check=True, name=second),
                                            task('image_remove', name=second), task('image_remove', name=second)).results
    assert (check['untagged'], check['deleted']) == ([second], with_layers(engine, (image_id, top_layer)))
    assert check['actions'] == ['Removed image %s' % second]
    assert (apply['untagged'], apply['deleted']) == (check['untagged'], check['deleted'])
    assert apply['actions'] == ['Removed image %s' % second]
    assert apply['diff'] == check['diff'] == one_name(second, state(engine, image_id, second), ABSENT)
    assert engine.image_id(image_id) is None, 'removing the last tag deletes the image'
    assert apply_again['changed'] is False


def test_a_list_of_names_is_removed_in_order(ansible, engine, unique):
    names = ['rm/%s/app:1' % unique, 'rm/%s/app:2' % unique, 'rm/%s/other' % unique]
    image_id = engine.make_image(names[0])
    engine.api.tag(image_id, 'rm/%s/app' % unique, '2')
    other_id = engine.make_image(names[2] + ':latest')
    image_layer, other_layer = layers(engine, names[0]), layers(engine, names[2])
    args = dict(name=names)

    check, apply = ansible.run(task('image_remove', check=True, **args), task('image_remove', **args)).results
    assert check['untagged'] == [names[0], names[1], names[2] + ':latest']
    assert check['deleted'] == with_layers(engine, (image_id, image_layer), (other_id, other_layer))
    assert check['actions'] == ['Removed image %s' % names[0], 'Removed image %s' % names[1],
                                'Removed image %s:latest' % names[2]]
    assert 'exists' not in check['diff']['before'], 'several names: the diff is keyed by name only'
    assert (apply['untagged'], apply['deleted']) == (check['untagged'], check['deleted'])
    assert apply['diff'] == check['diff']
    assert 'image' not in apply
    assert engine.image_id(image_id) is None and engine.image_id(other_id) is None


def test_an_image_a_container_uses_is_refused_unless_forced(ansible, engine, unique):
    name = 'rm/%s/used:1' % unique
    image_id = engine.make_image(name)
    container = 'rm-%s-stopped' % unique
    container_id = engine.api.create_container(name, name=container)['Id']
    try:
        check, apply, by_id, forced_check, forced, again = ansible.run(
            task('image_remove', check=True, name=name), task('image_remove', name=name),
            task('image_remove', name=image_id), task('image_remove', check=True, name=name, force=True),
            task('image_remove', name=name, force=True), task('image_remove', name=name, force=True)).results
        # The two stores word the refusal of a tag differently, as their daemons do.
        refusal = ('unable to delete %s (must be forced)' if engine.containerd else
                   'unable to remove repository reference "%s" (must force)') % name
        message = ('failed to remove image %s: conflict: %s - container %s (%s) is using its referenced image %s; '
                   'use force: true to remove it anyway' % (name, refusal, short(container_id), container, short(image_id)))
        assert (check['failed'], check['msg']) == (True, message)
        assert (apply['failed'], apply['msg']) == (True, message)
        assert by_id['failed'] is True
        assert by_id['msg'] == ('failed to remove image %s: conflict: unable to delete %s (must be forced) - image is '
                                'being used by stopped container %s (%s); use force: true to remove it anyway'
                                % (image_id, short(image_id), short(container_id), container))
        # The refused tasks left the tag, so the forced ones find it. On the classic store the stopped container
        # keeps the image's layer, and the image itself goes, as with docker rmi --force; the containerd store
        # only untags it and keeps the image for the container.
        deleted = [] if engine.containerd else [image_id]
        assert (forced_check['untagged'], forced_check['deleted']) == ([name], deleted)
        assert (forced['untagged'], forced['deleted']) == (forced_check['untagged'], forced_check['deleted'])
        assert forced['changed'] is True and again['changed'] is False
        assert engine.image_id(image_id) == (image_id if engine.containerd else None)
    finally:
        engine.api.remove_container(container_id, force=True)


def test_a_running_container_keeps_its_image_even_when_forced(ansible, engine, unique):
    name = 'rm/%s/running:1' % unique
    image_id = engine.make_image(name)
    container = 'rm-%s-running' % unique
    container_id = engine.api.create_container(name, command=['/bin/busybox', 'sleep', '600'], name=container)['Id']
    engine.api.start(container_id)
    try:
        refused, check, apply = ansible.run(task('image_remove', name=image_id, force=True),
                                            task('image_remove', check=True, name=name, force=True),
                                            task('image_remove', name=name, force=True)).results
        assert refused['failed'] is True
        assert refused['msg'] == ('failed to remove image %s: conflict: unable to delete %s (cannot be forced) - image '
                                  'is being used by running container %s (%s)'
                                  % (image_id, short(image_id), short(container_id), container))
        assert (check['untagged'], check['deleted']) == ([name], [])
        assert (apply['untagged'], apply['deleted']) == ([name], [])
        assert apply['actions'] == ['Removed image %s' % name]
        assert engine.api.inspect_image(image_id)['RepoTags'] == [], 'untagged, but kept for the running container'
    finally:
        engine.api.remove_container(container_id, force=True)
        engine.api.remove_image(image_id)


def test_an_id_several_repositories_name_is_refused_unless_forced(ansible, engine, unique):
    names = ['rm/%s/a:1' % unique, 'rm/%s/b:1' % unique]
    image_id = engine.make_image(names[0])
    engine.api.tag(image_id, 'rm/%s/b' % unique, '1')

    check, apply, forced_check, forced = ansible.run(
        task('image_remove', check=True, name=image_id), task('image_remove', name=image_id),
        task('image_remove', check=True, name=image_id, force=True), task('image_remove', name=image_id, force=True)).results
    message = ('failed to remove image %s: conflict: unable to delete %s (must be forced) - image is referenced in '
               'multiple repositories (%s, %s); use force: true to remove it anyway'
               % (image_id, short(image_id), names[0], names[1]))
    assert (check['failed'], check['msg']) == (True, message)
    assert (apply['failed'], apply['msg']) == (True, message)
    assert forced_check['untagged'] == names
    assert (forced['untagged'], forced['deleted']) == (forced_check['untagged'], forced_check['deleted'])
    assert forced['deleted'][0] == image_id
    assert forced['diff'] == forced_check['diff'] == one_name(image_id, state(engine, image_id, *names), ABSENT)
    assert engine.image_id(image_id) is None


def test_ids_and_the_tag_option(ansible, engine, unique):
    name = 'rm/%s/one:1' % unique
    image_id = engine.make_image(name)
    repository = 'rm/%s/app' % unique
    other_id = engine.make_image(repository + ':7')
    check, apply, by_option = ansible.run(task('image_remove', check=True, name=short(image_id)),
                                          task('image_remove', name=short(image_id)),
                                          task('image_remove', name=repository, tag='7')).results
    assert (check['untagged'], check['deleted'][:1]) == ([name], [image_id]), 'an ID with one tag is deleted'
    assert (apply['untagged'], apply['deleted']) == (check['untagged'], check['deleted'])
    assert by_option['untagged'] == [repository + ':7']
    assert engine.image_id(image_id) is None and engine.image_id(other_id) is None


def test_an_id_prefix_of_8_digits_and_an_ambiguous_prefix(ansible, engine, unique):
    name = 'rm/%s/short:1' % unique
    image_id = engine.make_image(name)
    given = image_id[7:15]
    first, second, prefix = engine.prefix_twins('rm/%s/twins' % unique)

    check, apply, check_again, apply_again = ansible.sequence('image_remove', name=given)
    assert (check['changed'], apply['changed']) == (True, True)
    assert (check['untagged'], check['deleted'][:1]) == ([name], [image_id]), 'as docker rmi %s does' % given
    assert (apply['untagged'], apply['deleted']) == (check['untagged'], check['deleted'])
    assert apply['diff'] == check['diff'] == one_name(given, state(engine, image_id, name), ABSENT)
    assert (check_again['changed'], apply_again['changed']) == (False, False)
    assert engine.image_id(image_id) is None

    check, apply = ansible.run(task('image_remove', check=True, name=prefix), task('image_remove', name=prefix)).results
    message = ("image ID prefix '%s' is ambiguous: it matches 2 images (%s, %s); give more digits"
               % ((prefix,) + tuple(sorted([short(first), short(second)]))))
    assert [(result['failed'], result['msg']) for result in (check, apply)] == [(True, message)] * 2
    assert (engine.image_id(first), engine.image_id(second)) == (first, second)
    engine.api.remove_image(first, force=True)
    engine.api.remove_image(second, force=True)


def parents_of(engine, image_id, base_id):
    parents = []
    while engine.api.inspect_image(image_id)['Parent'] != base_id:
        image_id = engine.api.inspect_image(image_id)['Parent']
        parents.append(image_id)
    return parents


def test_built_images_and_their_parents(ansible, engine, unique):
    base = 'rm/%s/base:1' % unique
    base_id = engine.make_image(base)
    kept, pruned = 'rm/%s/kept:1' % unique, 'rm/%s/pruned:1' % unique
    kept_id = build(engine, kept, base, ['RUN echo kept > /one', 'RUN echo kept > /two', 'LABEL step=three'])
    pruned_id = build(engine, pruned, base, ['RUN echo pruned > /one', 'RUN echo pruned > /two', 'LABEL step=three'])
    kept_parents, pruned_parents = parents_of(engine, kept_id, base_id), parents_of(engine, pruned_id, base_id)
    assert len(kept_parents) == len(pruned_parents) == 2

    by_id, check_kept, apply_kept, check_pruned, apply_pruned, untag_base = ansible.run(
        task('image_remove', name=base_id, force=True),
        task('image_remove', check=True, name=kept, prune=False), task('image_remove', name=kept, prune=False),
        task('image_remove', check=True, name=pruned), task('image_remove', name=pruned),
        task('image_remove', name=base)).results
    assert (apply_kept['untagged'], apply_kept['deleted']) == (check_kept['untagged'], check_kept['deleted'])
    assert apply_kept['deleted'] == [kept_id], 'without prune the parents stay'
    assert [engine.image_id(parent) for parent in kept_parents] == kept_parents
    assert (apply_pruned['untagged'], apply_pruned['deleted']) == (check_pruned['untagged'], check_pruned['deleted'])
    if engine.containerd:
        # The containerd store lets children hold no image back: asked for by ID, the base goes; it deletes no
        # parents with an image.
        assert (by_id['untagged'], by_id['deleted']) == ([base], [base_id])
        assert engine.image_id(base_id) is None
        assert apply_pruned['deleted'] == [pruned_id]
        assert [engine.image_id(parent) for parent in pruned_parents] == pruned_parents
        assert (untag_base['changed'], untag_base['untagged'], untag_base['deleted']) == (False, [], [])
        for parent in [pruned_parents[0], kept_parents[0]]:
            engine.api.remove_image(parent)
        return
    assert by_id['msg'] == ('failed to remove image %s: conflict: unable to delete %s (cannot be forced) - image has '
                            'dependent child images (%s)'
                            % (base_id, short(base_id), ', '.join(sorted([short(kept_parents[-1]), short(pruned_parents[-1])]))))
    assert [entry for entry in apply_pruned['deleted'] if entry in [pruned_id] + pruned_parents] == [pruned_id] + pruned_parents
    assert len(apply_pruned['deleted']) == 5, 'each RUN parent takes its layer with it; the LABEL step has none'
    assert [engine.image_id(parent) for parent in pruned_parents] == [None, None], 'prune stops at the tagged base'
    # The base has children left (the kept parents): removing its last tag only untags it.
    assert (untag_base['untagged'], untag_base['deleted']) == ([base], [])
    assert engine.image_id(base_id) == base_id
    assert engine.image_id(base) is None
    engine.api.remove_image(kept_parents[0])  # prunes the rest of that chain, and the untagged base with it


def test_a_pulled_image_loses_its_digest_with_its_last_tag(ansible, engine, unique):
    reference, image_id = engine.publish('rm/%s' % unique)
    engine.api.pull(reference.rsplit(':', 1)[0], tag='1.0')
    digests = engine.api.inspect_image(reference)['RepoDigests']
    assert len(digests) == 1
    other = 'rm/%s/other:1' % unique
    engine.api.tag(image_id, 'rm/%s/other' % unique, '1')

    before_digests = engine.api.inspect_image(image_id)['RepoDigests']
    check, apply, check_other, apply_other = ansible.run(
        task('image_remove', check=True, name=reference), task('image_remove', name=reference),
        task('image_remove', check=True, name=other), task('image_remove', name=other)).results
    # The digest goes with the last tag of its repository; the tag in another repository keeps the image. The
    # containerd store reports only the tag: there a digest is no name of its own.
    assert (check['untagged'], check['deleted']) == ([reference] + ([] if engine.containerd else digests), [])
    assert (apply['untagged'], apply['deleted']) == (check['untagged'], check['deleted'])
    assert apply['diff'] == one_name(reference, state(engine, image_id, reference, other, digests=before_digests),
                                     state(engine, image_id, other))
    assert (check_other['untagged'], check_other['deleted'][:1]) == ([other], [image_id])
    assert (apply_other['untagged'], apply_other['deleted']) == (check_other['untagged'], check_other['deleted'])
    assert engine.image_id(image_id) is None


def test_a_layer_two_images_share_goes_with_the_last_of_them(ansible, engine, unique):
    names = ['rm/%s/x:1' % unique, 'rm/%s/y:1' % unique]
    image_ids = []
    for name, command in zip(names, ['x', 'y']):
        repository, tag = name.split(':')
        engine.api.import_image_from_data(rootfs_tar('shared %s' % unique), repository=repository, tag=tag,
                                          changes=['CMD ["/bin/%s"]' % command])
        image_ids.append(engine.image_id(name))
    assert image_ids[0] != image_ids[1] and layers(engine, names[0]) == layers(engine, names[1])
    shared_layer = layers(engine, names[0])

    check_x, apply_x, check_y, apply_y = ansible.run(
        task('image_remove', check=True, name=names[0]), task('image_remove', name=names[0]),
        task('image_remove', check=True, name=names[1]), task('image_remove', name=names[1])).results
    assert check_x['deleted'] == apply_x['deleted'] == [image_ids[0]], 'the other image still holds the layer'
    assert check_y['deleted'] == apply_y['deleted'] == with_layers(engine, (image_ids[1], shared_layer))


BAD_INPUT = [
    (dict(name='Team/App'), "invalid image reference 'Team/App': repository name must be lowercase"),
    (dict(name=['busybox', 'repo::tag']),
     "name[1]: invalid image reference 'repo::tag': only one ':' may separate the repository from its tag"),
    (dict(name='app', tag='bad tag'), "invalid image reference 'app:bad tag': it contains white space"),
    (dict(name=[]), 'name must hold at least one image'),
    (dict(), 'missing required arguments: name'),
    (dict(name='busybox', docker_host='unix:///nonexistent/docker.sock'),
     'Cannot connect to the Docker daemon at unix:///nonexistent/docker.sock: No such file or directory'),
]


def test_bad_input_and_an_unreachable_daemon_fail_with_a_clear_message(ansible):
    results = ansible.run(*[task('image_remove', **args) for args, _message in BAD_INPUT]).results
    assert [(result.get('failed'), result['msg']) for result in results] == [(True, message) for _args, message in BAD_INPUT]
