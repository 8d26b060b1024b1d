# Copyright (c) dockyard.docker contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# This module_utils is PRIVATE to the collection: its interface may change
# without notice between releases.

"""The tar an import reads: a file on the managed host, an http(s) URL, or a container's export.

``RootfsSource`` tells which ``src`` names, computes the DiffID the daemon would
give the imported layer (``tar_diff_id``: the sha256 of the uncompressed tar,
walked once in chunks to check it is a tar), and hands the tar to the daemon.
"""

from __future__ import annotations

import bz2
import gzip
import hashlib
import lzma
import os
import tarfile
import zlib
from urllib.error import HTTPError, URLError

from ansible.module_utils.urls import ConnectionError as UrlConnectionError, open_url

from ansible_collections.dockyard.docker.plugins.module_utils._archive import compression_of
from ansible_collections.dockyard.docker.plugins.module_utils._errors import DockerError

CHUNK_SIZE = 1024 * 1024
_DECOMPRESSORS = {
    'gzip': lambda raw: gzip.GzipFile(fileobj=raw, mode='rb'),
    'bzip2': lambda raw: bz2.BZ2File(raw, mode='rb'),
    'xz': lambda raw: lzma.LZMAFile(raw, mode='rb'),
}


class _Reader:
    """A file object over ``head`` followed by ``rest`` (a file object or an iterable of chunks).

    With ``digest`` set, everything read is hashed into it.
    """

    def __init__(self, head, rest):
        self.buffer = head
        self.position = 0
        self.rest = rest if hasattr(rest, 'read') else iter(rest)
        self.digest = None

    def _more(self, wanted):
        if hasattr(self.rest, 'read'):
            return self.rest.read(wanted)
        return next(self.rest, b'')

    def read(self, size=-1):
        wanted = CHUNK_SIZE if size is None or size < 0 else size
        while len(self.buffer) - self.position < wanted:
            chunk = self._more(max(wanted - len(self.buffer) + self.position, 1))
            if not chunk:
                break
            self.buffer = self.buffer[self.position:] + chunk
            self.position = 0
        data = self.buffer[self.position:self.position + wanted]
        self.position += len(data)
        if self.position >= len(self.buffer):
            self.buffer, self.position = b'', 0
        if self.digest is not None:
            self.digest.update(data)
        return data


class SourceError(DockerError):
    """The source is not what an import takes; the text says why, without the action."""


def _tar_stream(raw):
    """The uncompressed stream of ``raw``: gzip, bzip2 and xz are decompressed as the daemon would."""
    head = raw.read(8)
    compression = compression_of(head)
    if compression == 'none':
        return _Reader(head, raw)
    if compression not in _DECOMPRESSORS:
        raise SourceError('it is compressed with %s, which the module cannot read; use an uncompressed tar '
                          'or gzip, bzip2 or xz' % compression)
    return _Reader(b'', _DECOMPRESSORS[compression](_Reader(head, raw)))


def tar_diff_id(raw):
    """``sha256:HEX`` of the uncompressed tar read from ``raw``, after walking it to check that it is a tar."""
    stream = _tar_stream(raw)
    stream.digest = hashlib.sha256()
    try:
        with tarfile.open(fileobj=stream, mode='r|') as tar:
            for _member in tar:
                pass
        while stream.read(CHUNK_SIZE):
            pass
    except (tarfile.TarError, EOFError, zlib.error, lzma.LZMAError) as exc:
        raise SourceError('it is not a tar archive (%s)' % (str(exc) or type(exc).__name__))
    except OSError as exc:
        if exc.errno:
            raise
        raise SourceError('it is not a tar archive (%s)' % exc)
    return 'sha256:' + stream.digest.hexdigest()


class RootfsSource:
    """The ``src`` of an import: its kind (V(file), V(url), V(container)) and the object it names."""

    def __init__(self, src, timeout):
        self.src = src
        self.timeout = timeout
        self.kind, self.target = self._parse()

    def _parse(self):
        """Kind of ``src`` (file, url, container) and the object it names."""
        if self.src.startswith('container:'):
            name = self.src[len('container:'):]
            if not name:
                raise DockerError('src: container: must be followed by a container name or ID')
            return 'container', name
        if self.src.split('://', 1)[0].lower() in ('http', 'https') and '://' in self.src:
            return 'url', self.src
        return 'file', self.src

    def _read(self, action, reader):
        try:
            return reader()
        except SourceError as exc:
            raise DockerError('%s: %s' % (action, exc))
        except OSError as exc:
            raise DockerError('%s: %s' % (action, exc.strerror or exc))

    def diff_id(self, client, action):
        """The DiffID the source would import as; checks that it exists and is a tar."""
        if self.kind == 'container':
            container = client.inspect_container(self.target)
            if not container:
                raise DockerError('%s: no such container' % action)
            self.target = container['Id']
            return self._read(action, lambda: tar_diff_id(_Reader(b'', client.export_container(self.target))))
        if self.kind == 'url':
            return self._read(action, self._url_diff_id)
        if not os.path.exists(self.target):
            raise DockerError('%s: no such file' % action)
        if os.path.isdir(self.target):
            raise DockerError('%s: it is a directory, not a tar archive' % action)
        with self._read(action, lambda: open(self.target, 'rb')) as handle:
            return self._read(action, lambda: tar_diff_id(handle))

    def _url_diff_id(self):
        try:
            response = open_url(self.target, timeout=self.timeout)
        except HTTPError as exc:
            raise SourceError('cannot download it on the managed host: HTTP Error %s: %s' % (exc.code, exc.reason))
        except URLError as exc:
            reason = getattr(exc.reason, 'strerror', None) or exc.reason
            raise SourceError('cannot download it on the managed host: %s' % reason)
        except (UrlConnectionError, ValueError, OSError) as exc:
            raise SourceError('cannot download it on the managed host: %s' % exc)
        try:
            return tar_diff_id(response)
        finally:
            response.close()

    def import_as(self, client, reference, action, **options):
        """``docker import SRC REFERENCE`` with ``options`` (changes, message, platform) of ``import_image``."""
        if self.kind == 'url':
            return client.import_image(self.target, reference.repository, reference.tag, **options)
        if self.kind == 'container':
            return client.import_image(self.src, reference.repository, reference.tag,
                                       data=client.export_container(self.target), **options)
        with self._read(action, lambda: open(self.target, 'rb')) as handle:
            return client.import_image(self.src, reference.repository, reference.tag, data=handle, **options)
