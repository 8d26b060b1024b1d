"""Writing files from a daemon's stream: atomically, keeping what is already the same."""

from __future__ import annotations

import gzip
import hashlib
import os

import pytest

from ansible_collections.dockyard.docker.plugins.module_utils._errors import DockerError
from ansible_collections.dockyard.docker.plugins.module_utils._files import (
    DIGEST_ATTRIBUTE,
    check_space,
    file_digest,
    stream_digest,
    target_state,
    write_atomically,
)

ACTION = 'failed to write image archive out.tar'


def sha(data):
    return hashlib.sha256(data).hexdigest()


def chunks(*parts, fail=None):
    yield from parts
    if fail:
        raise fail


@pytest.mark.parametrize('compression', ['none', 'gzip'])
def test_write_atomically_replaces_the_file(tmp_path, compression):
    path = tmp_path / 'out.tar'
    path.write_bytes(b'old')
    os.chmod(str(path), 0o640)

    size, written = write_atomically(str(path), chunks(b'abc', b'def'), ACTION, compression)
    data = path.read_bytes()
    assert (gzip.decompress(data) if compression == 'gzip' else data) == b'abcdef'
    assert (size, written) == (len(data), sha(data)) == file_digest(str(path))
    assert os.stat(str(path)).st_mode & 0o777 == 0o640, 'the previous file mode is kept'
    assert os.listdir(str(tmp_path)) == ['out.tar']


def test_a_new_file_is_readable_by_its_owner_only(tmp_path):
    path = tmp_path / 'out.tar'
    write_atomically(str(path), chunks(b'abc'), ACTION)
    assert os.stat(str(path)).st_mode & 0o777 == 0o600, 'as docker save -o creates it'


def test_a_failing_stream_leaves_the_previous_file_and_no_temporary_file(tmp_path):
    path = tmp_path / 'out.tar'
    path.write_bytes(b'previous archive')

    with pytest.raises(DockerError) as error:
        write_atomically(str(path), chunks(b'abc', fail=DockerError('failed to save app:1: connection reset')), ACTION)
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
        write_atomically(str(path), chunks(b'abc'), ACTION, check=reject)
    assert path.read_bytes() == b'previous archive'
    assert os.listdir(str(tmp_path)) == ['out.tar']


def test_a_missing_directory(tmp_path):
    with pytest.raises(DockerError) as error:
        write_atomically(str(tmp_path / 'no' / 'out.tar'), chunks(b'abc'), ACTION)
    assert str(error.value) == ('%s: cannot create a file in %s/no: No such file or directory' % (ACTION, tmp_path))


def test_keep_same_leaves_a_file_with_the_same_bytes_untouched(tmp_path):
    path = tmp_path / 'out.tar'
    path.write_bytes(b'abcdef')
    os.utime(str(path), (1000000000, 1000000000))

    assert write_atomically(str(path), chunks(b'abc', b'def'), ACTION, keep_same=True) == (6, sha(b'abcdef'))
    assert os.stat(str(path)).st_mtime == 1000000000
    assert os.listdir(str(tmp_path)) == ['out.tar']

    write_atomically(str(path), chunks(b'abc', b'deg'), ACTION, keep_same=True)
    assert path.read_bytes() == b'abcdeg', 'other bytes replace the file'


def test_stream_digest_reads_the_stream_to_its_end():
    assert stream_digest(chunks(b'abc', b'def')) == (6, sha(b'abcdef')) == stream_digest(iter([b'abcdef']))


def test_target_state(tmp_path):
    path = tmp_path / 'out.tar'
    assert target_state(str(path), ACTION) == {'exists': False}
    path.write_bytes(b'abc')
    assert target_state(str(path), ACTION) == {'exists': True, 'size': 3, 'sha256': sha(b'abc')}
    with pytest.raises(DockerError) as error:
        target_state(str(tmp_path), ACTION)
    assert str(error.value) == ACTION + ': it is a directory; give the file to write'
    with pytest.raises(DockerError) as error:
        target_state(str(tmp_path / 'no' / 'out.tar'), ACTION)
    assert str(error.value) == '%s: cannot create a file in %s/no: No such file or directory' % (ACTION, tmp_path)


def test_the_space_check_names_both_numbers_and_lets_what_fits_through(tmp_path):
    action = 'failed to write image archive %s' % (tmp_path / 'images.tar')
    check_space(str(tmp_path), 1, action)
    stat = os.statvfs(str(tmp_path))
    free = stat.f_bavail * stat.f_frsize
    with pytest.raises(DockerError) as caught:
        check_space(str(tmp_path), free * 2, action)
    assert str(caught.value).startswith(action + ': it needs about ')
    assert '(%d bytes) and %s has ' % (free * 2, tmp_path) in str(caught.value)
    assert str(caught.value).endswith('free; nothing was written (disk_check: false skips this check)')
    with pytest.raises(DockerError) as caught:
        check_space(str(tmp_path), free * 2, 'failed to pull x:1', 'nothing was pulled')
    assert str(caught.value).endswith('free; nothing was pulled (disk_check: false skips this check)')


def test_a_written_file_records_its_digest_and_an_unchanged_one_is_not_read_again(tmp_path):
    path = tmp_path / 'out.tar'
    write_atomically(str(path), chunks(b'abc', b'def'), ACTION)
    status = os.stat(path)
    assert os.getxattr(path, DIGEST_ATTRIBUTE) == (
        '%d:%d:%s' % (status.st_size, status.st_mtime_ns, sha(b'abcdef'))).encode()
    # A record that holds for the file's size and mtime is taken without reading: a false one shows it.
    os.setxattr(path, DIGEST_ATTRIBUTE, ('%d:%d:%s' % (status.st_size, status.st_mtime_ns, 'f' * 64)).encode())
    assert file_digest(str(path)) == (6, 'f' * 64)


def test_a_file_changed_since_its_record_is_read(tmp_path):
    path = tmp_path / 'out.tar'
    write_atomically(str(path), chunks(b'abcdef'), ACTION)
    with open(path, 'r+b') as handle:
        handle.write(b'ABC')
    os.utime(path, ns=(0, os.stat(path).st_mtime_ns + 1))
    assert file_digest(str(path)) == (6, sha(b'ABCdef'))
    plain = tmp_path / 'plain.tar'
    plain.write_bytes(b'no record')
    assert file_digest(str(plain)) == (9, sha(b'no record'))
