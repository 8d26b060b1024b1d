"""image_info against the real engine: docker images, docker inspect -f, docker history."""

from __future__ import annotations

import json
import os
import time

import pytest

from conftest import task


def test_without_name_it_lists_what_docker_images_lists(ansible, engine, unique):
    engine.make_image('info/%s:1' % unique)
    result = ansible.module('image_info')
    assert result['changed'] is False
    listed = set(engine.cli('images', '-q', '--no-trunc').split())
    assert {image['Id'] for image in result['images']} == listed
    assert len(result['images']) == len(listed)


def settled(engine, reference):
    """Wait (at most 2 s) until two inspects of a freshly made image agree: under load the containerd store
    was once seen to answer differently right after an import."""
    for _attempt in range(20):
        first = engine.api.inspect_image(reference)
        time.sleep(0.1)
        if engine.api.inspect_image(reference) == first:
            return


def test_inspect_data_is_what_docker_inspect_prints(ansible, engine, unique):
    reference = 'info/%s:1' % unique
    engine.make_image(reference)
    engine.api.tag(reference, 'info/%s' % unique, 'also')
    settled(engine, reference)

    check, apply = ansible.run(task('image_info', check=True, name=[reference]),
                               task('image_info', name=[reference])).results
    assert check['images'] == apply['images'], 'keys that differ: %s' % sorted(
        key for key in set(check['images'][0]) | set(apply['images'][0])
        if check['images'][0].get(key) != apply['images'][0].get(key))
    assert (check['changed'], apply['changed']) == (False, False)
    [image] = apply['images']
    for template, value in [('{{.Id}}', image['Id']), ('{{.Architecture}}', image['Architecture']),
                            ('{{.Os}}', image['Os']), ('{{.Size}}', str(image['Size'])),
                            ('{{.Created}}', image['Created']), ('{{json .Config.Cmd}}', json.dumps(image['Config']['Cmd'])),
                            ('{{json .RepoTags}}', json.dumps(image['RepoTags']))]:
        assert engine.cli('inspect', '-f', template, reference).strip() == value.replace(', ', ',')
    assert sorted(image['RepoTags']) == ['info/%s:1' % unique, 'info/%s:also' % unique]


def test_missing_names_are_left_out(ansible, engine, unique):
    reference = 'info/%s:1' % unique
    image_id = engine.make_image(reference)

    some = ansible.module('image_info', name=['info/%s:absent' % unique, reference, image_id, 'sha256:' + 'f' * 64])
    assert [image['Id'] for image in some['images']] == [image_id, image_id]
    none = ansible.module('image_info', name=['info/%s:absent' % unique])
    assert none['images'] == []
    assert none['failed'] is False


def test_a_name_without_tag_means_latest_and_ids_may_be_short(ansible, engine, unique):
    image_id = engine.make_image('info/%s:latest' % unique)
    result = ansible.module('image_info', name=['info/%s' % unique, image_id.split(':')[1][:12]])
    assert [image['Id'] for image in result['images']] == [image_id, image_id]


def test_a_short_id_of_any_length_the_daemon_takes_and_an_ambiguous_prefix(ansible, engine, unique):
    image_id = engine.make_image('info/%s:1' % unique)
    first, second, prefix = engine.prefix_twins('info/%s-twins' % unique)
    # The classic store resolves a prefix of any length, the containerd store one of four hex digits or more.
    shortest = 4 if engine.containerd else 1
    candidates = [image_id[7:7 + digits] for digits in range(shortest, 13)]
    unique_prefix = next(text for text in candidates
                         if engine.cli('image', 'inspect', text, check=False).strip() not in ('', '[]'))
    distinct = first[:len(os.path.commonprefix([first, second])) + 1][7:]
    hex_tag = image_id[7:16]
    engine.api.tag(first, hex_tag, 'latest')
    try:
        found, ambiguous, tagged = ansible.run(
            task('image_info', name=[image_id[7:15], 'sha256:' + image_id[7:15], unique_prefix, distinct]),
            task('image_info', name=['info/%s:1' % unique, prefix]),
            task('image_info', name=[hex_tag])).results
        assert [image['Id'] for image in found.get('images', [])] == [image_id, image_id, image_id, first], found.get('msg')
        assert ambiguous['failed'] is True
        assert ambiguous['msg'] == ("name[1]: image ID prefix '%s' is ambiguous: it matches 2 images (%s, %s); "
                                    "give more digits" % ((prefix,) + tuple(sorted([first[7:19], second[7:19]]))))
        # A tag that looks like an ID prefix wins, as with the docker CLI.
        assert [image['Id'] for image in tagged['images']] == [first]
    finally:
        engine.api.remove_image(hex_tag + ':latest')


@pytest.mark.parametrize('filters, cli_filter', [
    (lambda unique: {'reference': 'info/%s*' % unique}, lambda unique: 'reference=info/%s*' % unique),
    (lambda unique: {'dangling': True}, lambda unique: 'dangling=true'),
    (lambda unique: {'label': 'dockyard.test=%s' % unique}, lambda unique: 'label=dockyard.test=%s' % unique),
])
def test_filters_agree_with_docker_images_filter(ansible, engine, unique, filters, cli_filter):
    engine.make_image('info/%s-a:1' % unique)
    engine.make_image('info/%s-b:1' % unique)
    engine.make_image('info/%s-d:1' % unique)
    engine.make_image('info/%s-d:1' % unique, marker='newer')  # the first image keeps no tag: dangling
    labelled = engine.api.commit(engine.cli('create', '--network', 'none', 'info/%s-b:1' % unique).strip(),
                                 repository='info/%s-l' % unique, tag='1',
                                 changes=['LABEL dockyard.test=%s' % unique])['Id']
    assert labelled

    result = ansible.module('image_info', filters=filters(unique))
    expected = set(engine.cli('images', '-q', '--no-trunc', '--filter', cli_filter(unique)).split())
    assert expected, 'the filter must match something for the comparison to mean anything'
    assert {image['Id'] for image in result['images']} == expected


def test_history_is_what_docker_history_shows(ansible, engine, unique):
    base = 'info/%s:base' % unique
    engine.make_image(base)
    container = engine.cli('create', '--network', 'none', base, '/bin/sh', '-c', 'echo hi > /etc/hi').strip()
    engine.cli('start', '-a', container)
    engine.cli('commit', '-m', 'say hi', '-a', 'Tester', container, 'info/%s:top' % unique)

    result = ansible.module('image_info', name=['info/%s:top' % unique], history=True)
    history = result['images'][0]['history']
    shown = [json.loads(line) for line in engine.cli(
        'history', '--no-trunc', '--human=false', '--format', '{{json .}}', 'info/%s:top' % unique).splitlines()]
    assert len(history) == len(shown) == 2
    for layer, row in zip(history, shown):
        assert layer['id'] == row['ID']
        assert layer['created_by'] == row['CreatedBy']
        assert str(layer['size']) == row['Size']
        assert layer['comment'] == row['Comment']
        assert layer['created'] == row['CreatedAt']
    assert history[0]['comment'] == 'say hi'


def test_bad_input_and_an_unreachable_daemon(ansible):
    bad, both, unreachable = ansible.run(
        task('image_info', name=['busybox', 'Bad Name']),
        task('image_info', name=['busybox'], filters={'dangling': True}),
        task('image_info', docker_host='unix:///nonexistent/docker.sock')).results
    assert bad['msg'] == "name[1]: invalid image reference 'Bad Name': it contains white space"
    assert both['msg'] == 'parameters are mutually exclusive: name|filters'
    assert unreachable['msg'] == ('Cannot connect to the Docker daemon at unix:///nonexistent/docker.sock: '
                                  'No such file or directory')


def test_the_list_view_has_the_rows_of_docker_images(ansible, engine, unique):
    engine.make_image('info/%s-list:1' % unique)
    engine.api.tag('info/%s-list:1' % unique, 'info/%s-list' % unique, 'two')
    filters = {'reference': 'info/%s-list' % unique}
    check, apply = ansible.run(task('image_info', check=True, view='list', filters=filters),
                               task('image_info', view='list', filters=filters)).results
    assert check['images'] == apply['images']
    assert apply['changed'] is False
    printed = engine.cli('images', '--filter', 'reference=info/%s-list' % unique, '--format',
                         '{{.Repository}} {{.Tag}} {{.ID}} {{.Size}}').split('\n')
    assert sorted('%(repository)s %(tag)s %(id)s %(size)s' % row for row in apply['images']) == sorted(
        line for line in printed if line)
    # The size of the image list, as docker images prints it: on the containerd store it is the unpacked
    # size, which inspect's Size (the content) is not.
    listed = engine.api.images(filters=filters)
    assert {row['size_bytes'] for row in apply['images']} == {summary['Size'] for summary in listed}


def test_fields_are_what_docker_inspect_f_prints(ansible, engine, unique):
    reference = 'info/%s-fields:1' % unique
    engine.make_image(reference)
    result = ansible.module('image_info', name=[reference], fields=['Id', '.Architecture', 'Config.Cmd', 'Nope'])
    [picked] = result['images']
    assert sorted(picked) == ['Architecture', 'Config.Cmd', 'Id', 'Nope']
    assert picked['Id'] == engine.cli('inspect', '-f', '{{.Id}}', reference).strip()
    assert picked['Architecture'] == engine.cli('inspect', '-f', '{{.Architecture}}', reference).strip()
    assert json.dumps(picked['Config.Cmd']).replace(', ', ',') == engine.cli(
        'inspect', '-f', '{{json .Config.Cmd}}', reference).strip()
    assert picked['Nope'] is None


@pytest.mark.parametrize('args, message', [
    (dict(view='list', fields=['Id']),
     'view=list shows the image list as docker images does; name, fields and history need view=inspect'),
    (dict(fields=['Id'], history=True), 'history adds to the whole inspect data; leave out fields to get it'),
    (dict(fields=['Config..Cmd']),
     "fields[0]: 'Config..Cmd' is no field of the inspect data; give a dotted path such as Config.Labels"),
    (dict(view='table'), 'value of view must be one of: inspect, list, got: table'),
])
def test_views_refuse_what_they_cannot_show(ansible, args, message):
    result = ansible.module('image_info', **args)
    assert result['failed'] is True
    assert result['msg'] == message


def test_a_community_docker_task_runs_renamed(ansible, engine, unique):
    """community.docker.docker_image_info's options and result; use_ssh_client only matters for ssh:// hosts."""
    reference = 'info/%s:1' % unique
    image_id = engine.make_image(reference)
    result = ansible.module('image_info', name=[reference, 'info/%s:missing' % unique], use_ssh_client=True)
    assert result['changed'] is False
    assert [image['Id'] for image in result['images']] == [image_id]
    assert result['images'][0] == engine.api.inspect_image(reference)
