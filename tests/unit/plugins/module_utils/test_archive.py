"""Reading image archives and writing them atomically.

Archives of both ``docker save`` layouts are built here (classic: ``manifest.json``,
``<id>.json``, ``<layer>/layer.tar``; OCI: ``index.json``, ``blobs/sha256/``), and two
real ones are read as recorded: ``docker save tiny/x:1 tiny/y:2`` of one small image,
from Docker 20.10 (classic store) and from Docker 28.5 (containerd store).
"""

from __future__ import annotations

import bz2
import gzip
import hashlib
import io
import json
import lzma
import tarfile
from pathlib import Path

import pytest

from ansible_collections.dockyard.docker.plugins.module_utils._archive import (
    archive_names,
    checked_chunks,
    detect_compression,
    plan_load,
    read_archive,
    reports_manifest_ids,
)
from ansible_collections.dockyard.docker.plugins.module_utils import _archive
from ansible_collections.dockyard.docker.plugins.module_utils._errors import DockerError

FIXTURES = Path(__file__).resolve().parent / 'fixtures'
OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json'
OCI_INDEX = 'application/vnd.oci.image.index.v1+json'


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


def digest(data):
    return 'sha256:' + sha(data)


def as_json(document):
    return json.dumps(document, sort_keys=True).encode()


class Built:
    """An image added to a builder: its config digest, and (OCI) its manifest or index digest."""

    def __init__(self, config, manifest=None):
        self.config = config
        self.manifest = manifest

    @property
    def engine_id(self):
        """The ID the store of the engine that writes this layout reports."""
        return self.manifest or self.config


class Builder:
    """An image archive in memory, in the classic layout Docker 24 and older write."""

    layout = 'classic'

    def __init__(self):
        self.members = []  # (name, bytes, or None for a symlink, link target)
        self.manifest = []
        self.repositories = {}

    def add_file(self, name, data):
        if all(member[0] != name for member in self.members):
            self.members.append((name, data, None))

    def drop(self, name):
        self.members = [member for member in self.members if member[0] != name]

    def replace(self, name, change):
        self.members = [(member, change(data) if member == name else data, target)
                        for member, data, target in self.members]

    def config(self, marker, blobs, architecture='amd64'):
        return as_json({'architecture': architecture, 'os': 'linux', 'config': {'Labels': {'marker': marker}},
                        'rootfs': {'type': 'layers', 'diff_ids': [digest(blob) for blob in blobs]}})

    def add_image(self, marker, tags, layers=1):
        blobs = [layer_tar('%s-%d' % (marker, number)) for number in range(layers)]
        config = self.config(marker, blobs)
        names = []
        for blob in blobs:
            names.append(sha(blob + b'v1') + '/layer.tar')
            self.add_file(names[-1], blob)
        self.add_file('%s.json' % sha(config), config)
        self.list_in_manifest_json('%s.json' % sha(config), tags, names)
        return Built(digest(config))

    def list_in_manifest_json(self, config_name, tags, layers):
        self.manifest.append({'Config': config_name, 'RepoTags': list(tags) or None, 'Layers': layers})
        for tag in tags:
            repository, label = tag.rsplit(':', 1)
            self.repositories.setdefault(repository, {})[label] = layers[-1].split('/')[0]

    def extra_members(self):
        return [('manifest.json', json.dumps(self.manifest).encode(), None),
                ('repositories', json.dumps(self.repositories).encode(), None)]

    def tar(self, manifest=True):
        buffer = io.BytesIO()
        with tarfile.open(fileobj=buffer, mode='w') as tar:
            for name, data, target in self.members + (self.extra_members() if manifest else []):
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
        path.write_bytes(compress(data) if compress else data)
        return str(path)


class OciBuilder(Builder):
    """An image archive in the OCI layout of Docker 25 and later: index.json, blobs, and manifest.json beside.

    Layers are gzip-compressed as the containerd store keeps them (``gzip_layers``), or
    plain tars as the classic store of Docker 25+ writes them. Each tag is an index.json
    entry of its own, named by containerd's annotation, as Docker 28 writes it.
    """

    layout = 'oci'

    def __init__(self, gzip_layers=True, manifest_json=True):
        super().__init__()
        self.gzip_layers = gzip_layers
        self.manifest_json = manifest_json
        self.index = []

    def blob(self, data):
        self.add_file('blobs/sha256/' + sha(data), data)
        return digest(data)

    def platform_manifest(self, marker, layers, architecture='amd64', write=True):
        """``(manifest blob, config blob, layer blobs)`` of one platform, its blobs written unless ``write`` is false."""
        tars = [layer_tar('%s-%s-%d' % (marker, architecture, number)) for number in range(layers)]
        blobs = [gzip.compress(blob, mtime=0) if self.gzip_layers else blob for blob in tars]
        config = self.config(marker, tars, architecture)
        manifest = as_json({'schemaVersion': 2, 'mediaType': OCI_MANIFEST,
                            'config': {'digest': digest(config), 'size': len(config)},
                            'layers': [{'digest': digest(blob), 'size': len(blob)} for blob in blobs]})
        if write:
            for data in blobs + [config, manifest]:
                self.blob(data)
        return manifest, config, blobs

    def add_image(self, marker, tags, layers=1):
        manifest, config, blobs = self.platform_manifest(marker, layers)
        self.list_in_index(digest(manifest), tags)
        if self.manifest_json:
            self.list_in_manifest_json('blobs/sha256/' + sha(config), tags, ['blobs/sha256/' + sha(blob) for blob in blobs])
        return Built(digest(config), digest(manifest))

    def add_index(self, marker, tags, present=('amd64',), absent=('arm64',), attestation=False):
        """A multi-platform image of which the archive holds the ``present`` platforms only."""
        children, configs = [], []
        for architecture in present + absent:
            manifest, config, blobs = self.platform_manifest(marker, 1, architecture, write=architecture in present)
            if architecture in present and self.manifest_json:
                self.list_in_manifest_json('blobs/sha256/' + sha(config), tags, ['blobs/sha256/' + sha(blob) for blob in blobs])
            children.append({'mediaType': OCI_MANIFEST, 'digest': digest(manifest), 'size': len(manifest),
                             'platform': {'architecture': architecture, 'os': 'linux'}})
            configs += [digest(config)] if architecture in present else []
        if attestation:
            statement = self.blob(b'{"_type": "https://in-toto.io/Statement/v0.1"}')
            manifest = as_json({'schemaVersion': 2, 'mediaType': OCI_MANIFEST, 'config': {'digest': statement},
                                'layers': [{'digest': statement}]})
            children.append({'mediaType': OCI_MANIFEST, 'digest': self.blob(manifest),
                             'annotations': {'vnd.docker.reference.type': 'attestation-manifest'}})
        index = self.blob(as_json({'schemaVersion': 2, 'mediaType': OCI_INDEX, 'manifests': children}))
        self.list_in_index(index, tags)
        return configs, index

    def list_in_index(self, manifest, tags):
        annotated = [{'io.containerd.image.name': 'docker.io/' + tag if tag.count('/') == 1 else tag,
                      'org.opencontainers.image.ref.name': tag.rsplit(':', 1)[1]} for tag in tags]
        for names in annotated or [None]:
            entry = {'mediaType': OCI_MANIFEST, 'digest': manifest}
            self.index.append(dict(entry, annotations=names) if names else entry)

    def extra_members(self):
        members = [('index.json', as_json({'schemaVersion': 2, 'manifests': self.index}), None),
                   ('oci-layout', b'{"imageLayoutVersion":"1.0.0"}', None)]
        if self.manifest_json:
            members.append(('manifest.json', json.dumps(self.manifest).encode(), None))
        return members


@pytest.fixture(params=['classic', 'oci-gzip', 'oci-plain'])
def builder(request):
    if request.param == 'classic':
        return Builder()
    return OciBuilder(gzip_layers=request.param == 'oci-gzip')


def by_id(*items):
    return sorted(items, key=lambda item: item['id'])


# --- what an archive holds ------------------------------------------------------------------


@pytest.mark.parametrize('compress, name', [(None, 'none'), (gzip.compress, 'gzip'), (bz2.compress, 'bzip2'),
                                            (lzma.compress, 'xz')])
def test_reads_images_and_tags_from_every_compression(builder, tmp_path, compress, name):
    first = builder.add_image('a', ['app:1', 'app:latest'], layers=2)
    second = builder.add_image('b', [])
    path = builder.write(tmp_path / 'images.tar', compress)

    for verify in (False, True):
        archive = read_archive(path, verify=verify)
        assert archive.compression == name
        assert archive.state() == by_id({'id': first.config, 'tags': ['app:1', 'app:latest']},
                                        {'id': second.config, 'tags': []})
        assert archive.state(manifest_ids=True) == by_id({'id': first.engine_id, 'tags': ['app:1', 'app:latest']},
                                                         {'id': second.engine_id, 'tags': []})
    assert detect_compression(path) == name


def test_an_image_is_found_by_either_id_it_has(builder, tmp_path):
    built = builder.add_image('a', ['app:1'])
    archive = read_archive(builder.write(tmp_path / 'images.tar'))
    image = archive.images[0]
    assert archive.find(built.config) is image
    assert archive.find(built.engine_id) is image
    assert archive.find('sha256:' + '0' * 64) is None
    assert image.ids == ([built.manifest] if built.manifest else []) + [built.config]
    assert image.digest == built.manifest
    assert archive.knows_all([built.engine_id]) and not archive.knows_all(['sha256:' + '0' * 64])
    assert archive.state(known=[built.config], manifest_ids=True) == [{'id': built.config, 'tags': ['app:1']}], \
        'an ID the engine reports wins over the form guessed for its store'


def test_oci_tags_come_from_the_index_annotations_without_manifest_json(tmp_path):
    builder = OciBuilder(manifest_json=False)
    built = builder.add_image('a', ['app:1', '127.0.0.1:5000/team/app:2', 'busybox:latest'])
    builder.index[-1]['annotations']['io.containerd.image.name'] = 'docker.io/library/busybox:latest'
    builder.index.append({'mediaType': OCI_MANIFEST, 'digest': built.manifest,
                          'annotations': {'org.opencontainers.image.ref.name': 'only-a-tag'}})
    archive = read_archive(builder.write(tmp_path / 'images.tar'), verify=True)
    assert archive.state(manifest_ids=True) == [
        {'id': built.manifest, 'tags': ['127.0.0.1:5000/team/app:2', 'app:1', 'busybox:latest']}]


def test_a_multi_platform_index_is_one_image_of_the_platforms_it_holds(tmp_path):
    builder = OciBuilder()
    configs, index = builder.add_index('m', ['multi:1'], present=('amd64',), absent=('arm64', 'riscv64'),
                                       attestation=True)
    archive = read_archive(builder.write(tmp_path / 'images.tar'), verify=True)
    assert [image.ids for image in archive.images] == [[index] + configs]
    assert archive.state(manifest_ids=True) == [{'id': index, 'tags': ['multi:1']}]


def test_an_index_without_any_platform_is_incomplete(tmp_path):
    builder = OciBuilder()
    _configs, index = builder.add_index('m', ['multi:1'], present=(), absent=('amd64',))
    path = builder.write(tmp_path / 'images.tar')
    with pytest.raises(DockerError) as error:
        read_archive(path)
    assert str(error.value) == '%s is incomplete: it holds no platform of image %s' % (path, index)


def test_repositories_adds_tags_manifest_lacks(tmp_path):
    builder = Builder()
    built = builder.add_image('a', ['app:1'])
    builder.repositories['app']['old'] = builder.repositories['app']['1']
    archive = read_archive(builder.write(tmp_path / 'images.tar'))
    assert archive.state() == [{'id': built.config, 'tags': ['app:1', 'app:old']}]


def test_an_image_listed_twice_is_one_image(builder, tmp_path):
    built = builder.add_image('a', ['app:1'])
    builder.manifest.append(dict(builder.manifest[0], RepoTags=['app:2']))
    if builder.layout == 'oci':
        builder.list_in_index(built.manifest, ['app:2'])
    archive = read_archive(builder.write(tmp_path / 'images.tar'))
    assert archive.state(manifest_ids=True) == [{'id': built.engine_id, 'tags': ['app:1', 'app:2']}]


@pytest.mark.parametrize('fixture, layout', [('save-docker-20.10-classic.tar.gz', 'classic'),
                                             ('save-docker-28.5-containerd.tar.gz', 'oci')])
def test_real_docker_save_archives(tmp_path, fixture, layout):
    """``docker save tiny/x:1 tiny/y:2`` as Docker 20.10 and 28.5 wrote it, plain and gzip-compressed."""
    plain = tmp_path / 'save.tar'
    plain.write_bytes(gzip.decompress((FIXTURES / fixture).read_bytes()))
    with tarfile.open(str(plain)) as tar:
        names = tar.getnames()
        manifest = json.load(tar.extractfile('manifest.json'))
    assert ('index.json' in names) == (layout == 'oci')
    config = 'sha256:' + manifest[0]['Config'].split('/')[-1].replace('.json', '')

    for path in (str(plain), str(FIXTURES / fixture)):
        archive = read_archive(path, verify=True)
        image, = archive.images
        assert image.tags == ['tiny/x:1', 'tiny/y:2']
        assert image.configs == [config]
        if layout == 'oci':
            with tarfile.open(str(plain)) as tar:
                index = json.load(tar.extractfile('index.json'))
            assert {entry['digest'] for entry in index['manifests']} == {image.digest}
            assert archive.state(manifest_ids=True) == [{'id': image.digest, 'tags': ['tiny/x:1', 'tiny/y:2']}]
        else:
            assert image.digest is None
            assert archive.state(manifest_ids=True) == [{'id': config, 'tags': ['tiny/x:1', 'tiny/y:2']}]

    data = plain.read_bytes()
    cut = tmp_path / 'cut.tar'
    cut.write_bytes(data[:len(data) // 2])
    with pytest.raises(DockerError, match='is truncated or corrupt: |is incomplete: |has no manifest.json'):
        read_archive(str(cut), verify=True)


# --- what is refused ------------------------------------------------------------------------


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


def test_a_tar_without_manifest_or_index(builder, tmp_path):
    builder.add_image('a', ['app:1'])
    path = builder.write(tmp_path / 'images.tar', manifest=False)
    with pytest.raises(DockerError) as error:
        read_archive(path)
    assert str(error.value) == '%s is not an image archive: it has no manifest.json' % path


def test_an_empty_index(tmp_path):
    builder = OciBuilder(manifest_json=False)
    path = builder.write(tmp_path / 'images.tar')
    with pytest.raises(DockerError) as error:
        read_archive(path)
    assert str(error.value) == '%s is not an image archive: index.json lists no images' % path


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


def test_a_missing_layer(builder, tmp_path):
    built = builder.add_image('a', ['app:1'])
    layer = builder.manifest[0]['Layers'][0]
    builder.drop(layer)
    path = builder.write(tmp_path / 'images.tar')
    with pytest.raises(DockerError) as error:
        read_archive(path)
    assert str(error.value) == '%s is incomplete: layer %s of image %s is missing' % (path, layer, built.engine_id)


def test_a_missing_config(builder, tmp_path):
    built = builder.add_image('a', ['app:1'])
    config = builder.manifest[0]['Config']
    builder.drop(config)
    path = builder.write(tmp_path / 'images.tar')
    with pytest.raises(DockerError) as error:
        read_archive(path)
    if builder.layout == 'classic':
        assert str(error.value) == '%s is incomplete: the config %s of manifest.json entry 0 is missing' % (path, config)
    else:
        assert str(error.value) == '%s is incomplete: the config %s of image %s is missing' % (path, config, built.manifest)


def test_a_missing_manifest_of_an_index_entry(tmp_path):
    builder = OciBuilder()
    built = builder.add_image('a', ['app:1'])
    builder.drop('blobs/sha256/' + built.manifest.split(':')[1])
    path = builder.write(tmp_path / 'images.tar')
    with pytest.raises(DockerError) as error:
        read_archive(path)
    assert str(error.value) == ('%s is incomplete: the manifest blobs/sha256/%s of image %s is missing'
                                % (path, built.manifest.split(':')[1], built.manifest))


def test_a_changed_layer_is_caught_when_verifying(builder, tmp_path):
    built = builder.add_image('a', ['app:1'])
    layer = builder.manifest[0]['Layers'][0]
    builder.replace(layer, lambda blob: blob[:len(blob) // 2] + bytes([blob[len(blob) // 2] ^ 0xFF]) + blob[len(blob) // 2 + 1:])
    path = builder.write(tmp_path / 'images.tar')

    assert read_archive(path).state() == [{'id': built.config, 'tags': ['app:1']}], 'without verify only JSON counts'
    with pytest.raises(DockerError) as error:
        read_archive(path, verify=True)
    message = str(error.value)
    if builder.layout == 'classic':
        assert message.startswith('%s is corrupt: layer %s of image %s does not match its digest sha256:'
                                  % (path, layer, built.config))
    else:
        assert message == ('%s is corrupt: layer %s of image %s does not match its digest sha256:%s'
                           % (path, layer, built.manifest, layer.split('/')[-1]))


def test_a_changed_blob_outside_any_image_is_caught_when_verifying(tmp_path):
    builder = OciBuilder()
    builder.add_image('a', ['app:1'])
    stray = 'blobs/sha256/' + sha(b'stray')
    builder.add_file(stray, b'strays')
    path = builder.write(tmp_path / 'images.tar')
    read_archive(path)
    with pytest.raises(DockerError) as error:
        read_archive(path, verify=True)
    assert str(error.value) == '%s is corrupt: blob %s does not match its digest' % (path, stray)


def _end_of_last_member(path):
    """Where the last member's data ends, rounded to a block: what follows is the end of the tar."""
    with tarfile.open(path) as tar:
        last = tar.getmembers()[-1]
    return last.offset_data + -(-last.size // tarfile.BLOCKSIZE) * tarfile.BLOCKSIZE


def test_a_plain_archive_is_sent_as_it_is_checked(builder, tmp_path, monkeypatch):
    monkeypatch.setattr(_archive, 'CHUNK_SIZE', 1024)
    builder.add_image('a', ['app:1'], layers=2)
    path = builder.write(tmp_path / 'images.tar')
    chunks = list(checked_chunks(path))
    assert b''.join(chunks) == Path(path).read_bytes()
    assert len(chunks) > 2 and max(len(chunk) for chunk in chunks) == 1024


def test_a_corrupt_plain_archive_is_refused_before_the_end_of_its_tar_is_sent(builder, tmp_path, monkeypatch):
    monkeypatch.setattr(_archive, 'CHUNK_SIZE', 1024)
    builder.add_image('a', ['app:1'])
    layer = builder.manifest[0]['Layers'][0]
    builder.replace(layer, lambda blob: blob[:-1] + bytes([blob[-1] ^ 0xFF]))
    path = builder.write(tmp_path / 'images.tar')
    sent = []
    with pytest.raises(DockerError) as error:
        for chunk in checked_chunks(path):
            sent.append(chunk)
    assert str(error.value) == str(pytest.raises(DockerError, read_archive, path, verify=True).value)
    assert len(b''.join(sent)) <= _end_of_last_member(path), 'the daemon never got the end of the tar'


def test_a_config_that_does_not_match_its_name(builder, tmp_path):
    built = builder.add_image('a', ['app:1'])
    config = builder.manifest[0]['Config']
    builder.replace(config, lambda data: data.replace(b'"a"', b'"z"'))
    path = builder.write(tmp_path / 'images.tar')
    with pytest.raises(DockerError) as error:
        read_archive(path)
    if builder.layout == 'classic':
        assert str(error.value) == '%s is corrupt: the config %s does not match its digest' % (path, config)
    else:
        assert str(error.value) == ('%s is corrupt: the config %s of image %s does not match its digest'
                                    % (path, config, built.manifest))


def test_a_manifest_that_does_not_match_its_name(tmp_path):
    builder = OciBuilder(manifest_json=False)
    built = builder.add_image('a', ['app:1'])
    name = 'blobs/sha256/' + built.manifest.split(':')[1]
    builder.replace(name, lambda data: data.replace(b'"schemaVersion": 2', b'"schemaVersion": 3'))
    path = builder.write(tmp_path / 'images.tar')
    with pytest.raises(DockerError) as error:
        read_archive(path)
    assert str(error.value) == ('%s is corrupt: the manifest or index %s of image %s does not match its digest'
                                % (path, name, built.manifest))


# --- what loading would change --------------------------------------------------------------


def inspect(image_id, tags, digests=()):
    return {'Id': image_id, 'RepoTags': list(tags), 'RepoDigests': list(digests)}


def test_archive_names_list_an_image_once_per_name(tmp_path):
    builder = Builder()
    builder.add_image('a', ['app:2', 'app:1'])
    untagged = builder.add_image('b', [])
    builder.add_image('c', ['base:1'])
    images = read_archive(builder.write(tmp_path / 'images.tar')).images
    entries = dict(zip((image.ids[0] for image in images), 'abc'))
    names, listed = archive_names(images, [entries[image.ids[0]] for image in images])
    assert names == ['app:1', 'app:2', 'base:1', untagged.config]
    assert listed == ['a', 'a', 'c', 'b']


def test_plan_load_on_the_classic_store(tmp_path):
    builder = Builder()
    first, second = builder.add_image('a', ['app:1']), builder.add_image('b', [])
    images = read_archive(builder.write(tmp_path / 'images.tar')).images
    assert archive_names(images, ['A', 'B']) == (['app:1', second.config], ['A', 'B'])

    present = [inspect(first.config, ['app:1', 'app:x']), inspect(second.config, []), inspect('sha256:other', ['x:1'])]
    outcome, missing, listed = plan_load(images, present, manifest_ids=False)
    assert missing == [] and outcome.changed is False
    assert listed == present[:2]

    outcome, missing, listed = plan_load(images, [inspect(first.config, ['app:x'])], manifest_ids=False)
    assert missing == images
    assert outcome.after[first.config] == {'exists': True, 'id': first.config, 'tags': ['app:1', 'app:x'], 'digests': []}
    assert outcome.before[second.config] == {'exists': False}
    assert outcome.after[second.config] == {'exists': True, 'id': second.config, 'tags': [], 'digests': []}
    assert listed[1] == {'Id': second.config, 'RepoTags': []}


def test_plan_load_on_the_containerd_store(tmp_path):
    builder = OciBuilder()
    first, second = builder.add_image('a', ['app:1', 'team/app:2']), builder.add_image('b', [])
    images = read_archive(builder.write(tmp_path / 'images.tar')).images

    present = [inspect(first.manifest, ['app:1', 'team/app:2'], ['app@' + first.manifest, 'team/app@' + first.manifest]),
               inspect(second.manifest, [])]
    outcome, missing, _listed = plan_load(images, present, manifest_ids=True)
    assert missing == [] and outcome.changed is False

    outcome, missing, listed = plan_load(images, [], manifest_ids=True)
    assert missing == images
    assert outcome.before == {first.manifest: {'exists': False}, second.manifest: {'exists': False}}
    assert outcome.after[first.manifest] == {'exists': True, 'id': first.manifest, 'tags': ['app:1', 'team/app:2'],
                                             'digests': ['app@' + first.manifest, 'team/app@' + first.manifest]}
    assert listed == [{'Id': first.manifest, 'RepoTags': ['app:1', 'team/app:2']}, {'Id': second.manifest, 'RepoTags': []}]


def test_plan_load_of_an_oci_archive_on_the_classic_store_of_docker_25_and_later(tmp_path):
    builder = OciBuilder(gzip_layers=False)
    first, second = builder.add_image('a', ['app:1']), builder.add_image('b', ['app:2'])
    images = read_archive(builder.write(tmp_path / 'images.tar')).images

    outcome, missing, _listed = plan_load(images, [inspect(first.config, ['app:1'])])
    assert missing == [images[1]]
    assert set(outcome.after) == {first.config, second.config}, 'the store form is the one the present image shows'
    assert outcome.after[second.config]['digests'] == []


def test_the_store_an_engine_runs():
    assert reports_manifest_ids({'Driver': 'overlayfs', 'DriverStatus': [['driver-type', 'io.containerd.snapshotter.v1']]})
    assert not reports_manifest_ids({'Driver': 'overlay2', 'DriverStatus': [['Backing Filesystem', 'extfs'],
                                                                            ['Supports d_type', 'true']]})
    assert not reports_manifest_ids({'DriverStatus': None})


# --- writing --------------------------------------------------------------------------------
