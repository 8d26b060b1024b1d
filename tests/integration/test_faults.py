"""The fault suite's engine faults: the daemon frozen and killed mid-archive and mid-load, hostile rootfs tars.

Every fault is real: the test engine's own dockerd is stopped with SIGSTOP or killed with SIGKILL
(faults.py) at the moment the module is half-way (a partial file beside the destination, the
archive read past its start), and started again afterwards. Each test states what is true
afterwards on disk and in the engine. The registry faults (frozen mid-pull and mid-push in
test_image_pull.py and test_image_push.py; killed mid-pull and mid-push, stopped, busy, in
test_retries.py; two plays at once in test_two_plays.py) are elsewhere, as are the full and
read-only filesystems and broken archives in test_image_archive.py, test_image_load.py and
test_image_import.py.
"""

from __future__ import annotations

import io
import os
import tarfile
import threading

import pytest

from conftest import BUSYBOX, rootfs_tar
from faults import daemon, when  # noqa: F401  # pylint: disable=unused-import

pytestmark = pytest.mark.fault

BIG = 128 * 1024 * 1024  # random, so that no layer compresses and the archive takes a while to stream


def big_image(engine, reference, directory):
    """A busybox image with BIG bytes of random data in one layer; returns its ID."""
    path = os.path.join(str(directory), 'big-rootfs.tar')
    with tarfile.open(path, 'w') as tar:
        tar.add(BUSYBOX, arcname='bin/busybox')
        info = tarfile.TarInfo('data/random')
        info.size = BIG

        class Random:
            @staticmethod
            def read(size):
                return os.urandom(size)

        tar.addfile(info, Random())
    repository, _colon, tag = reference.rpartition(':')
    engine.api.import_image_from_file(path, repository=repository, tag=tag)
    os.unlink(path)
    return engine.image_id(reference)


def partial_file(directory):
    """Whether the module's temporary file (``.NAME.XXXX.part``) stands beside the destination with data in it."""
    def check():
        return any(name.endswith('.part') and os.path.getsize(os.path.join(str(directory), name)) > 0
                   for name in os.listdir(str(directory)))
    return check


@pytest.mark.fault('the daemon stopped (SIGSTOP) and then killed (SIGKILL) while image_archive writes a 128 MiB archive over a previous one')
def test_the_daemon_killed_mid_archive_leaves_the_previous_archive_intact(
        ansible, engine, daemon, unique, tmp_path):  # noqa: F811
    name = 'fault/%s:1.0' % unique
    engine.make_image(name, marker='small')
    directory = tmp_path / 'out'
    directory.mkdir()
    path = directory / 'images.tar'
    assert ansible.module('image_archive', names=[name], path=str(path))['changed'] is True
    before = path.read_bytes()
    big_id = big_image(engine, name, tmp_path)

    def crash():
        daemon.freeze()  # stopped half-way through the stream, then ended as a crash ends it
        daemon.kill()

    strike = when(partial_file(directory), crash)
    result = ansible.module('image_archive', names=[name], path=str(path))
    assert strike.join(), 'the daemon was killed while the archive was being written'
    assert result['failed'] is True
    assert result['msg'] == ('failed to save %s: the connection to the Docker daemon at %s broke off mid-stream'
                             % (name, engine.host))
    assert path.read_bytes() == before, 'the destination keeps its previous content'
    assert os.listdir(str(directory)) == ['images.tar'], 'no temporary file is left beside it'

    daemon.restart()
    assert engine.image_id(name) == big_id, 'the engine still holds the image'
    again = ansible.module('image_archive', names=[name], path=str(path))
    assert again['changed'] is True
    assert os.listdir(str(directory)) == ['images.tar']
    assert path.stat().st_size > BIG


@pytest.mark.fault('the daemon frozen (SIGSTOP) for 4 s while image_archive writes, with timeout 2')
def test_a_daemon_frozen_mid_archive_holds_the_task_until_it_resumes(
        ansible, engine, daemon, unique, tmp_path):  # noqa: F811
    """A save is streamed and not bound by ``timeout`` (see the docs of ``timeout``): the module waits."""
    name = 'fault/%s:1.0' % unique
    big_id = big_image(engine, name, tmp_path)
    directory = tmp_path / 'out'
    directory.mkdir()
    path = directory / 'images.tar'

    def pause():
        daemon.freeze()
        threading.Timer(4.0, daemon.thaw).start()

    strike = when(partial_file(directory), pause)
    result = ansible.module('image_archive', names=[name], path=str(path), timeout=2)
    assert strike.join(), 'the daemon was frozen while the archive was being written'
    assert result['failed'] is False, result.get('msg')
    assert result['changed'] is True
    assert [image['Id'] for image in result['images']] == [big_id]
    assert os.listdir(str(directory)) == ['images.tar']
    engine.api.remove_image(name)
    engine.cli('load', '-i', str(path))
    assert engine.image_id(name) == big_id, 'the archive written after the pause is whole'


@pytest.mark.fault('the daemon stopped and killed while image_load sends it a 128 MiB archive')
def test_the_daemon_killed_mid_load_loads_nothing(ansible, engine, daemon, unique, tmp_path):  # noqa: F811
    name = 'fault/%s:1.0' % unique
    big_id = big_image(engine, name, tmp_path)
    archive = tmp_path / 'big.tar'
    engine.cli('save', '-o', str(archive), name)
    engine.api.remove_image(name)
    assert engine.image_id(name) is None

    def crash():
        daemon.freeze()
        daemon.kill()

    start = daemon.bytes_read()
    # The module reads the archive once itself before it sends it: strike when the daemon has a quarter of it.
    strike = when(lambda: daemon.bytes_read() - start > BIG // 4, crash)
    result = ansible.module('image_load', path=str(archive))
    assert strike.join(), 'the daemon was killed while it read the archive'
    assert result['failed'] is True
    assert result['msg'] == ('failed to load %s: Cannot connect to the Docker daemon at %s: the connection was closed '
                             'before the daemon answered' % (archive, engine.host))
    daemon.restart()
    assert engine.image_id(name) is None, 'the engine holds no image of the interrupted load'

    again = ansible.module('image_load', path=str(archive))
    assert again['changed'] is True, again.get('msg')
    assert engine.image_id(name) == big_id


def hostile_rootfs(*entries):
    """busybox's rootfs (conftest.rootfs_tar) followed by ``entries``: (name, type, link target or content)."""
    base = tarfile.open(fileobj=io.BytesIO(rootfs_tar('hostile')))
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode='w', format=tarfile.GNU_FORMAT) as tar:
        for member in base.getmembers():
            tar.addfile(member, base.extractfile(member) if member.isfile() else None)
        for name, kind, value in entries:
            info = tarfile.TarInfo(name)
            if kind == 'file':
                info.size = len(value)
                tar.addfile(info, io.BytesIO(value))
            else:
                info.type, info.linkname = (tarfile.SYMTYPE if kind == 'symlink' else tarfile.LNKTYPE), value
                tar.addfile(info)
    return buffer.getvalue()


def files_named(marker, roots):
    """Every path under ``roots`` whose name holds ``marker``."""
    found = []
    for root in roots:
        for directory, subdirectories, names in os.walk(root):
            found.extend(os.path.join(directory, name) for name in names + subdirectories if marker in name)
    return found


def image_files(engine, reference, marker):
    """The entries of ``reference``'s file system whose name holds ``marker``: {name: (type, link target)}."""
    container = engine.api.create_container(reference, 'true')
    try:
        data = b''.join(engine.api.export(container['Id']))
    finally:
        engine.api.remove_container(container['Id'])
    return {member.name: (member.type.decode() if isinstance(member.type, bytes) else member.type, member.linkname)
            for member in tarfile.open(fileobj=io.BytesIO(data)).getmembers() if marker in member.name}


def outside_layers(engine, daemon, marker):  # noqa: F811
    """Files named with ``marker`` that stand anywhere but inside an image layer: in the engine's state
    directory outside the layers' roots (``diff/`` of overlay2, ``fs/`` of containerd's snapshots), or at
    the top of ``/``, ``/tmp`` and ``/etc``, where a name like ``../../../../tmp/NAME`` would land."""
    stray = [path for path in files_named(marker, [str(daemon.state)])
             if not any(part in ('diff', 'fs') for part in path.split(os.sep))]
    for directory in ('/', '/tmp', '/etc'):
        stray.extend(os.path.join(directory, name) for name in os.listdir(directory) if marker in name)
    return stray


HOSTILE = {
    'absolute and dot-dot names': [('/abs-{m}', 'file', b'absolute\n'), ('../dotdot-{m}', 'file', b'dotdot\n'),
                                   ('etc/../../nested-{m}', 'file', b'nested\n')],
    'a symlink out and a file through it': [('up-{m}', 'symlink', '../../../../../../tmp'),
                                            ('up-{m}/through-{m}', 'file', b'through\n')],
    'a hard link to a file outside': [('hard-{m}', 'hardlink', '../../../../../../etc/passwd')],
}


def import_twice(ansible, source, repository):
    args = dict(src=str(source), repository=repository, tag='1')
    return ansible.run(*[{'dockyard.docker.image_import': args, 'check_mode': check, 'ignore_errors': True}
                         for check in (True, False, False)]).results


@pytest.mark.parametrize('case', sorted(HOSTILE))
def test_hostile_rootfs_entries_write_nothing_outside(ansible, engine, daemon, unique, tmp_path, case):  # noqa: F811
    """Absolute names, ``..`` and links out of the root: what each daemon makes of them, and nothing lands outside.

    The module only reads the tar (to hash it); the daemon extracts it. Both engines' extraction keeps
    every entry inside the layer's root: ``/abs`` and ``../dotdot`` become ``abs`` and ``dotdot`` at its
    top, and a link is resolved as inside the container. A symlink to ``../../../tmp`` then means the
    image's own ``/tmp``: Docker 20.10 fails writing through it when the tar has no ``tmp``, the
    containerd store creates it. A hard link to ``/etc/passwd`` the tar lacks fails on both; check mode,
    which does not extract, predicts the import.
    """
    marker = 'hostile%s' % unique
    entries = [(name.format(m=marker), kind, value) for name, kind, value in HOSTILE[case]]
    source = tmp_path / 'rootfs.tar'
    source.write_bytes(hostile_rootfs(*entries))
    repository = 'fault/%s' % marker
    reference = '%s:1' % repository
    action = 'failed to import %s as %s: ' % (source, reference)
    check, apply, again = import_twice(ansible, source, repository)
    assert check['changed'] is True, 'check mode reads the tar, it does not extract it'
    assert outside_layers(engine, daemon, marker) == [], 'nothing is written outside an image layer'

    if case == 'absolute and dot-dot names' or (case.startswith('a symlink') and engine.containerd):
        assert apply['changed'] is True, apply.get('msg')
        assert again['changed'] is False, 'a second run is ok'
        inside = {'/abs-{m}': 'abs-{m}', '../dotdot-{m}': 'dotdot-{m}', 'etc/../../nested-{m}': 'nested-{m}',
                  'up-{m}': 'up-{m}', 'up-{m}/through-{m}': 'tmp/through-{m}'}
        assert sorted(image_files(engine, reference, marker)) == sorted(
            inside[name].format(m=marker) for name, _kind, _value in HOSTILE[case])
        return
    for result in (apply, again):
        assert result['failed'] is True, 'the real run fails, and so does the next'
        if not engine.containerd:
            assert result['msg'] == action + 'Error processing tar file(exit status 1): %s: no such file or directory' % (
                'open /up-%s/through-%s' % (marker, marker) if case.startswith('a symlink')
                else 'link /etc/passwd /hard-%s' % marker)
        else:
            assert result['msg'].startswith(action + 'failed to unpack image: ')
            assert result['msg'].endswith('/hard-%s: no such file or directory; the daemon tagged the image it could '
                                          'not unpack as %s, the tag is removed' % (marker, reference))
    assert engine.image_id(reference) is None, 'no tag is left on an image that cannot be unpacked'
