# Copyright (c) dockyard.docker contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# This module_utils is PRIVATE to the collection: its interface may change
# without notice between releases.

"""Image archives (``docker save`` tars) on disk: what is in them, and writing them safely.

``read_archive`` walks a tar once, plain or compressed, with flat memory: it keeps
only small JSON members (``manifest.json``, ``repositories``, image configs) and,
when asked to verify, the sha256 of every member. From ``manifest.json`` (and
``repositories`` for tags it adds) it knows which image IDs and tags the archive
holds, and it refuses a file that is not a tar, has no manifest, is cut short, or
lacks a config or layer its manifest names. Both layouts ``docker save`` writes
are read: the legacy one (``<id>.json``, ``<layer>/layer.tar``) and the OCI one
of Docker 25 and later (``blobs/sha256/<digest>``, with symlinks).

``write_atomically`` streams chunks into a temporary file beside the target,
fsyncs it and renames it into place, so a failed write never leaves a partial
file and never harms the previous one.

This file must stay importable on the controller too (the image_load action
plugin reads archives there), so it imports nothing from Ansible, only the collection's pure helpers. ``plan_load``
is the one place that decides what loading an archive would change, for the module
and the action plugin alike.
"""

from __future__ import annotations

import bz2
import gzip
import hashlib
import json
import lzma
import os
import posixpath
import re
import tarfile
import tempfile
import zlib

from ansible_collections.dockyard.docker.plugins.module_utils._diff import Outcome, image_state
from ansible_collections.dockyard.docker.plugins.module_utils._errors import DockerError

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


def file_digest(path):
    """``(size, sha256 hex)`` of a file, read in chunks."""
    digest = hashlib.sha256()
    size = 0
    with open(path, 'rb') as handle:
        for chunk in iter(lambda: handle.read(CHUNK_SIZE), b''):
            digest.update(chunk)
            size += len(chunk)
    return size, digest.hexdigest()


class ArchiveImage:
    """One entry of ``manifest.json``: an image ID, its tags in the archive, its config and layers."""

    __slots__ = ('id', 'tags', 'config', 'layers')

    def __init__(self, image_id, tags, config, layers):
        self.id = image_id
        self.tags = sorted(set(tags))
        self.config = config
        self.layers = layers

    def state(self):
        return {'id': self.id, 'tags': self.tags}


class Archive:
    """What an image archive holds."""

    def __init__(self, path, compression, images):
        self.path = path
        self.compression = compression
        self.images = images

    def state(self):
        """``[{id, tags}]`` sorted by ID: what idempotency compares."""
        return sorted((image.state() for image in self.images), key=lambda item: item['id'])


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
    member = _Member(info.size)
    keep = _wanted_content(info.name, info.size)
    if not (keep or verify):
        return member
    handle = tar.extractfile(info)
    digest = hashlib.sha256()
    parts = []
    first = True
    for chunk in iter(lambda: handle.read(CHUNK_SIZE), b''):
        if first:
            member.head = chunk[:8]
            keep = keep and chunk[:1] in (b'{', b'[')
            first = False
            if not (keep or verify):
                return member
        digest.update(chunk)
        if keep:
            parts.append(chunk)
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

    def walk(self, tar):
        for info in tar:
            name = _normal(info.name)
            self.end = max(self.end, info.offset_data + info.size)
            if info.isfile():
                self.files[name] = _read_member(tar, info, self.verify)
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


def _layer_owner(layers):
    """The legacy layer directory of an image's top layer (``<v1id>/layer.tar`` -> ``<v1id>``)."""
    if layers and layers[-1].endswith('/layer.tar'):
        return posixpath.dirname(_normal(layers[-1]))
    return None


def _repositories_tags(path, walker):
    """``{top layer directory: [tags]}`` from the legacy ``repositories`` file."""
    member = walker.member('repositories')
    if member is None or member.content is None:
        return {}
    data = _json(path, member, 'repositories')
    owners = {}
    if isinstance(data, dict):
        for repository, tags in data.items():
            for tag, layer in (tags or {}).items() if isinstance(tags, dict) else ():
                owners.setdefault(layer, []).append('%s:%s' % (repository, tag))
    return owners


def _check_layers(path, image_id, config, layers, walker):
    diff_ids = ((config.get('rootfs') or {}).get('diff_ids') or []) if isinstance(config, dict) else []
    if walker.verify and len(diff_ids) != len(layers):
        raise DockerError('%s is corrupt: image %s lists %d layers in manifest.json but %d in its config'
                          % (path, image_id, len(layers), len(diff_ids)))
    for index, layer in enumerate(layers):
        member = walker.member(layer)
        if member is None:
            raise DockerError('%s is incomplete: layer %s of image %s is missing' % (path, layer, image_id))
        if not walker.verify or compression_of(member.head) != 'none':
            continue  # a compressed layer's digest is that of its uncompressed content; the daemon checks it
        if 'sha256:' + member.sha256 != diff_ids[index]:
            raise DockerError('%s is corrupt: layer %s of image %s does not match its digest %s'
                              % (path, layer, image_id, diff_ids[index]))


def _entry(path, index, item, walker, repository_tags):
    if not isinstance(item, dict) or not isinstance(item.get('Config'), str):
        raise DockerError('%s is not an image archive: manifest.json entry %d has no Config' % (path, index))
    config_name = item['Config']
    member = walker.member(config_name)
    if member is None:
        raise DockerError('%s is incomplete: the config %s of manifest.json entry %d is missing' % (path, config_name, index))
    if member.content is None:
        raise DockerError('%s is not an image archive: the config %s is not JSON' % (path, config_name))
    image_id = 'sha256:' + hashlib.sha256(member.content).hexdigest()
    named = _HEX_DIGEST.search(_normal(config_name))
    if named and 'sha256:' + named.group(1) != image_id:
        raise DockerError('%s is corrupt: the config %s does not match its digest' % (path, config_name))
    layers = [layer for layer in item.get('Layers') or [] if isinstance(layer, str)]
    _check_layers(path, image_id, _json(path, member, config_name), layers, walker)
    tags = [tag for tag in item.get('RepoTags') or [] if isinstance(tag, str)]
    tags.extend(repository_tags.get(_layer_owner(layers), []) if len(layers) else [])
    return ArchiveImage(image_id, tags, config_name, layers)


def read_archive(path, verify=False):
    """The images and tags an archive holds; raises DockerError for anything ``docker load`` would refuse.

    With ``verify`` every member is hashed and each layer checked against the
    ``diff_ids`` of its image config, so a corrupt archive is refused before any
    of it reaches the daemon.
    """
    try:
        compression = detect_compression(path)
    except OSError as exc:
        raise DockerError('failed to read image archive %s: %s' % (path, exc.strerror or exc))
    walker = _Walker(verify)
    stream = None
    try:
        tar, stream = _open_tar(path, compression)
        with tar:
            walker.walk(tar)
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
    manifest = walker.member('manifest.json')
    if manifest is None:
        raise DockerError('%s is not an image archive: it has no manifest.json' % path)
    entries = _json(path, manifest, 'manifest.json')
    if not isinstance(entries, list) or not entries:
        raise DockerError('%s is not an image archive: manifest.json lists no images' % path)
    repository_tags = _repositories_tags(path, walker)
    images = [_entry(path, index, item, walker, repository_tags) for index, item in enumerate(entries)]
    return Archive(path, compression, _merge(images))


def _unreadable(path, walker, exc):
    reason = str(exc) or type(exc).__name__
    if walker.files or walker.links or isinstance(exc, EOFError) or 'unexpected end' in reason:
        raise DockerError('%s is truncated or corrupt: %s' % (path, reason))
    raise DockerError('%s is not an image archive: it is not a tar file (%s)' % (path, reason))


def _merge(images):
    """One entry per image ID (an archive may list an image twice)."""
    merged = {}
    for image in images:
        if image.id in merged:
            known = merged[image.id]
            merged[image.id] = ArchiveImage(image.id, known.tags + image.tags, known.config, known.layers)
        else:
            merged[image.id] = image
    return list(merged.values())


def archive_names(contents):
    """The tags of ``[{id, tags}]``, sorted, then the IDs of its untagged images."""
    names = sorted(tag for item in contents for tag in item['tags'])
    return names + [item['id'] for item in contents if not item['tags']]


def plan_load(contents, present):
    """``(outcome, missing)`` for loading ``contents`` (``[{id, tags}]``) where ``present`` maps IDs to inspect data.

    An image is missing when the daemon lacks it or one of the archive's tags for
    it points elsewhere (or nowhere). The outcome records, per image ID, the state
    now and the state a load would leave: the image with the archive's tags added.
    """
    outcome = Outcome()
    missing = []
    for item in contents:
        inspect = present.get(item['id'])
        state = image_state(inspect)
        if inspect and set(item['tags']) <= set(state['tags']):
            outcome.record(item['id'], state, state)
            continue
        missing.append(item)
        outcome.record(item['id'], state, dict(state, exists=True, id=item['id'], digests=state.get('digests', []),
                                               tags=sorted(set(state.get('tags', [])) | set(item['tags']))))
    return outcome, missing


class _HashingWriter:
    """A write-only file object that counts and hashes what passes through to ``target``."""

    def __init__(self, target):
        self.target = target
        self.digest = hashlib.sha256()
        self.size = 0

    def write(self, data):
        self.target.write(data)
        self.digest.update(data)
        self.size += len(data)
        return len(data)

    def flush(self):
        self.target.flush()


def _new_file_mode(path):
    try:
        return os.stat(path).st_mode & 0o7777
    except OSError:
        umask = os.umask(0o022)
        os.umask(umask)
        return 0o666 & ~umask


def write_atomically(path, chunks, compression='none', check=None):
    """Stream ``chunks`` into ``path`` through a temporary file in its directory; return ``(size, sha256)``.

    The temporary file is flushed, fsynced and, after ``check(temp_path)`` (which
    may raise DockerError) accepts it, renamed over ``path``. On any failure it
    is removed, the previous ``path`` is untouched, and DockerError says why.
    """
    directory = os.path.dirname(os.path.abspath(path))
    try:
        handle, temp = tempfile.mkstemp(prefix='.%s.' % os.path.basename(path), suffix='.part', dir=directory)
    except OSError as exc:
        raise DockerError('failed to write image archive %s: cannot create a file in %s: %s'
                          % (path, directory, exc.strerror or exc))
    try:
        with os.fdopen(handle, 'wb') as raw:
            sink = _HashingWriter(raw)
            if compression == 'gzip':
                with gzip.GzipFile(filename='', mode='wb', fileobj=sink, mtime=0) as packed:
                    for chunk in chunks:
                        packed.write(chunk)
            else:
                for chunk in chunks:
                    sink.write(chunk)
            raw.flush()
            os.fsync(raw.fileno())
        if check is not None:
            check(temp)
        os.chmod(temp, _new_file_mode(path))
        os.replace(temp, path)
    except BaseException as exc:
        try:
            os.unlink(temp)
        except OSError:
            pass
        if isinstance(exc, OSError):
            raise DockerError('failed to write image archive %s: %s' % (path, exc.strerror or exc))
        raise
    _sync_directory(directory)
    return sink.size, sink.digest.hexdigest()


def _sync_directory(directory):
    try:
        handle = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(handle)
    except OSError:
        pass
    finally:
        os.close(handle)
