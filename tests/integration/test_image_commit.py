"""image_commit against the real engine: docker commit [-a AUTHOR] [-m MESSAGE] [-c CHANGE] CONTAINER REPO:TAG."""

from __future__ import annotations

import json

from conftest import task

CHANGES = [
    'ENV MODE=production GREETING="hello world"',
    'LABEL org.example.team=ops',
    'EXPOSE 8080 53/udp',
    'VOLUME ["/data"]',
    'WORKDIR /srv',
    'WORKDIR app',
    'USER nobody',
    'ENTRYPOINT ["/bin/sh", "-c"]',
    'CMD echo ready',
    'ONBUILD RUN echo built',
]


def container(engine, unique, *command, start=True):
    """A container of a fresh busybox image that wrote a file, stopped; returns its ID."""
    image = engine.make_image('commit/%s-base:1' % unique, 'commit-%s' % unique)
    container_id = engine.cli('create', '--network', 'none', '--name', 'commit-%s' % unique, image,
                              *(command or ('sh', '-c', 'echo %s > /committed' % unique))).strip()
    if start:
        engine.cli('start', '-a', container_id)
    return container_id


def test_commit_check_apply_and_idempotence(ansible, engine, unique):
    container_id = container(engine, unique)
    repository = 'commit/%s' % unique
    reference = repository + ':1.0'
    args = dict(container='commit-%s' % unique, repository=repository, tag='1.0', author='Ops <ops@example.com>',
                comment='snapshot %s' % unique, changes=CHANGES)

    check, apply, check_again, apply_again = ansible.sequence('image_commit', **args)

    assert check['changed'] is True
    assert check['image'] == {}
    assert check['actions'] == ['Would commit container commit-%s as %s' % (unique, reference)]
    assert check['diff'] == {'before': {reference: {'exists': False}},
                             'after': {reference: {'exists': True, 'id': None, 'tags': [reference], 'digests': []}}}

    assert apply['changed'] is True
    image_id = engine.image_id(reference)
    assert apply['image']['Id'] == image_id
    assert apply['actions'] == ['Committed container commit-%s as %s' % (unique, reference)]
    # The containerd store names a local image by its manifest digest in each repository that tags it.
    digests = ['%s@%s' % (repository, image_id)] if engine.containerd else []
    assert apply['diff']['after'] == {reference: {'exists': True, 'id': image_id, 'tags': [reference],
                                                  'digests': digests}}

    for again in (check_again, apply_again):
        assert again['changed'] is False
        assert again['actions'] == []
        assert again['image']['Id'] == image_id
    assert engine.image_id(reference) == image_id

    inspect = json.loads(engine.cli('image', 'inspect', reference))[0]
    assert inspect['Author'] == 'Ops <ops@example.com>'
    assert inspect['Comment'] == 'snapshot %s' % unique
    history = engine.cli('history', '--no-trunc', '--format', '{{.Comment}}|{{.CreatedBy}}', reference).splitlines()
    assert history[0] == 'snapshot %s|sh -c echo %s > /committed' % (unique, unique)
    config = inspect['Config']
    assert {'MODE=production', 'GREETING=hello world'} <= set(config['Env'])
    assert config['Labels'] == {'org.example.team': 'ops', 'dockyard.docker.commit.container': container_id}
    assert sorted(config['ExposedPorts']) == ['53/udp', '8080/tcp']
    assert list(config['Volumes']) == ['/data']
    assert config['WorkingDir'] == '/srv/app'
    assert config['User'] == 'nobody'
    assert config['Entrypoint'] == ['/bin/sh', '-c']
    assert config['Cmd'] == ['/bin/sh', '-c', 'echo ready']
    assert config['OnBuild'] == ['RUN echo built']
    assert engine.run_output('--user', '0', '--entrypoint', '/bin/busybox', reference, 'cat', '/committed').strip() == unique
    assert container_id


def test_what_makes_a_commit_new(ansible, engine, unique):
    container(engine, unique)
    other = engine.cli('create', '--network', 'none', 'commit/%s-base:1' % unique).strip()
    reference = 'commit/%s:latest' % unique

    def commit(check=False, **options):
        args = dict(container='commit-%s' % unique, repository='commit/%s' % unique, comment='one',
                    changes=['ENV A=1'])
        args.update(options)
        return task('image_commit', check=check, **args)

    later = dict(comment='two', author='someone', changes=[])
    runs = ansible.run(
        commit(),
        commit(),
        commit(comment='two'),
        commit(comment='two', author='someone'),
        commit(comment='two', author='someone', changes=['ENV A=2']),
        commit(**later),
        commit(**later),
        commit(check=True, force=True, **later),
        commit(force=True, **later),
        commit(container=other, **later),
    ).results
    assert [run['changed'] for run in runs] == [True, False, True, True, True, True, False, True, True, True]
    ids = [run['image']['Id'] for run in runs if run['image']]
    assert len(set(ids)) == 7, 'every commit made a new image; the ok runs and check mode made none'
    assert runs[4]['image']['Config']['Env'] == ['A=2']
    assert runs[5]['image']['Config']['Env'] in (None, [])
    assert runs[7]['image'] == {} and runs[7]['diff']['before'][reference]['id'] == runs[6]['image']['Id']
    assert runs[9]['diff']['before'][reference]['id'] == runs[8]['image']['Id']
    assert engine.image_id(reference) == runs[9]['image']['Id']


def test_a_running_container_is_paused_for_the_commit(ansible, engine, unique):
    container(engine, unique, 'sh', '-c', 'echo %s > /committed; sleep 60' % unique, start=False)
    engine.cli('start', 'commit-%s' % unique)
    try:
        paused, unpaused = ansible.run(
            task('image_commit', container='commit-%s' % unique, repository='commit/%s' % unique, tag='paused'),
            task('image_commit', container='commit-%s' % unique, repository='commit/%s' % unique, tag='live',
                 pause=False)).results
        assert paused['changed'] is unpaused['changed'] is True
        assert engine.api.inspect_container('commit-%s' % unique)['State']['Running'] is True
    finally:
        engine.cli('rm', '-f', 'commit-%s' % unique)


BAD_INPUT = [
    (dict(container='commit-missing-{u}'),
     'failed to commit container commit-missing-{u} as commit/{u}:latest: no such container'),
    (dict(changes=['ENV A=1', 'RUN echo no']),
     'changes[1]: RUN is not an instruction a commit accepts; use one of CMD, ENTRYPOINT, ENV, EXPOSE, LABEL, '
     'ONBUILD, USER, VOLUME, WORKDIR'),
    (dict(changes=['ENV A']), 'changes[0]: ENV needs KEY=VALUE pairs or KEY VALUE'),
    (dict(changes=['LABEL a=1 b']), "changes[0]: 'b' is not of the form KEY=VALUE"),
    (dict(changes=['CMD']), 'changes[0]: CMD needs an argument'),
    (dict(changes=['EXPOSE 80 http']),
     "changes[0]: 'http' is not a port, a port range or either with /tcp, /udp or /sctp"),
    (dict(changes=['USER root', '  ']), 'changes[1] is empty: give it a value'),
    (dict(changes=['ONBUILD FROM busybox']), 'changes[0]: ONBUILD cannot trigger FROM'),
    (dict(repository='commit/Upper-{u}'),
     "invalid image reference 'commit/Upper-{u}': repository name must be lowercase"),
    (dict(repository='commit/{u}:1'), "repository 'commit/{u}:1' holds a tag; give the tag in the tag option"),
    (dict(tag='-bad'), "invalid image reference 'commit/{u}': tag '-bad' may hold only up to 128 letters, digits, "
                       "'_', '.' and '-', and must not start with '.' or '-'"),
]


def test_bad_input_fails_and_creates_nothing(ansible, engine, unique):
    container(engine, unique)
    images_before = sorted(image['Id'] for image in engine.api.images(all=True))
    cases = []
    for args, message in BAD_INPUT:
        args = dict(dict(container='commit-{u}', repository='commit/{u}'), **args)
        cases.append(({key: value.format(u=unique) if isinstance(value, str) else value
                       for key, value in args.items()}, message.format(u=unique)))
    # Every case in a real run; the first two in check mode too (check mode takes the same path).
    tasks = [task('image_commit', **args) for args, _message in cases]
    tasks += [task('image_commit', check=True, **args) for args, _message in cases[:2]]
    results = ansible.run(*tasks).results
    for result, (_args, message) in zip(results, cases + cases[:2]):
        assert result['failed'] is True
        assert result['msg'] == message
    assert sorted(image['Id'] for image in engine.api.images(all=True)) == images_before
