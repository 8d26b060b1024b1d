"""container_export against the real engine: docker export CONTAINER > FILE."""

from __future__ import annotations

import hashlib
import os
import stat
import subprocess
import tarfile

from conftest import task


def stopped_container(engine, unique, content=None):
    """A stopped container of a fresh busybox image that wrote /exported; returns its name."""
    image = engine.make_image('export/%s-base:1' % unique, 'export-%s' % unique)
    name = 'export-%s' % unique
    engine.cli('create', '--network', 'none', '--name', name, image, 'sh', '-c',
               'echo %s > /exported' % (content or unique))
    engine.cli('start', '-a', name)
    return name


def cli_export(engine, name, path):
    """``docker export NAME > PATH`` with the docker CLI; returns the sha256 of PATH."""
    with open(path, 'wb') as target:
        subprocess.run(['docker', '-H', engine.host, 'export', name], stdout=target, check=True)
    return sha256_of(path)


def sha256_of(path):
    with open(path, 'rb') as source:
        return hashlib.sha256(source.read()).hexdigest()


def test_export_check_apply_and_idempotence(ansible, engine, unique, tmp_path):
    name = stopped_container(engine, unique)
    container_id = engine.cli('inspect', '--format', '{{.Id}}', name).strip()
    path = str(tmp_path / 'fs.tar')
    reference = cli_export(engine, name, str(tmp_path / 'by-cli.tar'))
    size = os.path.getsize(str(tmp_path / 'by-cli.tar'))
    after = {'exists': True, 'size': size, 'sha256': reference}

    check, apply, check_again, apply_again = ansible.sequence('container_export', container=name, path=path)

    assert check['changed'] is True
    assert check['actions'] == ['Would export container %s to %s' % (name, path)]
    assert (check['container'], check['size'], check['sha256']) == (container_id, size, reference)
    assert check['diff'] == {'before': {path: {'exists': False}}, 'after': {path: after}}

    assert apply['changed'] is True
    assert apply['actions'] == ['Exported container %s to %s' % (name, path)]
    assert apply['diff'] == check['diff']
    assert (apply['size'], apply['sha256']) == (size, reference)
    assert sha256_of(path) == reference, 'the file holds what docker export writes, byte for byte'
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    with tarfile.open(path) as tar:
        assert tar.extractfile('exported').read() == (unique + '\n').encode()
    assert not [entry for entry in os.listdir(str(tmp_path)) if entry.endswith('.part')]

    for again in (check_again, apply_again):
        assert again['changed'] is False
        assert again['actions'] == []
        assert again['diff'] == {'before': {path: after}, 'after': {path: after}}
        assert (again['size'], again['sha256']) == (size, reference)


def test_an_unchanged_container_leaves_the_file_untouched(ansible, engine, unique, tmp_path):
    name = stopped_container(engine, unique)
    path = str(tmp_path / 'fs.tar')
    first = ansible.module('container_export', container=name, path=path)
    assert first['changed'] is True
    os.utime(path, (1000000000, 1000000000))

    again = ansible.module('container_export', container=name, path=path)
    assert again['changed'] is False
    assert os.stat(path).st_mtime == 1000000000, 'a re-run with the same content does not rewrite the file'


def test_a_changed_container_replaces_the_file(ansible, engine, unique, tmp_path):
    name = stopped_container(engine, unique)
    path = str(tmp_path / 'fs.tar')
    old = ansible.module('container_export', container=name, path=path)
    engine.cli('cp', str(tmp_path / 'fs.tar'), '%s:/copied.tar' % name)

    check, apply = ansible.run(task('container_export', check=True, container=name, path=path),
                               task('container_export', container=name, path=path)).results
    assert check['changed'] is True
    assert check['sha256'] == apply['sha256'] != old['sha256']
    assert check['diff']['before'] == {path: {'exists': True, 'size': old['size'], 'sha256': old['sha256']}}
    assert apply['changed'] is True
    assert sha256_of(path) == apply['sha256']
    with tarfile.open(path) as tar:
        assert 'copied.tar' in tar.getnames()


def test_file_attributes_as_copy_takes_them(ansible, engine, unique, tmp_path):
    name = stopped_container(engine, unique)
    path = str(tmp_path / 'fs.tar')
    ansible.module('container_export', container=name, path=path)

    check, apply, again = ansible.run(task('container_export', check=True, container=name, path=path, mode='0640'),
                                      task('container_export', container=name, path=path, mode='0640'),
                                      task('container_export', container=name, path=path, mode='0640')).results
    for result in (check, apply):
        assert result['changed'] is True
        assert result['diff']['before'][path]['mode'] == '0600'
        assert result['diff']['after'][path]['mode'] == '0640'
    assert check['actions'] == ['Would set the attributes of %s' % path]
    assert apply['actions'] == ['Set the attributes of %s' % path]
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o640
    assert again['changed'] is False


def test_failures_name_what_is_wrong(ansible, engine, unique, tmp_path):
    name = stopped_container(engine, unique)
    no_dir = str(tmp_path / 'no-such-dir' / 'c.tar')
    missing, empty, no_dir_check, no_dir_apply, a_dir = ansible.run(
        task('container_export', container='export-absent-%s' % unique, path=str(tmp_path / 'a.tar')),
        task('container_export', container='', path=str(tmp_path / 'b.tar')),
        task('container_export', check=True, container=name, path=no_dir),
        task('container_export', container=name, path=no_dir),
        task('container_export', container=name, path=str(tmp_path))).results
    assert missing['failed'] is True
    assert missing['msg'] == 'failed to export container export-absent-%s: no such container' % unique
    assert empty['msg'] == 'container is empty: give it a value'
    for result in (no_dir_check, no_dir_apply):
        assert result['msg'] == ('failed to write the export of container %s to %s: cannot create a file in %s: '
                                 'No such file or directory' % (name, no_dir, tmp_path / 'no-such-dir'))
    assert a_dir['msg'] == ('failed to write the export of container %s to %s: it is a directory; give the file '
                            'to write' % (name, tmp_path))
    assert os.listdir(str(tmp_path)) == []
