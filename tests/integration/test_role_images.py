"""The images role's items: names, and mappings with a name and a platform."""

from __future__ import annotations


def role(**variables):
    return {'name': 'the images role', 'ansible.builtin.include_role': {'name': 'dockyard.docker.images'},
            'vars': variables, 'ignore_errors': True}


def test_items_with_a_platform_are_pulled_for_it(ansible, engine, unique):
    plain = engine.publish('role/%s-plain' % unique)[0]
    pinned, pinned_id = engine.publish('role/%s-pinned' % unique)
    # The daemon's own platform, which its imported images have: given explicitly, it pulls the same image.
    version = engine.api.version()
    platform = '%s/%s' % (version['Os'], version['Arch'])
    present = [plain, {'name': pinned, 'platform': platform}]
    run = ansible.run(role(images_present=present), role(images_present=present))
    pulls = [result for result in run.results if result['_task'].endswith('one platform at a time')]
    assert [result['changed'] for result in pulls] == [True, False], run.stdout
    assert [item['platform'] for item in pulls[0]['results']] == ['', platform]
    assert [item['changed'] for item in pulls[0]['results']] == [True, True]
    assert [item['images'][0]['RepoTags'] for item in pulls[0]['results']] == [[plain], [pinned]]
    assert engine.image_id(pinned) == pinned_id


def test_an_item_that_is_neither_a_name_nor_a_mapping_with_a_name_is_refused(ansible):
    run = ansible.run(role(images_present=['busybox:1', {'image': 'busybox:2'}]))
    refused = next(result for result in run.results if result['failed'])
    assert [item['msg'] for item in refused['results'] if item.get('evaluated_to') is False] == [
        'images_present[1] must be an image name or a mapping with name and an optional platform, '
        'not {"image": "busybox:2"}']
