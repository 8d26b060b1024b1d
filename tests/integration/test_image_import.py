"""image_import against the real engine: cat rootfs.tar | docker import - REPOSITORY:TAG."""

from __future__ import annotations

import bz2
import functools
import gzip
import hashlib
import lzma
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

import pytest

from conftest import rootfs_tar, task

INSTRUCTIONS = 'CMD, ENTRYPOINT, ENV, EXPOSE, LABEL, ONBUILD, USER, VOLUME, WORKDIR'


def diff_id_of(data):
    return 'sha256:' + hashlib.sha256(data).hexdigest()


@pytest.fixture
def rootfs(tmp_path, unique):
    """A busybox root file system tar on disk, its bytes, and a repository name no other test uses."""
    data = rootfs_tar('import-%s' % unique)
    path = tmp_path / 'rootfs.tar'
    path.write_bytes(data)
    return path, data, 'import/%s' % unique


@pytest.fixture
def web(tmp_path):
    """A real HTTP server on loopback, serving tmp_path, that the daemon can download from."""
    handler = functools.partial(SimpleHTTPRequestHandler, directory=str(tmp_path))
    handler.log_message = lambda *args: None
    server = ThreadingHTTPServer(('127.0.0.1', 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield 'http://127.0.0.1:%d' % server.server_address[1]
    server.shutdown()
    server.server_close()


def test_import_check_apply_and_idempotence_and_the_image_runs(ansible, engine, rootfs):
    path, data, repository = rootfs
    reference = repository + ':latest'

    check, apply, check_again, apply_again = ansible.sequence('image_import', src=str(path), repository=repository)

    assert check['changed'] is True
    assert check['image'] == {}
    assert check['diff_id'] == diff_id_of(data)
    assert check['actions'] == ['Would import %s as %s' % (path, reference)]
    assert check['diff'] == {'before': {reference: {'exists': False}},
                             'after': {reference: {'exists': True, 'id': None, 'tags': [reference], 'digests': []}}}

    assert apply['changed'] is True
    assert apply['actions'] == ['Imported %s as %s' % (path, reference)]
    image_id = engine.image_id(reference)
    assert apply['image']['Id'] == image_id
    assert apply['image']['RootFS']['Layers'] == [diff_id_of(data)]
    assert apply['image']['Comment'] == 'Imported from -'
    # The containerd image store gives an imported image a digest of its own manifest; the classic store none.
    digests = sorted(engine.api.inspect_image(reference)['RepoDigests'])
    assert apply['diff']['after'] == {reference: {'exists': True, 'id': image_id, 'tags': [reference],
                                                  'digests': digests}}

    assert check_again['changed'] is False
    assert check_again['actions'] == []
    assert apply_again['changed'] is False
    assert apply_again['actions'] == []
    assert apply_again['image']['Id'] == image_id == engine.image_id(reference)
    assert apply_again['diff']['before'] == apply_again['diff']['after']

    assert engine.run_output(reference, '/bin/busybox', 'echo', 'ok') == 'ok\n'


def test_an_image_the_docker_cli_imported_from_the_same_tar_is_ok(ansible, engine, rootfs):
    path, _data, repository = rootfs
    engine.cli('import', str(path), repository + ':cli')
    image_id = engine.image_id(repository + ':cli')

    result = ansible.module('image_import', src=str(path), repository=repository, tag='cli')
    assert result['changed'] is False
    assert result['image']['Id'] == image_id


def test_a_compressed_tar_is_compared_by_its_uncompressed_content(ansible, engine, rootfs):
    path, data, repository = rootfs
    compressed = {}
    for suffix, compress in (('gz', gzip.compress), ('bz2', bz2.compress), ('xz', lzma.compress)):
        compressed[suffix] = path.with_name('rootfs.tar.' + suffix)
        compressed[suffix].write_bytes(compress(data))

    plain, *results = ansible.run(
        task('image_import', src=str(path), repository=repository),
        *[task('image_import', src=str(compressed[suffix]), repository=repository) for suffix in compressed],
        *[task('image_import', src=str(compressed[suffix]), repository=repository, tag=suffix) for suffix in compressed],
        *[task('image_import', src=str(compressed[suffix]), repository=repository, tag=suffix) for suffix in compressed],
    ).results
    same, fresh, fresh_again = results[0:3], results[3:6], results[6:9]
    assert plain['changed'] is True
    assert [result['changed'] for result in same] == [False] * 3, 'the daemon decompresses: same DiffID as the tar'
    assert [result['diff_id'] for result in same] == [diff_id_of(data)] * 3
    assert [result['changed'] for result in fresh] == [True] * 3
    assert [result['image']['RootFS']['Layers'] for result in fresh] == [[diff_id_of(data)]] * 3
    assert [result['changed'] for result in fresh_again] == [False] * 3
    assert engine.run_output(repository + ':xz', '/bin/busybox', 'echo', 'ok') == 'ok\n'


def test_a_different_tar_moves_the_tag(ansible, engine, rootfs, tmp_path, unique):
    path, _data, repository = rootfs
    other = tmp_path / 'other.tar'
    other.write_bytes(rootfs_tar('other-%s' % unique))

    first, check, second = ansible.run(task('image_import', src=str(path), repository=repository),
                                       task('image_import', check=True, src=str(other), repository=repository),
                                       task('image_import', src=str(other), repository=repository)).results
    assert first['changed'] is True
    assert check['changed'] is True
    assert check['diff']['before'][repository + ':latest']['id'] == first['image']['Id']
    assert second['changed'] is True
    assert second['image']['Id'] != first['image']['Id']
    assert second['image']['Id'] == engine.image_id(repository + ':latest')


def test_changes_and_comment_are_applied_and_compared(ansible, engine, rootfs):
    path, _data, repository = rootfs
    changes = ['ENV MODE=production GREETING="hello world"', 'CMD ["/bin/busybox", "sh", "-c", "echo $GREETING"]',
               'WORKDIR /srv', 'EXPOSE 8080/tcp', 'LABEL org.example.role=base', 'USER 1000']
    target = dict(src=str(path), repository=repository, tag='conf')

    check, apply, check_again, apply_again = ansible.sequence('image_import', changes=changes,
                                                              comment='base rootfs', **target)
    assert (check['changed'], apply['changed'], check_again['changed'], apply_again['changed']) == (
        True, True, False, False)
    config = engine.api.inspect_image(repository + ':conf')['Config']
    assert config['Env'] == ['MODE=production', 'GREETING=hello world']
    assert config['Cmd'] == ['/bin/busybox', 'sh', '-c', 'echo $GREETING']
    assert config['WorkingDir'] == '/srv'
    assert config['ExposedPorts'] == {'8080/tcp': {}}
    assert config['User'] == '1000'
    assert config['Labels']['org.example.role'] == 'base'
    assert config['Labels']['dockyard.docker.import.changes'].startswith('sha256:')
    assert apply['image']['Comment'] == 'base rootfs'
    assert engine.run_output(repository + ':conf') == 'hello world\n'

    other_changes, other_comment, no_changes, no_changes_again = ansible.run(
        task('image_import', changes=changes[:-1], comment='base rootfs', **target),
        task('image_import', changes=changes[:-1], comment='rebuilt', **target),
        task('image_import', changes=[], comment='rebuilt', **target),
        task('image_import', changes=[], comment='rebuilt', **target)).results
    assert other_changes['changed'] is True
    assert other_changes['image']['Config']['User'] == ''
    assert other_comment['changed'] is True
    assert other_comment['image']['Comment'] == 'rebuilt'
    assert no_changes['changed'] is True, 'an image with changes is not what a task without them imports'
    assert no_changes['image']['Config']['Labels'] is None
    assert no_changes_again['changed'] is False


def test_a_container_is_flattened_into_a_one_layer_image(ansible, engine, rootfs, unique):
    _path, _data, repository = rootfs
    base = engine.make_image('import/%s-base:1' % unique)
    container = engine.api.create_container(base, command=['/bin/sh', '-c', 'echo flattened > /etc/marker'],
                                            name='import-%s' % unique, network_disabled=True)['Id']
    try:
        engine.api.start(container)
        assert engine.api.wait(container)['StatusCode'] == 0
        src = 'container:import-%s' % unique

        check, apply, check_again, apply_again = ansible.sequence('image_import', src=src, repository=repository,
                                                                  changes=['CMD ["/bin/sh"]'])
        assert check['changed'] is True
        assert check['actions'] == ['Would import %s as %s:latest' % (src, repository)]
        assert apply['changed'] is True
        assert apply['actions'] == ['Imported %s as %s:latest' % (src, repository)]
        assert apply['image']['RootFS']['Layers'] == [apply['diff_id']]
        assert apply['image']['Config']['Cmd'] == ['/bin/sh']
        assert check_again['changed'] is False
        assert apply_again['changed'] is False
        assert apply_again['image']['Id'] == engine.image_id(repository + ':latest')
        assert engine.run_output(repository, '/bin/busybox', 'cat', '/etc/marker') == 'flattened\n'

        engine.cli('start', '-a', container)  # writes /etc/marker again: same content, new mtime
        changed = ansible.module('image_import', src=src, repository=repository, changes=['CMD ["/bin/sh"]'])
        assert changed['changed'] is True, 'the exported file system differs from the imported layer'
    finally:
        engine.api.remove_container(container, force=True)


def test_a_url_is_downloaded_by_the_daemon(ansible, engine, rootfs, web):
    path, data, repository = rootfs
    gzip_path = path.with_name('rootfs.tar.gz')
    gzip_path.write_bytes(gzip.compress(data))
    url = '%s/rootfs.tar.gz' % web

    check, apply, check_again, apply_again = ansible.sequence('image_import', src=url, repository=repository)
    assert check['changed'] is True
    assert check['diff_id'] == diff_id_of(data)
    assert apply['changed'] is True
    assert apply['actions'] == ['Imported %s as %s:latest' % (url, repository)]
    assert apply['image']['Comment'] == 'Imported from %s' % url
    assert apply['image']['RootFS']['Layers'] == [diff_id_of(data)]
    assert check_again['changed'] is False
    assert apply_again['changed'] is False
    assert engine.run_output(repository, '/bin/busybox', 'echo', 'ok') == 'ok\n'

    missing = ansible.module('image_import', src='%s/missing.tar' % web, repository=repository, tag='missing')
    assert missing['failed'] is True
    assert missing['msg'] == ('failed to import %s/missing.tar as %s:missing: cannot download it on the managed '
                              'host: HTTP Error 404: File not found' % (web, repository))
    assert engine.image_id(repository + ':missing') is None


@pytest.mark.fault('sources that are not tars for image_import')
def test_sources_that_are_not_tars_fail_and_create_no_image(ansible, engine, rootfs, tmp_path):
    path, data, repository = rootfs
    text = tmp_path / 'notes.txt'
    text.write_text('not a tar at all\n' * 100)
    truncated = tmp_path / 'truncated.tar'
    truncated.write_bytes(data[:len(data) // 3])
    missing = tmp_path / 'missing.tar'

    results = ansible.run(
        task('image_import', src=str(missing), repository=repository, tag='missing'),
        task('image_import', src=str(text), repository=repository, tag='text'),
        task('image_import', src=str(truncated), repository=repository, tag='truncated'),
        task('image_import', src=str(tmp_path), repository=repository, tag='directory'),
        task('image_import', check=True, src=str(text), repository=repository, tag='text'),
        task('image_import', src='container:import-no-such-container', repository=repository, tag='container'),
    ).results
    assert [result.get('failed') for result in results] == [True] * 6
    assert [result['msg'] for result in results] == [
        'failed to import %s as %s:missing: no such file' % (missing, repository),
        'failed to import %s as %s:text: it is not a tar archive (invalid header)' % (text, repository),
        'failed to import %s as %s:truncated: it is not a tar archive (unexpected end of data)' % (
            truncated, repository),
        'failed to import %s as %s:directory: it is a directory, not a tar archive' % (tmp_path, repository),
        'failed to import %s as %s:text: it is not a tar archive (invalid header)' % (text, repository),
        'failed to import container:import-no-such-container as %s:container: no such container' % repository,
    ]
    for tag in ('missing', 'text', 'truncated', 'directory', 'container'):
        assert engine.image_id('%s:%s' % (repository, tag)) is None
    assert engine.api.images(name=repository) == []


@pytest.mark.fault('a change line the daemon would reject')
def test_a_change_the_daemon_would_reject_fails_before_it_in_both_modes(ansible, engine, rootfs):
    """The changes are checked as image_commit checks them, so check mode fails as the real run would."""
    path, _data, repository = rootfs
    check, apply = ansible.run(*[task('image_import', check=check, src=str(path), repository=repository,
                                      changes=['EXPOSE http']) for check in (True, False)]).results
    for result in (check, apply):
        assert result['failed'] is True
        assert result['msg'] == "changes[0]: 'http' is not a port, a port range or either with /tcp, /udp or /sctp"
    assert engine.image_id(repository + ':latest') is None


BAD_INPUT = [
    (dict(changes=['CMD ["/bin/sh"]', 'FROM scratch']),
     'changes[1]: FROM is not an instruction an import accepts; use one of %s' % INSTRUCTIONS),
    (dict(changes=['RUN apk add curl']),
     'changes[0]: RUN is not an instruction an import accepts; use one of %s' % INSTRUCTIONS),
    (dict(changes=['ENV A=1', '  ']), 'changes[1] is empty: give it a value'),
    (dict(changes=['workdir']), 'changes[0]: WORKDIR needs an argument'),
    (dict(repository='Import/Bad'), "invalid image reference 'Import/Bad': repository name must be lowercase"),
    (dict(repository='import/app:1'), "repository 'import/app:1' holds a tag; give the tag in the tag option"),
    (dict(tag='-bad'), "invalid image reference '{repository}': tag '-bad' may hold only up to 128 letters, digits, "
                       "'_', '.' and '-', and must not start with '.' or '-'"),
    (dict(src='container:'), 'src: container: must be followed by a container name or ID'),
]


@pytest.mark.fault('bad input for image_import')
def test_bad_input_is_rejected_with_a_clear_message(ansible, engine, rootfs):
    path, _data, repository = rootfs
    results = ansible.run(*[task('image_import', **dict(dict(src=str(path), repository=repository), **args))
                            for args, _message in BAD_INPUT]).results
    assert [result.get('failed') for result in results] == [True] * len(BAD_INPUT)
    assert [result['msg'] for result in results] == [message.format(repository=repository)
                                                     for _args, message in BAD_INPUT]
    assert engine.api.images(name=repository) == []


@pytest.mark.fault('an unreachable daemon (a socket that does not exist)')
def test_an_unreachable_daemon_is_named(ansible, rootfs):
    path, _data, repository = rootfs
    result = ansible.module('image_import', src=str(path), repository=repository,
                            docker_host='unix:///nonexistent/docker.sock')
    assert result['failed'] is True
    assert result['msg'] == ('Cannot connect to the Docker daemon at unix:///nonexistent/docker.sock: '
                             'No such file or directory')
