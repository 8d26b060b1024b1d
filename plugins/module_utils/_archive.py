# Copyright (c) dockyard.docker contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# This module_utils is PRIVATE to the collection: its interface may change
# without notice between releases.

"""Image archives (``docker save`` tars) on disk: what is in them (``_files`` writes them).

``read_archive`` is the one reader for both layouts ``docker save`` writes: the
classic one (``manifest.json``, ``<id>.json``, ``<layer>/layer.tar``; Docker 24
and older) and the OCI one (``index.json``, ``blobs/sha256/<digest>``, with a
``manifest.json`` beside it; Docker 25 and later, with either image store). It
walks a tar once, plain or compressed, with flat memory: it keeps only small JSON
members and, when asked to verify, the sha256 of every member, so layers are
never held in memory. It refuses a file that is not a tar, holds no image list,
is cut short, lacks a manifest, config or layer it names, or (verifying) holds a
blob or layer that does not match its digest.

Engines name the same image differently: the classic store by its config digest,
the containerd store by its manifest or index digest. Each ``ArchiveImage`` knows
both, so "does the engine have this image" is answered by the ID the engine
reports, on either store (``plan_load``, ``Archive.find``, ``Archive.state``).

This file must stay importable on the controller too (the image_load action
plugin reads archives there), so it imports nothing from Ansible, only the
collection's pure helpers. ``plan_load`` is the one place that decides what
loading an archive would change, for the module and the action plugin alike.
"""

from __future__ import annotations

import bz2
import concurrent.futures
import gzip
import hashlib
import json
import lzma
import os
import posixpath
import re
import tarfile
import threading
import zlib

from ansible_collections.dockyard.docker.plugins.module_utils._diff import Outcome, image_state
from ansible_collections.dockyard.docker.plugins.module_utils._errors import DockerError
from ansible_collections.dockyard.docker.plugins.module_utils._reference import parse_reference

CHUNK_SIZE = 1024 * 1024
MAX_JSON_MEMBER = 8 * 1024 * 1024
COMPRESSIONS = ('none', 'gzip', 'bzip2', 'xz', 'zstd')

_MAGIC = (
    (b'\x1f\x8b', 'gzip'),
    (b'BZh', 'bzip2'),
    (b'\xfd7zXZ\x00', 'xz'),
    (b'\x28\xb5\x2f\xfd', 'zstd'),
)
_OPENERS = {'gzip': gzip.open, 'bzip2': bz2.open, 'xz': lzma.open}
_SHA256 = re.compile(r'^sha256:[0-9a-f]{64}$')
_BLOB = re.compile(r'^blobs/sha256/([0-9a-f]{64})$')
_HEX_DIGEST = re.compile(r'(?:^|/)(?:sha256[:/])?([0-9a-f]{64})(?:\.json)?$')


def compression_of(header):
    """The compression the first bytes of a file show: one of COMPRESSIONS."""
    for magic, name in _MAGIC:
        if header.startswith(magic):
            return name
    return 'none'


def detect_compression(path):
    with open(path, 'rb') as handle:
        return compression_of(handle.read(8))


class ArchiveImage:
    """One image of an archive: how engines name it, and the tags the archive gives it.

    ``digest`` is the manifest or index digest an OCI layout's ``index.json`` names
    (None in the classic layout); ``configs`` holds the config digest of each
    platform the archive carries. The containerd image store reports an image by
    the first, the classic store by the second, so both are kept.
    """

    __slots__ = ('digest', 'configs', 'tags')

    def __init__(self, digest, configs, tags):
        self.digest = digest
        self.configs = configs
        self.tags = sorted(set(tags))

    @property
    def ids(self):
        """Every ID an engine may report for this image, the manifest or index digest first."""
        return ([self.digest] if self.digest else []) + [config for config in self.configs if config != self.digest]

    def engine_id(self, known=(), manifest_ids=False):
        """The ID an engine reports: one of ``known`` it matches, else the form ``manifest_ids`` says."""
        for image_id in self.ids:
            if image_id in known:
                return image_id
        return self.digest if manifest_ids and self.digest else self.configs[0]


class Archive:
    """What an image archive holds."""

    def __init__(self, path, compression, images, content_bytes):
        self.path = path
        self.compression = compression
        self.images = images
        self.content_bytes = content_bytes  # the tar's length, uncompressed: what the daemon unpacks when it loads the archive

    def find(self, image_id):
        """The image an engine reports as ``image_id``, or None."""
        return next((image for image in self.images if image_id in image.ids), None)

    def knows_all(self, known):
        return all(set(image.ids) & set(known) for image in self.images)

    def state(self, known=(), manifest_ids=False):
        """``[{id, tags}]`` sorted by ID, with IDs as an engine reports them (see ``ArchiveImage.engine_id``)."""
        return sorted(({'id': image.engine_id(known, manifest_ids), 'tags': image.tags} for image in self.images),
                      key=lambda item: item['id'])


class _Member:
    __slots__ = ('size', 'sha256', 'head', 'content')

    def __init__(self, size):
        self.size = size
        self.sha256 = None
        self.head = b''
        self.content = None


def _wanted_content(name, size):
    if size > MAX_JSON_MEMBER:
        return False
    base = posixpath.basename(name)
    return name in ('manifest.json', 'repositories', 'index.json') or base.endswith('.json') or \
        name.startswith('blobs/') or bool(_HEX_DIGEST.search(name))


def _read_member(tar, info, verify):
    """Reads one member (a generator: it yields how far into a plain tar it has read) and returns its ``_Member``."""
    member = _Member(info.size)
    keep = _wanted_content(info.name, info.size)
    if not (keep or verify):
        return member
    handle = tar.extractfile(info)
    digest = hashlib.sha256()
    parts = []
    done = 0
    for chunk in iter(lambda: handle.read(CHUNK_SIZE), b''):
        if not done:
            member.head = chunk[:8]
            keep = keep and chunk[:1] in (b'{', b'[')
            if not (keep or verify):
                return member
        digest.update(chunk)
        if keep:
            parts.append(chunk)
        done += len(chunk)
        yield info.offset_data + done
    member.sha256 = digest.hexdigest()
    if keep and parts:
        member.content = b''.join(parts)
    return member


def _normal(name):
    name = posixpath.normpath(name.lstrip('/'))
    return '' if name == '.' else name


class _Walker:
    """One pass over the members of a tar."""

    def __init__(self, verify):
        self.verify = verify
        self.files = {}
        self.links = {}
        self.end = 0  # where the data of the last member ends

    def steps(self, tar):
        """Walks the members, yielding after each header and chunk read how far into a plain tar the walk has come."""
        for info in tar:
            name = _normal(info.name)
            self.end = max(self.end, info.offset_data + info.size)
            yield info.offset_data
            if info.isfile():
                self.files[name] = yield from _read_member(tar, info, self.verify)
            elif info.issym():
                self.links[name] = _normal(posixpath.join(posixpath.dirname(name), info.linkname))
            elif info.islnk():
                self.links[name] = _normal(info.linkname)

    def member(self, name):
        name = _normal(name)
        for _hop in range(16):
            if name in self.files:
                return self.files[name]
            if name not in self.links:
                return None
            name = self.links[name]
        return None


def _open_tar(path, compression):
    """A tarfile over ``path``; plain files are read with seeks (fast), compressed ones as a stream."""
    if compression == 'none':
        return tarfile.open(path, mode='r:'), None
    if compression not in _OPENERS:
        raise DockerError('%s is compressed with %s, which cannot be read here; decompress it first' % (path, compression))
    stream = _OPENERS[compression](path, 'rb')
    try:
        return tarfile.open(fileobj=stream, mode='r|'), stream
    except BaseException:
        stream.close()
        raise


def _json(path, member, name):
    try:
        return json.loads(member.content.decode('utf-8'))
    except (AttributeError, UnicodeDecodeError, ValueError) as exc:
        raise DockerError('%s is not an image archive: %s is not valid JSON (%s)' % (path, name, exc))


def _annotated_tags(annotations):
    """The tags ``index.json`` gives an entry, in the familiar form ``RepoTags`` uses."""
    tags = []
    for key in ('io.containerd.image.name', 'org.opencontainers.image.ref.name'):
        name = annotations.get(key) if isinstance(annotations, dict) else None
        if not isinstance(name, str) or not ('/' in name or ':' in name):
            continue  # a bare ref.name is a tag without its repository: nothing to load it under
        try:
            reference = parse_reference(name, default_tag=None)
        except DockerError:
            continue
        if reference.tag and not reference.digest:
            tags.append(str(reference))
    return tags


class _Layout:
    """The images of one walked archive, in either layout, checked as ``docker load`` would need them."""

    def __init__(self, path, walker):
        self.path = path
        self.walker = walker

    def error(self, text):
        return DockerError('%s %s' % (self.path, text))

    def document(self, name):
        member = self.walker.member(name)
        if member is None:
            return None
        if member.content is None:
            raise self.error('is not an image archive: %s is not JSON' % name)
        return _json(self.path, member, name)

    def blob(self, digest, what, image):
        """The JSON blob ``digest`` names, checked against its digest; None when the archive lacks it."""
        name = _blob_name(digest)
        if name is None:
            raise self.error('is not an image archive: %s %s of image %s is not a sha256 digest' % (what, digest, image))
        member = self.walker.member(name)
        if member is None:
            return None
        if member.content is None:
            raise self.error('is not an image archive: the %s %s is not JSON' % (what, name))
        if 'sha256:' + hashlib.sha256(member.content).hexdigest() != digest:
            raise self.error('is corrupt: the %s %s of image %s does not match its digest' % (what, name, image))
        return _json(self.path, member, name)

    # --- the classic layout: manifest.json, <id>.json, <layer>/layer.tar ---------------------

    def classic_entries(self):
        """``[(config digest, tags, layers)]`` of ``manifest.json``; None when there is none."""
        entries = self.document('manifest.json')
        if entries is None:
            return None
        if not isinstance(entries, list):
            raise self.error('is not an image archive: manifest.json is no list of images')
        owners = self.repositories_tags()
        return [self.classic_entry(index, item, owners) for index, item in enumerate(entries)]

    def repositories_tags(self):
        """``{top layer directory: [tags]}`` from the legacy ``repositories`` file."""
        data = self.document('repositories')
        owners = {}
        for repository, tags in data.items() if isinstance(data, dict) else ():
            for tag, layer in tags.items() if isinstance(tags, dict) else ():
                owners.setdefault(layer, []).append('%s:%s' % (repository, tag))
        return owners

    def classic_entry(self, index, item, owners):
        if not isinstance(item, dict) or not isinstance(item.get('Config'), str):
            raise self.error('is not an image archive: manifest.json entry %d has no Config' % index)
        config_name = item['Config']
        member = self.walker.member(config_name)
        if member is None:
            raise self.error('is incomplete: the config %s of manifest.json entry %d is missing' % (config_name, index))
        if member.content is None:
            raise self.error('is not an image archive: the config %s is not JSON' % config_name)
        config_id = 'sha256:' + hashlib.sha256(member.content).hexdigest()
        named = _HEX_DIGEST.search(_normal(config_name))
        if named and 'sha256:' + named.group(1) != config_id:
            raise self.error('is corrupt: the config %s does not match its digest' % config_name)
        layers = [layer for layer in item.get('Layers') or [] if isinstance(layer, str)]
        self.check_diff_ids(config_id, _json(self.path, member, config_name), layers)
        tags = [tag for tag in item.get('RepoTags') or [] if isinstance(tag, str)]
        if layers and layers[-1].endswith('/layer.tar'):
            tags.extend(owners.get(posixpath.dirname(_normal(layers[-1])), []))
        return config_id, tags, layers

    def check_diff_ids(self, image, config, layers):
        diff_ids = ((config.get('rootfs') or {}).get('diff_ids') or []) if isinstance(config, dict) else []
        if self.walker.verify and len(diff_ids) != len(layers):
            raise self.error('is corrupt: image %s lists %d layers in manifest.json but %d in its config'
                             % (image, len(layers), len(diff_ids)))
        for index, layer in enumerate(layers):
            member = self.walker.member(layer)
            if member is None:
                raise self.error('is incomplete: layer %s of image %s is missing' % (layer, image))
            if not self.walker.verify or compression_of(member.head) != 'none':
                continue  # a compressed layer's diff ID is that of its content; its blob digest is checked apart
            if 'sha256:' + member.sha256 != diff_ids[index]:
                raise self.error('is corrupt: layer %s of image %s does not match its digest %s'
                                 % (layer, image, diff_ids[index]))

    # --- the OCI layout: index.json, blobs/sha256/<digest> -------------------------------------

    def oci_images(self, index):
        entries = index.get('manifests') if isinstance(index, dict) else None
        if not isinstance(entries, list) or not entries:
            raise self.error('is not an image archive: index.json lists no images')
        images = []
        for number, entry in enumerate(entries):
            digest = entry.get('digest') if isinstance(entry, dict) else None
            if not isinstance(digest, str):
                raise self.error('is not an image archive: index.json entry %d has no digest' % number)
            images.append(ArchiveImage(digest, self.configs(digest, digest, 0), _annotated_tags(entry.get('annotations'))))
        return images

    def configs(self, digest, image, depth):
        """The config digests of manifest or index ``digest``: one per platform the archive holds."""
        document = self.blob(digest, 'manifest' if depth else 'manifest or index', image)
        if document is None:
            raise self.error('is incomplete: the manifest %s of image %s is missing' % (_blob_name(digest), image))
        if isinstance(document, dict) and isinstance(document.get('manifests'), list) and depth < 4:
            configs = []
            for child in document['manifests']:
                if not isinstance(child, dict) or 'vnd.docker.reference.type' in (child.get('annotations') or {}):
                    continue  # attestations and the like are no platform of the image
                name = _blob_name(child.get('digest'))
                if name and self.walker.member(name) is not None:
                    configs.extend(self.configs(child['digest'], image, depth + 1))
            if not configs:
                raise self.error('is incomplete: it holds no platform of image %s' % image)
            return configs
        config = (document.get('config') or {}).get('digest') if isinstance(document, dict) else None
        if not isinstance(config, str):
            raise self.error('is not an image archive: the manifest %s of image %s has no config' % (digest, image))
        if self.blob(config, 'config', image) is None:
            if depth:
                return []  # a platform of an index whose content the daemon did not have to save
            raise self.error('is incomplete: the config %s of image %s is missing' % (_blob_name(config), image))
        for layer in document.get('layers') or []:
            self.check_blob(layer.get('digest') if isinstance(layer, dict) else None, image)
        return [config]

    def check_blob(self, digest, image):
        name = _blob_name(digest)
        member = self.walker.member(name) if name else None
        if member is None:
            raise self.error('is incomplete: layer %s of image %s is missing' % (name or digest, image))
        if self.walker.verify and 'sha256:' + member.sha256 != digest:
            raise self.error('is corrupt: layer %s of image %s does not match its digest %s' % (name, image, digest))

    def check_all_blobs(self):
        """Every member named ``blobs/sha256/<digest>`` holds what its name says."""
        for name, member in sorted(self.walker.files.items()):
            named = _BLOB.match(name)
            if named and member.sha256 is not None and member.sha256 != named.group(1):
                raise self.error('is corrupt: blob %s does not match its digest' % name)

    def images(self):
        index = self.document('index.json')
        oci = self.oci_images(index) if index is not None else None
        classic = self.classic_entries()
        if index is None and classic is None:
            raise self.error('is not an image archive: it has no manifest.json')
        if index is None and not classic:
            raise self.error('is not an image archive: manifest.json lists no images')
        if index is None:
            images = [ArchiveImage(None, [config], tags) for config, tags, _layers in classic]
        else:
            images = oci
            for config, tags, _layers in classic or []:  # manifest.json beside index.json adds its RepoTags
                for image in images:
                    if config in image.configs:
                        image.tags = sorted(set(image.tags) | set(tags))
        if self.walker.verify:
            self.check_all_blobs()
        return _merge(images)


def _blob_name(digest):
    """Where the OCI layout keeps the blob of ``digest``; None for anything but a sha256 digest."""
    if isinstance(digest, str) and _SHA256.match(digest):
        return 'blobs/sha256/' + digest[len('sha256:'):]
    return None


def read_archive(path, verify=False):
    """The images and tags an archive holds, in either layout; raises DockerError for anything ``docker load`` would refuse.

    Without ``verify`` it reads only the small JSON members and checks that every
    manifest, config and layer they name is there and that each JSON blob matches
    its digest. With ``verify`` every member is hashed as well: each blob must
    match the digest in its name and each uncompressed layer the ``diff_ids`` of
    its image config, so a corrupt archive is refused before any of it reaches
    the daemon.
    """
    walk = _walk(path, verify)
    while True:
        try:
            next(walk)
        except StopIteration as end:
            return end.value


def checked_chunks(path):
    """The bytes of the plain (uncompressed) archive ``path`` for ``docker load``, checked as ``read_archive`` checks
    them with ``verify``, in the same pass: the check runs in a thread ahead of the sender, a chunk goes out once
    the check has read past it, and the end of the tar only after the whole archive passed, so a daemon reading the
    stream cannot finish loading an archive the check refuses (the body it gets is cut short, which fails the load
    on either image store)."""
    progress = _Progress()
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        checking = pool.submit(progress.follow, _walk(path, verify=True))
        try:
            with open(path, 'rb') as source:
                sent, done = 0, False
                while not done:
                    checked, done = progress.wait_past(sent + CHUNK_SIZE)
                    if done:
                        checking.result()  # the check's refusal, before anything more is sent
                    while checked - sent >= CHUNK_SIZE:
                        chunk = source.read(CHUNK_SIZE)
                        sent += len(chunk)
                        yield chunk
                yield from iter(lambda: source.read(CHUNK_SIZE), b'')
        finally:
            progress.stop()


class _Progress:
    """How far a walk in another thread has checked a tar, for the sender to wait on."""

    def __init__(self):
        self.condition = threading.Condition()
        self.position = 0
        self.done = False
        self.stopped = False

    def follow(self, walk):
        try:
            for position in walk:
                with self.condition:
                    if self.stopped:
                        walk.close()
                        return
                    self.position = position
                    self.condition.notify()
        finally:
            with self.condition:
                self.done = True
                self.condition.notify()

    def wait_past(self, wanted):
        """``(position, done)`` once the walk has come to ``wanted`` or ended."""
        with self.condition:
            self.condition.wait_for(lambda: self.done or self.position >= wanted)
            return self.position, self.done

    def stop(self):
        with self.condition:
            self.stopped = True


def _walk(path, verify):
    """``read_archive`` as a generator: it yields how far into a plain tar the walk has come, and returns the Archive."""
    try:
        compression = detect_compression(path)
    except OSError as exc:
        raise DockerError('failed to read image archive %s: %s' % (path, exc.strerror or exc))
    walker = _Walker(verify)
    stream = None
    try:
        tar, stream = _open_tar(path, compression)
        with tar:
            yield from walker.steps(tar)
            if compression == 'none' and os.path.getsize(path) < max(walker.end, tar.offset + 2 * tarfile.BLOCKSIZE):
                # Reading with seeks stops quietly at a cut; a whole tar ends with two zero blocks.
                raise tarfile.ReadError('unexpected end of data')
    except DockerError:
        raise
    except OSError as exc:
        raise DockerError('failed to read image archive %s: %s' % (path, exc.strerror or exc))
    except (tarfile.ReadError, EOFError, zlib.error, lzma.LZMAError) as exc:
        return _unreadable(path, walker, exc)
    finally:
        if stream is not None:
            stream.close()
    return Archive(path, compression, _Layout(path, walker).images(), walker.end)


def _unreadable(path, walker, exc):
    reason = str(exc) or type(exc).__name__
    if walker.files or walker.links or isinstance(exc, EOFError) or 'unexpected end' in reason:
        raise DockerError('%s is truncated or corrupt: %s' % (path, reason))
    raise DockerError('%s is not an image archive: it is not a tar file (%s)' % (path, reason))


def _merge(images):
    """One image per manifest digest (OCI) or config digest (classic): an archive may list an image twice."""
    merged = {}
    for image in images:
        known = merged.get(image.ids[0])
        merged[image.ids[0]] = ArchiveImage(image.digest, image.configs, known.tags + image.tags) if known else image
    return list(merged.values())


def reports_manifest_ids(info):
    """Whether the engine of ``docker info`` data names images by manifest or index digest (the containerd store)."""
    return any(isinstance(pair, list) and pair[-1:] == ['io.containerd.snapshotter.v1']
               for pair in info.get('DriverStatus') or [])


def archive_names(images, listed):
    """``(names, entries)``: the tags of the archive's images, sorted, then the IDs of its untagged images,
    as docker load reports them (``Loaded image: NAME``, ``Loaded image ID: ID``); and for each name the
    entry of ``listed`` (one per image) of the image it names, so an image with two tags is there twice."""
    named = sorted(((tag, entry) for image, entry in zip(images, listed) for tag in image.tags), key=lambda pair: pair[0])
    named += [(image.ids[0], entry) for image, entry in zip(images, listed) if not image.tags]
    return [name for name, _entry in named], [entry for _name, entry in named]


def plan_load(images, present, manifest_ids=None):
    """``(outcome, missing, listed)`` for loading archive ``images`` into an engine that has ``present`` (inspect data).

    An image is missing when the engine has it under none of its IDs, or lacks
    one of the archive's tags for it. The outcome records, under the ID the engine
    reports (or will report), the state now and the state a load would leave: the
    image with the archive's tags added and, on the containerd store
    (``manifest_ids``), a digest per repository as that store shows them.
    ``manifest_ids`` None means: as the images present show, or else as the
    archive's layout suggests. ``listed`` is the inspect data of each image, or
    for an image not present its ID and tags.
    """
    by_id = dict((inspect['Id'], inspect) for inspect in present if inspect)
    found = [next((by_id[image_id] for image_id in image.ids if image_id in by_id), None) for image in images]
    if manifest_ids is None:
        matched = [(image, inspect['Id']) for image, inspect in zip(images, found) if inspect]
        manifest_ids = any(image.digest == image_id for image, image_id in matched) if matched else \
            any(image.digest for image in images)
    outcome, missing, listed = Outcome(), [], []
    for image, inspect in zip(images, found):
        image_id = inspect['Id'] if inspect else image.engine_id(manifest_ids=manifest_ids)
        listed.append(inspect or {'Id': image_id, 'RepoTags': image.tags})
        state = image_state(inspect)
        if inspect and set(image.tags) <= set(state['tags']):
            outcome.record(image_id, state, state)
            continue
        missing.append(image)
        tags = sorted(set(state.get('tags', [])) | set(image.tags))
        digests = set(state.get('digests', []))
        if manifest_ids:
            digests.update('%s@%s' % (tag.rsplit(':', 1)[0], image_id) for tag in tags)
        outcome.record(image_id, state, dict(state, exists=True, id=image_id, tags=tags, digests=sorted(digests)))
    return outcome, missing, listed
