"""image_load against the real engine: docker load -i FILE, from the host (path) or the controller (src)."""

from __future__ import annotations

import bz2
import gzip
import json
import lzma
import os
import tarfile

import pytest

from conftest import task


def save(engine, path, *names):
    engine.cli('save', '-o', str(path), *names)
    return str(path)


def remove(engine, *names):
    engine.cli('image', 'rm', *names)
    for name in names:
        assert engine.image_id(name) is None


def two_images(engine, unique, tmp_path):
    """Two images archived together with ``docker save`` and then removed from the engine."""
    first, second = 'load/%s-a:1.0' % unique, 'load/%s-b:2.0' % unique
    ids = {first: engine.make_image(first), second: engine.make_image(second)}
    path = save(engine, tmp_path / 'two.tar', first, second)
    remove(engine, first, second)
    return path, ids


def test_load_check_apply_and_idempotence(ansible, engine, unique, tmp_path):
    path, ids = two_images(engine, unique, tmp_path)
    first, second = sorted(ids)

    check = ansible.module('image_load', check=True, path=path)
    assert check['changed'] is True
    assert check['actions'] == ['Loaded %s, %s from %s' % (first, second, path)]
    assert [image['Id'] for image in check['images']] == [ids[first], ids[second]]
    assert check['stdout'] == ''
    assert check['diff']['before'] == {ids[first]: {'exists': False}, ids[second]: {'exists': False}}
    assert engine.image_id(first) is None, 'check mode must not load'

    apply, check_again, apply_again = ansible.run(task('image_load', path=path), task('image_load', check=True, path=path),
                                                  task('image_load', path=path)).results

    assert apply['changed'] is True
    assert apply['actions'] == ['Loaded %s, %s from %s' % (first, second, path)]
    assert apply['image_names'] == [first, second]
    assert [(image['Id'], image['RepoTags']) for image in apply['images']] == [(ids[first], [first]), (ids[second], [second])]
    assert sorted(apply['stdout'].splitlines()) == ['Loaded image: %s' % first, 'Loaded image: %s' % second]
    assert apply['diff']['after'] == check['diff']['after']
    # The containerd store shows a digest per repository of a loaded image; the classic store none.
    digests = sorted(engine.api.inspect_image(first)['RepoDigests'])
    assert check['diff']['after'][ids[first]] == {'exists': True, 'id': ids[first], 'tags': [first], 'digests': digests}
    assert engine.image_id(first) == ids[first]
    assert engine.image_id(second) == ids[second]

    assert check_again['changed'] is False
    assert apply_again['changed'] is False
    assert apply_again['actions'] == []
    assert apply_again['stdout'] == '', 'nothing was loaded'
    assert apply_again['images'] == apply['images']
    assert apply_again['diff']['before'] == apply_again['diff']['after']
    assert sorted(apply_again['image_names']) == [first, second]


def test_transfer_figures_of_a_load(ansible, engine, unique, tmp_path):
    base, child = 'load/%s-base:1' % unique, 'load/%s-child:1' % unique
    engine.make_image(base)
    engine.make_child(child, base)
    path = save(engine, tmp_path / 'child.tar', child)
    remove(engine, child)  # the base image stays, and with it the child's first layer

    check, apply, check_again, apply_again = ansible.sequence('image_load', path=path)
    assert check['transfer'] == {'bytes': 0, 'layers': 0, 'layers_present': 0, 'seconds': 0.0}
    # The whole archive is sent; the daemon stores only the layer the engine lacked.
    assert {key: apply['transfer'][key] for key in ('bytes', 'layers', 'layers_present')} == {
        'bytes': os.path.getsize(path), 'layers': 1, 'layers_present': 1}
    assert apply['transfer']['seconds'] > 0
    for again in (check_again, apply_again):
        assert again['changed'] is False
        assert again['transfer'] == {'bytes': 0, 'layers': 0, 'layers_present': 2, 'seconds': 0.0}


def test_an_archive_of_tags_and_an_id_lists_an_image_per_name(ansible, engine, unique, tmp_path):
    """As community.docker.docker_image_load returns them: one inspect per name loaded, in image_names' order."""
    first, second, bare = 'load/%s-a:1.0' % unique, 'load/%s-a:2.0' % unique, 'load/%s-bare:1' % unique
    tagged_id = engine.make_image(first)
    engine.api.tag(tagged_id, first.split(':')[0], '2.0')
    bare_id = engine.make_image(bare)
    path = save(engine, tmp_path / 'mixed.tar', first, second, bare_id)
    remove(engine, first, second, bare)

    check, apply, again = ansible.run(task('image_load', check=True, path=path), task('image_load', path=path),
                                      task('image_load', path=path)).results
    for result in (check, apply, again):
        assert len(result['image_names']) == len(result['images']) == 3
        assert result['image_names'][:2] == [first, second]
        assert [image['Id'] for image in result['images']] == [tagged_id, tagged_id, bare_id]
    assert (check['changed'], apply['changed'], again['changed']) == (True, True, False)
    assert (check['stdout'], again['stdout']) == ('', '')
    # The daemon's own lines; Docker 20.10 also prints an ID line for a tagged image saved with an ID beside it.
    lines = apply['stdout'].splitlines()
    assert {'Loaded image: %s' % first, 'Loaded image: %s' % second} <= set(lines)
    assert all(line.startswith('Loaded image') for line in lines)
    assert apply['image_names'][2] == bare_id
    assert apply['images'][2]['RepoTags'] == []


def test_an_archive_written_by_image_archive_loads_back_with_both_tags(ansible, engine, unique, tmp_path):
    first, second = 'load/%s-a:1.0' % unique, 'load/%s-b:2.0' % unique
    ids = {first: engine.make_image(first), second: engine.make_image(second)}
    path = str(tmp_path / 'two.tar.gz')

    archived = ansible.module('image_archive', names=[first, second], path=path, compression='gzip')
    assert archived['changed'] is True
    remove(engine, first, second)

    loaded, again = ansible.run(task('image_load', path=path), task('image_load', path=path)).results
    assert loaded['changed'] is True
    assert again['changed'] is False
    assert {name: engine.image_id(name) for name in ids} == ids


def test_compressed_archives_load(ansible, engine, unique, tmp_path):
    openers = {'gzip': gzip.open, 'bzip2': bz2.open, 'xz': lzma.open}
    names = {compression: 'load/%s-%s:1.0' % (unique, compression) for compression in openers}
    ids = {compression: engine.make_image(name) for compression, name in names.items()}
    paths = {}
    for compression, opener in openers.items():
        plain = save(engine, tmp_path / 'plain.tar', names[compression])
        paths[compression] = str(tmp_path / ('one.tar.' + compression))
        with open(plain, 'rb') as source, opener(paths[compression], 'wb') as target:
            target.write(source.read())
    remove(engine, *names.values())

    results = ansible.run(*(task('image_load', path=paths[compression]) for compression in openers)).results
    assert [result['changed'] for result in results] == [True, True, True]
    assert {compression: engine.image_id(name) for compression, name in names.items()} == ids


def test_a_moved_tag_is_loaded_back(ansible, engine, unique, tmp_path):
    name = 'load/%s:1.0' % unique
    image_id = engine.make_image(name, marker='archived')
    path = save(engine, tmp_path / 'one.tar', name)
    other_id = engine.make_image(name, marker='other')  # the tag moves to another image

    check, apply, again = ansible.run(task('image_load', check=True, path=path), task('image_load', path=path),
                                      task('image_load', path=path)).results
    assert check['changed'] is True
    assert apply['changed'] is True
    assert apply['diff']['before'][image_id]['tags'] == []
    assert apply['diff']['after'][image_id]['tags'] == [name]
    assert engine.image_id(name) == image_id != other_id
    assert again['changed'] is False


def _flip_a_layer_byte(path, last=False):
    """Change one byte inside the data of the first layer manifest.json names, keeping the tar itself whole; with
    ``last``, of the layer that comes last in the tar, whose bytes reach the daemon last.

    That is ``<id>/layer.tar`` in the classic layout and ``blobs/sha256/<digest>`` in the OCI one.
    """
    with tarfile.open(path) as tar:
        layers = []
        for entry in json.load(tar.extractfile('manifest.json')):
            for name in entry['Layers']:
                layer = tar.getmember(name)
                while layer.issym():
                    layer = tar.getmember(os.path.normpath(os.path.join(os.path.dirname(layer.name), layer.linkname)))
                layers.append(layer)
        layer = max(layers, key=lambda member: member.offset_data) if last else layers[0]
        assert layer.size > 4096, 'busybox makes a layer of more than a few blocks'
        offset = layer.offset_data + layer.size // 2
    with open(path, 'r+b') as handle:
        handle.seek(offset)
        byte = handle.read(1)
        handle.seek(offset)
        handle.write(bytes([byte[0] ^ 0xFF]))


@pytest.mark.fault('truncated, corrupt and non-archive files for image_load')
def test_broken_archives_fail_cleanly_and_load_nothing(ansible, engine, unique, tmp_path):
    path, ids = two_images(engine, unique, tmp_path)
    whole = open(path, 'rb').read()
    truncated = tmp_path / 'truncated.tar'
    truncated.write_bytes(whole[:len(whole) * 3 // 4])
    corrupt = tmp_path / 'corrupt.tar'
    corrupt.write_bytes(whole)
    _flip_a_layer_byte(str(corrupt))
    not_tar = tmp_path / 'notes.tar'
    not_tar.write_text('these are not the images you are looking for\n' * 40)
    no_manifest = tmp_path / 'plain.tar'
    with tarfile.open(str(no_manifest), 'w') as tar:
        tar.add(str(not_tar), arcname='notes.txt')
    missing = tmp_path / 'missing.tar'

    broken = (missing, not_tar, no_manifest, truncated, corrupt)
    results = ansible.run(*(task('image_load', path=str(item)) for item in broken)).results
    assert [result['failed'] for result in results] == [True] * 5
    assert [result['msg'] for result in results[:3]] == [
        'failed to read image archive %s: No such file or directory' % missing,
        '%s is not an image archive: it is not a tar file (invalid header)' % not_tar,
        '%s is not an image archive: it has no manifest.json' % no_manifest,
    ]
    assert results[3]['msg'] == '%s is truncated or corrupt: unexpected end of data' % truncated
    assert results[4]['msg'].startswith('%s is corrupt: layer ' % corrupt)
    assert 'does not match its digest sha256:' in results[4]['msg']
    for name, image_id in ids.items():
        assert engine.image_id(name) is None, 'no image is left under the archive tags'
        assert engine.image_id(image_id) is None


@pytest.mark.fault('an archive whose last layer is corrupt, checked while the daemon already reads it')
def test_an_archive_corrupt_at_its_end_loads_none_of_its_images(ansible, engine, unique, tmp_path):
    """A plain archive is checked as it is sent: most of it reaches the daemon before the check finds the spoilt
    layer, the end of the tar is held back, and the load is cut short: not even the image whose layers were whole
    loads."""
    path, ids = two_images(engine, unique, tmp_path)
    _flip_a_layer_byte(str(path), last=True)

    result = ansible.module('image_load', path=str(path))
    assert result['failed'] is True
    assert result['msg'].startswith('%s is corrupt: layer ' % path)
    assert 'does not match its digest sha256:' in result['msg']
    for name, image_id in ids.items():
        assert engine.image_id(name) is None, 'no image is left under the archive tags'
        assert engine.image_id(image_id) is None


def test_a_controller_archive_is_sent_only_to_a_host_that_lacks_its_images(ansible, engine, unique, tmp_path):
    path, ids = two_images(engine, unique, tmp_path)
    first, second = sorted(ids)

    check, sent, not_sent = ansible.run(task('image_load', check=True, src=path), task('image_load', src=path),
                                        task('image_load', src=path)).results
    assert check['changed'] is True
    assert check['transferred'] is False
    assert check['actions'] == ['Loaded %s, %s from %s' % (first, second, path)]
    assert sent['changed'] is True
    assert sent['transferred'] is True
    assert sent['actions'] == ['Loaded %s, %s from %s' % (first, second, path)]
    assert [image['Id'] for image in sent['images']] == [ids[first], ids[second]]
    assert sorted(sent['stdout'].splitlines()) == ['Loaded image: %s' % first, 'Loaded image: %s' % second]
    assert {name: engine.image_id(name) for name in ids} == ids
    assert not_sent['changed'] is False
    assert not_sent['transferred'] is False
    assert not_sent['actions'] == []
    assert not_sent['stdout'] == ''
    assert not_sent['images'] == sent['images']

    remove(engine, second)
    resent = ansible.module('image_load', src=path)
    assert resent['transferred'] is True, 'a host that lacks one of the images gets the archive'
    assert engine.image_id(second) == ids[second]


@pytest.mark.fault('wrong options and broken controller-side archives for image_load')
def test_wrong_options_and_broken_controller_archives_send_nothing(ansible, tmp_path):
    broken = tmp_path / 'broken.tar'
    broken.write_bytes(b'\0' * 100)

    neither, both, missing, result = ansible.run(
        task('image_load'), task('image_load', path='/x.tar', src='/y.tar'),
        task('image_load', src=str(tmp_path / 'nope.tar')), task('image_load', src=str(broken))).results
    assert neither['msg'] == 'one of path or src is required'
    assert both['msg'] == 'parameters are mutually exclusive: path|src'
    assert missing['failed'] is True
    assert missing['transferred'] is False
    assert missing['msg'].startswith('src %s: Could not find or access' % (tmp_path / 'nope.tar'))
    assert result['failed'] is True
    assert result['transferred'] is False
    assert result['msg'] == '%s is not an image archive: it is not a tar file (truncated header)' % broken
    assert not [name for name in os.listdir(str(tmp_path)) if name != 'broken.tar']


def test_an_archive_whose_images_are_present_is_read_for_its_index_only(ansible, engine, unique, tmp_path):
    """A re-run reads the manifests and configs, not the layers: a layer spoilt on disk goes unnoticed until
    an image is missing, when the whole archive is checked before the daemon can finish loading any of it."""
    path, ids = two_images(engine, unique, tmp_path)
    loaded = ansible.module('image_load', path=str(path))
    assert loaded['changed'] is True
    _flip_a_layer_byte(str(path))
    again = ansible.module('image_load', path=str(path))
    assert again['failed'] is False, again.get('msg')
    assert again['changed'] is False
    remove(engine, *ids)
    refused = ansible.module('image_load', path=str(path))
    assert refused['failed'] is True
    assert refused['msg'].startswith('%s is corrupt: layer ' % path)
    assert all(engine.image_id(name) is None for name in ids)
