"""image_archive against the real engine: docker save -o FILE IMAGE..."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import socket
import subprocess
import tarfile
import threading

import pytest

from conftest import task


def archive_member(path, name):
    opener = gzip.open if open(path, 'rb').read(2) == b'\x1f\x8b' else open
    with opener(path, 'rb') as handle, tarfile.open(fileobj=handle, mode='r|') as tar:
        for member in tar:
            if member.name == name:
                return json.load(tar.extractfile(member))
    return None


def familiar(name):
    """``docker.io/library/busybox:1`` as RepoTags shows it: ``busybox:1``."""
    if name.startswith('docker.io/'):
        name = name[len('docker.io/'):]
        if name.startswith('library/') and name.count('/') == 1:
            name = name[len('library/'):]
    return name


def containerd_store(engine):
    """Whether the engine keeps images in containerd (docker info shows its snapshotter driver type)."""
    return ['driver-type', 'io.containerd.snapshotter.v1'] in (engine.api.info().get('DriverStatus') or [])


def writes_oci_layout(engine):
    """``docker save`` writes the OCI layout from Docker 25 (API 1.44) on, with either store."""
    return tuple(int(part) for part in engine.api.api_version.split('.')) >= (1, 44)


def archived(path, engine):
    """``{image ID: sorted tags}`` of the file, the IDs as the engine names images.

    The containerd store names an image by its manifest digest, as the OCI layout's
    index.json does; the classic store by its config digest, as manifest.json does.
    """
    index = archive_member(path, 'index.json')
    oci = writes_oci_layout(engine)
    assert (index is not None) == oci, 'docker save of API %s writes the %s layout' % (
        engine.api.api_version, 'OCI' if oci else 'classic')
    if containerd_store(engine):
        images = {}
        for entry in index['manifests']:
            name = (entry.get('annotations') or {}).get('io.containerd.image.name')
            images.setdefault(entry['digest'], set()).update([familiar(name)] if name else [])
        return {image_id: sorted(tags) for image_id, tags in images.items()}
    return {'sha256:' + entry['Config'].split('/')[-1].replace('.json', ''): sorted(entry['RepoTags'] or [])
            for entry in archive_member(path, 'manifest.json')}


def sha256(path):
    return hashlib.sha256(open(path, 'rb').read()).hexdigest()


def tiny_image(engine, reference, marker):
    """An image of one small file: a few KiB of archive, for the filesystem-size tests."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode='w') as tar:
        content = marker.encode()
        info = tarfile.TarInfo('marker')
        info.size = len(content)
        tar.addfile(info, io.BytesIO(content))
    repository, tag = reference.rsplit(':', 1)
    engine.api.import_image_from_data(buffer.getvalue(), repository=repository, tag=tag)
    return engine.image_id(reference)


@pytest.fixture
def small_fs(tmp_path):
    """A real 1 MiB tmpfs, so that writing a bigger archive into it runs out of space."""
    mount = tmp_path / 'small'
    mount.mkdir()
    subprocess.run(['mount', '-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', str(mount)], check=True)
    try:
        yield mount
    finally:
        subprocess.run(['umount', str(mount)], check=True)


class CuttingProxy:
    """A unix socket in front of the real daemon that cuts the answer to ``GET /images/get`` after ``limit`` bytes.

    The daemon cannot be made to die mid-stream without disturbing every other test that
    shares it, so this fault is injected between the module and the real daemon: all
    requests and answers pass through unchanged until the save stream is cut off.
    """

    def __init__(self, target, path, limit):
        self.target, self.path, self.limit = target, path, limit
        self.server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.server.bind(path)
        self.server.listen(8)
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                client, _address = self.server.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _serve(self, client):
        upstream = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        upstream.connect(self.target)
        saving = threading.Event()

        def requests():
            try:
                for data in iter(lambda: client.recv(65536), b''):
                    if b'/images/get' in data:
                        saving.set()
                    upstream.sendall(data)
            except OSError:
                pass

        threading.Thread(target=requests, daemon=True).start()
        sent = 0
        try:
            for data in iter(lambda: upstream.recv(65536), b''):
                if saving.is_set() and sent + len(data) > self.limit:
                    client.sendall(data[:self.limit - sent])
                    break
                client.sendall(data)
                sent += len(data) if saving.is_set() else 0
        except OSError:
            pass
        for end in (client, upstream):
            try:
                end.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            end.close()

    def close(self):
        self.server.close()


def test_archive_check_apply_and_idempotence(ansible, engine, unique, tmp_path):
    first, second = 'archive/%s-a:1.0' % unique, 'archive/%s-b:2.0' % unique
    ids = {engine.make_image(first): [first], engine.make_image(second): [second]}
    path = str(tmp_path / 'two.tar')
    wanted = sorted(({'id': image_id, 'tags': tags} for image_id, tags in ids.items()), key=lambda item: item['id'])

    check, apply, check_again, apply_again = ansible.sequence('image_archive', names=[first, second], path=path)
    assert check['changed'] is True
    assert check['archived'] == wanted
    assert [image['Id'] for image in check['images']] == list(ids)
    assert check['diff'] == {'before': {path: {'exists': False}},
                             'after': {path: {'exists': True, 'compression': 'none', 'images': wanted}}}
    assert check['actions'] == ['Archived %s, %s into %s' % (first, second, path)]
    assert 'sha256' not in check
    assert apply['changed'] is True
    assert apply['actions'] == ['Archived %s, %s into %s' % (first, second, path)]
    assert apply['archived'] == wanted
    # community.docker.docker_image_export's images: the inspect data of each name, in order.
    assert apply['images'] == [engine.api.inspect_image(name) for name in (first, second)]
    assert apply['path'] == path
    assert apply['size'] == os.path.getsize(path)
    assert apply['sha256'] == sha256(path)
    assert archived(path, engine) == ids
    assert os.listdir(str(tmp_path)) == ['two.tar'], 'no temporary file is left'
    assert os.stat(path).st_mode & 0o777 == 0o600, 'a new archive is its owner\'s only, as docker save -o makes it'
    assert check_again['changed'] is False
    assert apply_again['changed'] is False
    assert apply_again['actions'] == []
    assert apply_again['sha256'] == apply['sha256']
    assert apply_again['diff']['before'] == apply_again['diff']['after']


def test_transfer_figures_of_an_archive(ansible, engine, unique, tmp_path):
    base, child = 'archive/%s-base:1' % unique, 'archive/%s-child:1' % unique
    engine.make_image(base)
    engine.make_child(child, base)
    path = str(tmp_path / 'two.tar')

    check, apply, apply_again = ansible.run(task('image_archive', check=True, names=[base, child], path=path),
                                            task('image_archive', names=[base, child], path=path),
                                            task('image_archive', names=[base, child], path=path)).results
    assert check['transfer'] == {'bytes': 0, 'layers': 0, 'layers_present': 0, 'seconds': 0.0}
    # The child's first layer is the base's: two layers, each written once.
    assert {key: apply['transfer'][key] for key in ('bytes', 'layers', 'layers_present')} == {
        'bytes': os.path.getsize(path), 'layers': 2, 'layers_present': 0}
    assert apply['transfer']['bytes'] == apply['size']
    assert apply['transfer']['seconds'] > 0
    assert apply_again['changed'] is False
    assert apply_again['transfer'] == {'bytes': 0, 'layers': 0, 'layers_present': 2, 'seconds': 0.0}


def test_an_archive_of_two_images_loads_back_with_both_tags(ansible, engine, unique, tmp_path):
    first, second = 'archive/%s-a:1.0' % unique, 'archive/%s-b:latest' % unique
    first_id, second_id = engine.make_image(first), engine.make_image(second)
    path = str(tmp_path / 'two.tar')

    result = ansible.module('image_archive', names=[first, 'archive/%s-b' % unique], path=path)
    assert result['changed'] is True
    engine.cli('image', 'rm', first, second)
    assert engine.image_id(first) is None and engine.image_id(second) is None

    engine.cli('load', '-i', path)
    assert engine.image_id(first) == first_id
    assert engine.image_id(second) == second_id


def test_archiving_again_leaves_the_file_alone_and_force_writes_it(ansible, engine, unique, tmp_path):
    name = 'archive/%s:1.0' % unique
    engine.make_image(name)
    path = tmp_path / 'one.tar'
    ansible.module('image_archive', names=[name], path=str(path))
    os.utime(str(path), ns=(1_000_000_000, 1_000_000_000))
    content = path.read_bytes()

    again = ansible.module('image_archive', names=[name], path=str(path))
    assert again['changed'] is False
    assert path.stat().st_mtime_ns == 1_000_000_000
    assert path.read_bytes() == content

    check, forced = ansible.run(task('image_archive', check=True, names=[name], path=str(path), force=True),
                                task('image_archive', names=[name], path=str(path), force=True)).results
    assert check['changed'] is True
    assert forced['changed'] is True
    assert forced['actions'] == ['Archived %s into %s' % (name, path)]
    assert path.stat().st_mtime_ns != 1_000_000_000


def test_changing_one_image_rewrites_the_file(ansible, engine, unique, tmp_path):
    first, second = 'archive/%s-a:1.0' % unique, 'archive/%s-b:1.0' % unique
    old_id, second_id = engine.make_image(first, marker='old'), engine.make_image(second)
    path = tmp_path / 'two.tar'
    ansible.module('image_archive', names=[first, second], path=str(path))
    os.utime(str(path), ns=(1_000_000_000, 1_000_000_000))
    new_id = engine.make_image(first, marker='new')

    check, apply, again = ansible.run(task('image_archive', check=True, names=[first, second], path=str(path)),
                                      task('image_archive', names=[first, second], path=str(path)),
                                      task('image_archive', names=[first, second], path=str(path))).results
    assert check['changed'] is True
    assert [item['id'] for item in check['diff']['before'][str(path)]['images']] == sorted([old_id, second_id])
    assert [item['id'] for item in check['diff']['after'][str(path)]['images']] == sorted([new_id, second_id])
    assert apply['changed'] is True
    assert apply['diff'] == check['diff']
    assert path.stat().st_mtime_ns != 1_000_000_000
    assert archived(str(path), engine) == {new_id: [first], second_id: [second]}
    assert again['changed'] is False


def test_a_new_tag_of_the_same_image_rewrites_the_file(ansible, engine, unique, tmp_path):
    name = 'archive/%s:1.0' % unique
    image_id = engine.make_image(name)
    path = str(tmp_path / 'one.tar')
    ansible.module('image_archive', names=[name], path=path)
    engine.api.tag(image_id, 'archive/%s' % unique, 'stable')

    result = ansible.module('image_archive', names=[name, 'archive/%s:stable' % unique], path=path)
    assert result['changed'] is True
    assert archived(path, engine) == {image_id: sorted([name, 'archive/%s:stable' % unique])}


def test_gzip_compression_and_an_image_id(ansible, engine, unique, tmp_path):
    name = 'archive/%s:1.0' % unique
    image_id = engine.make_image(name)
    plain, packed = str(tmp_path / 'one.tar'), str(tmp_path / 'one.tar.gz')
    ansible.module('image_archive', names=[name], path=plain)

    by_id, as_gzip, gzip_again, recompressed = ansible.run(
        task('image_archive', names=[image_id], path=str(tmp_path / 'by-id.tar')),
        task('image_archive', names=[name], path=packed, compression='gzip'),
        task('image_archive', names=[name], path=packed, compression='gzip'),
        task('image_archive', names=[name], path=plain, compression='gzip')).results
    assert by_id['archived'] == [{'id': image_id, 'tags': []}]
    assert [image['Id'] for image in by_id['images']] == [image_id]
    assert archived(str(tmp_path / 'by-id.tar'), engine) == {image_id: []}
    assert as_gzip['changed'] is True
    assert open(packed, 'rb').read(2) == b'\x1f\x8b'
    assert as_gzip['sha256'] == sha256(packed)
    assert gzip_again['changed'] is False
    assert recompressed['changed'] is True, 'a file compressed otherwise than asked is written again'
    assert recompressed['diff']['before'][plain]['compression'] == 'none'
    assert open(plain, 'rb').read(2) == b'\x1f\x8b'

    engine.cli('image', 'rm', name)
    engine.cli('load', '-i', packed)
    assert engine.image_id(name) == image_id


@pytest.mark.fault('a full filesystem (a 1 MiB tmpfs) under image_archive')
def test_a_full_filesystem_leaves_the_previous_archive_intact(ansible, engine, unique, small_fs):
    small, big = 'archive/%s-small:1.0' % unique, 'archive/%s-big:1.0' % unique
    tiny_image(engine, small, 'small')
    engine.make_image(big)  # busybox inside: about 2 MiB, more than the 1 MiB filesystem holds
    path = small_fs / 'images.tar'
    first = ansible.module('image_archive', names=[small], path=str(path))
    assert first['changed'] is True
    before = path.read_bytes()

    # Without the space check, the write itself runs out of space.
    result = ansible.module('image_archive', names=[small, big], path=str(path), disk_check=False)
    assert result['failed'] is True
    assert result['msg'] == 'failed to write image archive %s: No space left on device' % path
    assert path.read_bytes() == before
    assert os.listdir(str(small_fs)) == ['images.tar'], 'no temporary file is left'
    assert archived(str(path), engine) == {engine.image_id(small): [small]}


def human(size):
    """Bytes as the docker CLI prints them (go-units HumanSize: powers of 1000, three significant digits)."""
    for unit in ('B', 'kB', 'MB', 'GB', 'TB'):
        if size < 1000:
            return '%.3g%s' % (size, unit)
        size /= 1000.0
    return '%.3gPB' % size


@pytest.mark.fault('an archive bigger than the free space of its directory (a 1 MiB tmpfs), with the space check')
def test_the_space_check_refuses_an_archive_that_cannot_fit(ansible, engine, unique, small_fs):
    small, big = 'archive/%s-small:1.0' % unique, 'archive/%s-big:1.0' % unique
    tiny_image(engine, small, 'small')
    engine.make_image(big)
    path = small_fs / 'images.tar'
    assert ansible.module('image_archive', names=[small], path=str(path))['changed'] is True
    before = path.read_bytes()
    needed = sum(engine.api.inspect_image(name)['Size'] for name in (small, big))
    stat = os.statvfs(str(small_fs))
    free = stat.f_bavail * stat.f_frsize

    check, apply = ansible.run(task('image_archive', check=True, names=[small, big], path=str(path)),
                               task('image_archive', names=[small, big], path=str(path))).results
    for result in (check, apply):
        assert result['failed'] is True, 'check mode fails where the real run does'
        assert result['msg'] == (
            'failed to write image archive %s: it needs about %s (%d bytes) and %s has %s (%d bytes) free; nothing '
            'was written (disk_check: false skips this check)' % (path, human(needed), needed, small_fs, human(free), free))
    assert path.read_bytes() == before
    assert os.listdir(str(small_fs)) == ['images.tar']


@pytest.mark.fault('a read-only destination (the tmpfs remounted read-only), in check mode and for real')
def test_a_read_only_directory_fails_before_anything_is_written(ansible, engine, unique, small_fs):
    name = 'archive/%s:1.0' % unique
    tiny_image(engine, name, 'ro')
    subprocess.run(['mount', '-o', 'remount,ro', str(small_fs)], check=True)

    check, apply = ansible.run(task('image_archive', check=True, names=[name], path=str(small_fs / 'images.tar')),
                               task('image_archive', names=[name], path=str(small_fs / 'images.tar'))).results
    for result in (check, apply):
        assert result['failed'] is True, 'check mode fails where the real run does'
        assert result['msg'] == ('failed to write image archive %s/images.tar: cannot create a file in %s: '
                                 'Read-only file system' % (small_fs, small_fs))
    assert os.listdir(str(small_fs)) == []


@pytest.mark.fault('missing images, bad names, a missing directory, a directory as path, a platform the API lacks')
def test_failures(ansible, engine, unique, tmp_path):
    name = 'archive/%s:1.0' % unique
    engine.make_image(name)
    missing = 'archive/%s-missing:1.0' % unique

    absent, bad_name, no_dir_check, no_dir, directory, platform = ansible.run(
        task('image_archive', names=[name, missing], path=str(tmp_path / 'x.tar')),
        task('image_archive', names=['archive/%s:-bad' % unique], path=str(tmp_path / 'x.tar')),
        task('image_archive', check=True, names=[name], path=str(tmp_path / 'nowhere' / 'x.tar')),
        task('image_archive', names=[name], path=str(tmp_path / 'nowhere' / 'x.tar')),
        task('image_archive', names=[name], path=str(tmp_path)),
        task('image_archive', names=[name], path=str(tmp_path / 'x.tar'), platform='linux/amd64')).results
    assert absent['failed'] is True
    assert absent['msg'] == 'names[1]: no image %s on the host to archive' % missing
    assert bad_name['msg'] == ("invalid image reference 'archive/%s:-bad': tag '-bad' may hold only up to 128 letters, "
                               "digits, '_', '.' and '-', and must not start with '.' or '-'" % unique)
    for result in (no_dir_check, no_dir):
        assert result['msg'] == ('failed to write image archive %s/nowhere/x.tar: cannot create a file in %s/nowhere: '
                                 'No such file or directory' % (tmp_path, tmp_path))
    assert directory['msg'] == 'failed to write image archive %s: it is a directory; give the file to write' % tmp_path
    version = engine.api.api_version
    if tuple(int(part) for part in version.split('.')) < (1, 48):
        assert platform['msg'] == ('platform needs Docker API 1.48 or later, but the daemon at %s speaks %s'
                                   % (engine.host, version))
        assert os.listdir(str(tmp_path)) == [], 'no file was written'
    else:
        assert platform['changed'] is True
        assert archived(str(tmp_path / 'x.tar'), engine) == {engine.image_id(name): [name]}
        assert os.listdir(str(tmp_path)) == ['x.tar'], 'only the archive of the one task that could write was written'


@pytest.mark.fault('the daemon connection cut mid-save (a proxy that closes it after 512 KiB)')
def test_a_daemon_gone_mid_stream_leaves_the_previous_archive_intact(ansible, engine, unique, tmp_path):
    assert engine.host.startswith('unix://'), 'scripts/engine serves the daemon on a unix socket'
    name = 'archive/%s:1.0' % unique
    engine.make_image(name, marker='first')
    directory = tmp_path / 'out'
    directory.mkdir()
    path = directory / 'one.tar'
    ansible.module('image_archive', names=[name], path=str(path))
    before = path.read_bytes()
    engine.make_image(name, marker='second')
    proxy = CuttingProxy(engine.host[len('unix://'):], str(tmp_path / 'cut.sock'), limit=512 * 1024)
    try:
        result = ansible.module('image_archive', names=[name], path=str(path), docker_host='unix://' + proxy.path)
    finally:
        proxy.close()
    assert result['failed'] is True
    assert result['msg'] == ('failed to save %s: the connection to the Docker daemon at unix://%s broke off mid-stream'
                             % (name, proxy.path))
    assert path.read_bytes() == before
    assert os.listdir(str(directory)) == ['one.tar'], 'no temporary file is left'
