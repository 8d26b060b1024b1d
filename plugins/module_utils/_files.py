# Copyright (c) dockyard.docker contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# This module_utils is PRIVATE to the collection: its interface may change
# without notice between releases.

"""Files the collection writes from a daemon's stream (``docker save``, ``docker export``).

``write_atomically`` streams chunks into a temporary file beside the target,
fsyncs it and renames it into place, so a failed write never leaves a partial
file and never harms the previous one; with ``keep_same`` a file that already
holds the same bytes is left as it is (its modification time too).
Each file written records its size, modification time and SHA-256 in an
extended attribute, so ``file_digest`` of an unchanged archive needs no read.
``target_state`` tells what a path holds now and refuses, before anything is
streamed, a path that cannot be written, so check mode fails where a real run
would. Pure Python: importable on the controller too.
"""

from __future__ import annotations

import concurrent.futures
import gzip
import hashlib
import os
import tempfile

from ansible_collections.dockyard.docker.plugins.module_utils._errors import DockerError
from ansible_collections.dockyard.docker.plugins.module_utils._views import human_size

CHUNK_SIZE = 1024 * 1024
ABSENT = {'exists': False}
DIGEST_ATTRIBUTE = 'user.dockyard.sha256'


def _stamp(status):
    return '%d:%d' % (status.st_size, status.st_mtime_ns)


def file_digest(path):
    """``(size, sha256 hex)`` of a file: the one recorded when it was written while its size and mtime are as then.

    A file whose size or modification time moved since, or that carries no record (a file system without
    user extended attributes, a file written by someone else), is read in chunks.
    """
    status = os.stat(path)
    try:
        stamp, _sep, recorded = os.getxattr(path, DIGEST_ATTRIBUTE).decode('ascii').rpartition(':')
    except (OSError, UnicodeDecodeError, AttributeError):
        stamp = recorded = None
    if stamp == _stamp(status) and len(recorded) == 64:
        return status.st_size, recorded
    with open(path, 'rb') as handle:
        return stream_digest(iter(lambda: handle.read(CHUNK_SIZE), b''))


def _record_digest(path, sha256):
    """Record the digest of the file just written; a file system that keeps no user attributes just has none."""
    try:
        os.setxattr(path, DIGEST_ATTRIBUTE, ('%s:%s' % (_stamp(os.stat(path)), sha256)).encode('ascii'))
    except (OSError, AttributeError):
        pass


def stream_digest(chunks):
    """``(size, sha256 hex)`` of a stream of chunks, read to its end and kept nowhere."""
    digest = hashlib.sha256()
    size = 0
    for chunk in chunks:
        digest.update(chunk)
        size += len(chunk)
    return size, digest.hexdigest()


def check_writable(path, action):
    """Raise DockerError('ACTION: ...') with the reason a real write would give when no file can be written at ``path``."""
    directory = os.path.dirname(os.path.abspath(path))
    if os.path.isdir(path):
        raise DockerError('%s: it is a directory; give the file to write' % action)
    if not os.path.isdir(directory):
        reason = 'No such file or directory'
    elif os.access(directory, os.W_OK | os.X_OK):
        return
    elif os.statvfs(directory).f_flag & os.ST_RDONLY:
        reason = 'Read-only file system'
    else:
        reason = 'Permission denied'
    raise DockerError('%s: cannot create a file in %s: %s' % (action, directory, reason))


def check_space(directory, needed, action, untouched='nothing was written'):
    """Raise DockerError('ACTION: ...') with both numbers when ``needed`` bytes cannot fit in ``directory`` now.

    ``untouched`` says what the refusal spared (the caller checks before anything moves).
    """
    stat = os.statvfs(directory)
    free = stat.f_bavail * stat.f_frsize
    if needed > free:
        raise DockerError('%s: it needs about %s (%d bytes) and %s has %s (%d bytes) free; %s '
                          '(disk_check: false skips this check)'
                          % (action, human_size(needed), needed, directory, human_size(free), free, untouched))


def target_state(path, action):
    """``{exists, size, sha256}`` of the file at ``path``, or ABSENT, after ``check_writable``."""
    check_writable(path, action)
    if not os.path.exists(path):
        return dict(ABSENT)
    size, sha256 = file_digest(path)
    return {'exists': True, 'size': size, 'sha256': sha256}


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
    """The mode of the file at ``path``, kept when it is replaced; 0600 for a new one, as ``docker save -o`` makes it."""
    try:
        return os.stat(path).st_mode & 0o7777
    except OSError:
        return 0o600


def _same_content(path, size, sha256):
    try:
        return os.path.getsize(path) == size and file_digest(path) == (size, sha256)
    except OSError:
        return False


def write_atomically(path, chunks, action, compression='none', check=None, keep_same=False):
    """Stream ``chunks`` into ``path`` through a temporary file in its directory; return ``(size, sha256)``.

    The temporary file is flushed, fsynced and, after ``check(temp_path)`` (which
    may raise DockerError) accepts it, renamed over ``path``; with ``keep_same`` it
    is dropped unsynced when ``path`` already holds the same bytes. On any failure it is
    removed, the previous ``path`` is untouched, and DockerError says why, after
    ``action`` (e.g. ``failed to write image archive PATH``).
    """
    directory = os.path.dirname(os.path.abspath(path))
    try:
        handle, temp = tempfile.mkstemp(prefix='.%s.' % os.path.basename(path), suffix='.part', dir=directory)
    except OSError as exc:
        raise DockerError('%s: cannot create a file in %s: %s' % (action, directory, exc.strerror or exc))
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
            written = sink.size, sink.digest.hexdigest()
            same = keep_same and _same_content(path, *written)
            if not same:
                _sync_and_check(raw.fileno(), temp, check)
        if same:
            os.unlink(temp)
            return written
        _record_digest(temp, written[1])
        os.chmod(temp, _new_file_mode(path))
        os.replace(temp, path)
    except BaseException as exc:
        try:
            os.unlink(temp)
        except OSError:
            pass
        if isinstance(exc, OSError):
            raise DockerError('%s: %s' % (action, exc.strerror or exc))
        raise
    _sync_directory(directory)
    return written


def _sync_and_check(handle, temp, check):
    """fsync the temporary file while ``check`` reads it: the one waits on the disk, the other reads the page cache."""
    if check is None:
        os.fsync(handle)
        return
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        checking = pool.submit(check, temp)
        os.fsync(handle)
        checking.result()


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
