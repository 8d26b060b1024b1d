"""Reading image archives and writing them atomically, on archives built here in both docker save layouts."""

from __future__ import annotations

import bz2
import gzip
import hashlib
import io
import json
import lzma
import os
import tarfile

import pytest

from ansible_collections.dockyard.docker.plugins.module_utils._archive import (
    archive_names,
    detect_compression,
    file_digest,
    plan_load,
    read_archive,
    write_atomically,
)
from ansible_collections.dockyard.docker.plugins.module_utils._errors import DockerError


def layer_tar(marker):
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode='w') as tar:
        content = (marker * 3000).encode()
        info = tarfile.TarInfo('data')
        info.size = len(content)
        tar.addfile(info, io.BytesIO(content))
    return buffer.getvalue()


def sha(data):
    return hashlib.sha256(data).hexdigest()


class Builder:
    """An image archive in memory, laid out as ``docker save`` writes it."""

    def __init__(self, oci=False):
        self.oci = oci
        self.members = []  # (name, bytes or None for a symlink, link target)
        self.manifest = []
        self.repositories = {}

    def add_file(self, name, data):
        self.members.append((name, data, None))

    def add_image(self, marker, tags, layers=1):
        blobs = [layer_tar('%s-%d' % (marker, number)) for number in range(layers)]
        config = json.dumps({'rootfs': {'type': 'layers', 'diff_ids': ['sha256:' + sha(blob) for blob in blobs]},
                             'config': {'Labels': {'marker': marker}}}).encode()
        names = []
        for blob in blobs:
            if self.oci:
                name = 'blobs/sha256/' + sha(blob)
                self.add_file(name, blob)
                legacy = sha(blob + b'v1') + '/layer.tar'
                self.members.append((legacy, None, '../' + name))
            else:
                name = sha(blob + b'v1') + '/layer.tar'
                self.add_file(name, blob)
            names.append(name)
        config_name = ('blobs/sha256/%s' if self.oci else '%s.json') % sha(config)
        self.add_file(config_name, config)
        self.manifest.append({'Config': config_name, 'RepoTags': list(tags) or None, 'Layers': names})
        for tag in tags:
            repository, label = tag.rsplit(':', 1)
            self.repositories.setdefault(repository, {})[label] = names[-1].split('/')[0]
        return 'sha256:' + sha(config)

    def tar(self, manifest=True):
        buffer = io.BytesIO()
        with tarfile.open(fileobj=buffer, mode='w') as tar:
            members = list(self.members)
            if manifest:
                members.append(('manifest.json', json.dumps(self.manifest).encode(), None))
                members.append(('repositories', json.dumps(self.repositories).encode(), None))
            for name, data, target in members:
                info = tarfile.TarInfo(name)
                if target is not None:
                    info.type, info.linkname = tarfile.SYMTYPE, target
                    tar.addfile(info)
                else:
                    info.size = len(data)
                    tar.addfile(info, io.BytesIO(data))
        return buffer.getvalue()

    def write(self, path, compress=None, **kwargs):
        data = self.tar(**kwargs)
        if compress:
            data = compress(data)
        path.write_bytes(data)
        return str(path)


@pytest.fixture(params=['legacy', 'oci'])
def builder(request):
    return Builder(oci=request.param == 'oci')


@pytest.mark.parametrize('compress, name', [(None, 'none'), (gzip.compress, 'gzip'), (bz2.compress, 'bzip2'),
                                            (lzma.compress, 'xz')])
def test_reads_images_and_tags_from_every_compression(builder, tmp_path, compress, name):
    first = builder.add_image('a', ['app:1', 'app:latest'], layers=2)
    second = builder.add_image('b', [])
    path = builder.write(tmp_path / 'images.tar', compress)

    for verify in (False, True):
        archive = read_archive(path, verify=verify)
        assert archive.compression == name
        assert archive.state() == sorted([{'id': first, 'tags': ['app:1', 'app:latest']}, {'id': second, 'tags': []}],
                                         key=lambda item: item['id'])
    assert detect_compression(path) == name


def test_repositories_adds_tags_manifest_lacks(tmp_path):
    builder = Builder()
    image_id = builder.add_image('a', ['app:1'])
    builder.repositories['app']['old'] = builder.repositories['app']['1']
    archive = read_archive(builder.write(tmp_path / 'images.tar'))
    assert archive.state() == [{'id': image_id, 'tags': ['app:1', 'app:old']}]


def test_a_missing_file(tmp_path):
    with pytest.raises(DockerError) as error:
        read_archive(str(tmp_path / 'nope.tar'))
    assert str(error.value) == 'failed to read image archive %s: No such file or directory' % (tmp_path / 'nope.tar')


@pytest.mark.parametrize('content, reason', [(b'', 'empty file'), (b'hello\n' * 200, 'invalid header')])
def test_a_file_that_is_not_a_tar(tmp_path, content, reason):
    path = tmp_path / 'x.tar'
    path.write_bytes(content)
    with pytest.raises(DockerError) as error:
        read_archive(str(path))
    assert str(error.value) == '%s is not an image archive: it is not a tar file (%s)' % (path, reason)


def test_a_tar_without_manifest(builder, tmp_path):
    builder.add_image('a', ['app:1'])
    path = builder.write(tmp_path / 'images.tar', manifest=False)
    with pytest.raises(DockerError) as error:
        read_archive(path)
    assert str(error.value) == '%s is not an image archive: it has no manifest.json' % path


@pytest.mark.parametrize('compress', [None, gzip.compress, lzma.compress])
@pytest.mark.parametrize('fraction', [0.3, 0.6, 0.8])
def test_a_truncated_archive(builder, tmp_path, compress, fraction):
    builder.add_image('a', ['app:1'], layers=3)
    data = builder.tar()
    if compress:
        data = compress(data)
    path = tmp_path / 'images.tar'
    path.write_bytes(data[:int(len(data) * fraction)])
    with pytest.raises(DockerError) as error:
        read_archive(str(path), verify=True)
    assert str(error.value).startswith('%s is truncated or corrupt: ' % path)


def test_a_missing_layer(tmp_path):
    builder = Builder()
    image_id = builder.add_image('a', ['app:1'])
    layer = builder.manifest[0]['Layers'][0]
    builder.members = [member for member in builder.members if member[0] != layer]
    path = builder.write(tmp_path / 'images.tar')
    with pytest.raises(DockerError) as error:
        read_archive(path)
    assert str(error.value) == '%s is incomplete: layer %s of image %s is missing' % (path, layer, image_id)


def test_a_missing_config(builder, tmp_path):
    builder.add_image('a', ['app:1'])
    config = builder.manifest[0]['Config']
    builder.members = [member for member in builder.members if member[0] != config]
    path = builder.write(tmp_path / 'images.tar')
    with pytest.raises(DockerError) as error:
        read_archive(path)
    assert str(error.value) == '%s is incomplete: the config %s of manifest.json entry 0 is missing' % (path, config)


def test_a_changed_layer_is_caught_when_verifying(builder, tmp_path):
    image_id = builder.add_image('a', ['app:1'])
    layer = builder.manifest[0]['Layers'][0]
    blob = layer_tar('a-0')
    index = next(number for number, member in enumerate(builder.members) if member[1] == blob)
    name = builder.members[index][0]
    builder.members[index] = (name, blob[:-600] + b'X' + blob[-599:], None)
    path = builder.write(tmp_path / 'images.tar')

    assert read_archive(path).state() == [{'id': image_id, 'tags': ['app:1']}], 'without verify only the manifest counts'
    with pytest.raises(DockerError) as error:
        read_archive(path, verify=True)
    assert str(error.value).startswith('%s is corrupt: layer %s of image %s does not match its digest sha256:'
                                       % (path, layer, image_id))


def test_a_config_that_does_not_match_its_name(tmp_path):
    builder = Builder()
    builder.add_image('a', ['app:1'])
    config = builder.manifest[0]['Config']
    builder.members = [(name, data.replace(b'"a"', b'"z"') if name == config else data, target)
                       for name, data, target in builder.members]
    path = builder.write(tmp_path / 'images.tar')
    with pytest.raises(DockerError) as error:
        read_archive(path)
    assert str(error.value) == '%s is corrupt: the config %s does not match its digest' % (path, config)


def test_an_image_listed_twice_is_one_image(tmp_path):
    builder = Builder()
    image_id = builder.add_image('a', ['app:1'])
    builder.manifest.append(dict(builder.manifest[0], RepoTags=['app:2']))
    assert read_archive(builder.write(tmp_path / 'images.tar')).state() == [{'id': image_id, 'tags': ['app:1', 'app:2']}]


def chunks(*parts, fail=None):
    yield from parts
    if fail:
        raise fail


@pytest.mark.parametrize('compression', ['none', 'gzip'])
def test_write_atomically_replaces_the_file(tmp_path, compression):
    path = tmp_path / 'out.tar'
    path.write_bytes(b'old')
    os.chmod(str(path), 0o640)

    size, digest = write_atomically(str(path), chunks(b'abc', b'def'), compression)
    data = path.read_bytes()
    assert (gzip.decompress(data) if compression == 'gzip' else data) == b'abcdef'
    assert (size, digest) == (len(data), sha(data)) == file_digest(str(path))
    assert os.stat(str(path)).st_mode & 0o777 == 0o640, 'the previous file mode is kept'
    assert os.listdir(str(tmp_path)) == ['out.tar']


def test_a_failing_stream_leaves_the_previous_file_and_no_temporary_file(tmp_path):
    path = tmp_path / 'out.tar'
    path.write_bytes(b'previous archive')

    with pytest.raises(DockerError) as error:
        write_atomically(str(path), chunks(b'abc', fail=DockerError('failed to save app:1: connection reset')))
    assert str(error.value) == 'failed to save app:1: connection reset'
    assert path.read_bytes() == b'previous archive'
    assert os.listdir(str(tmp_path)) == ['out.tar']


def test_a_rejected_result_leaves_the_previous_file(tmp_path):
    path = tmp_path / 'out.tar'
    path.write_bytes(b'previous archive')

    def reject(temp):
        assert os.path.exists(temp)
        raise DockerError('not whole')

    with pytest.raises(DockerError, match='not whole'):
        write_atomically(str(path), chunks(b'abc'), check=reject)
    assert path.read_bytes() == b'previous archive'
    assert os.listdir(str(tmp_path)) == ['out.tar']


def test_a_missing_directory(tmp_path):
    with pytest.raises(DockerError) as error:
        write_atomically(str(tmp_path / 'no' / 'out.tar'), chunks(b'abc'))
    assert str(error.value) == ('failed to write image archive %s/no/out.tar: cannot create a file in %s/no: '
                                'No such file or directory' % (tmp_path, tmp_path))


def test_plan_load():
    contents = [{'id': 'sha256:a', 'tags': ['app:1']}, {'id': 'sha256:b', 'tags': []}]
    present = {'sha256:a': {'Id': 'sha256:a', 'RepoTags': ['app:1', 'app:x'], 'RepoDigests': []},
               'sha256:b': {'Id': 'sha256:b', 'RepoTags': [], 'RepoDigests': []}}
    outcome, missing = plan_load(contents, present)
    assert missing == [] and outcome.changed is False
    assert archive_names(contents) == ['app:1', 'sha256:b']

    outcome, missing = plan_load(contents, {'sha256:a': dict(present['sha256:a'], RepoTags=['app:x'])})
    assert missing == contents
    assert outcome.after['sha256:a']['tags'] == ['app:1', 'app:x']
    assert outcome.before['sha256:b'] == {'exists': False}
    assert outcome.after['sha256:b'] == {'exists': True, 'id': 'sha256:b', 'tags': [], 'digests': []}
