"""The result builder: the diff shapes community.docker's modules return, and changed derived from them."""

from __future__ import annotations

from ansible_collections.dockyard.docker.plugins.module_utils._diff import ABSENT, Outcome, image_state, target_state

IMAGE_ID = 'sha256:' + 'ab' * 32


def test_one_object_stands_at_the_top_of_each_side_besides_its_keyed_entry():
    outcome = Outcome(single=True)
    after = image_state({'Id': IMAGE_ID, 'RepoTags': ['app:1']})
    outcome.record('app:1', dict(ABSENT), after)
    diff = outcome.result(True)['diff']
    assert diff == {'before': {'exists': False, 'app:1': {'exists': False}},
                    'after': dict(after, **{'app:1': after})}
    assert outcome.changed is True


def test_several_objects_are_keyed_only_and_no_diff_without_diff_mode():
    outcome = Outcome(single=True)
    outcome.record('a:1', dict(ABSENT), dict(ABSENT))
    outcome.record('b:1', dict(ABSENT), dict(ABSENT))
    assert outcome.result(True)['diff']['before'] == {'a:1': ABSENT, 'b:1': ABSENT}
    assert 'diff' not in outcome.result(False)
    assert outcome.changed is False


def test_a_predicted_image_without_an_id_is_unknown():
    assert image_state({'Id': None, 'RepoTags': ['app:1'], 'RepoDigests': ['app@sha256:' + 'cd' * 32]}) == {
        'exists': True, 'id': 'unknown', 'tags': ['app:1'], 'digests': ['app@sha256:' + 'cd' * 32]}


def test_targets_are_listed_in_order_as_image_tag_lists_them():
    outcome = Outcome()
    outcome.record_item('images', target_state('registry:5000/app:2', None),
                        target_state('registry:5000/app:2', {'Id': IMAGE_ID}))
    outcome.record_item('images', target_state('app:1', {'Id': IMAGE_ID}), target_state('app:1', {'Id': IMAGE_ID}))
    assert outcome.before['images'] == [{'name': 'registry:5000/app', 'tag': '2', 'exists': False},
                                        {'name': 'app', 'tag': '1', 'exists': True, 'id': IMAGE_ID}]
    assert outcome.after['images'][0] == {'name': 'registry:5000/app', 'tag': '2', 'exists': True, 'id': IMAGE_ID}
    assert outcome.changed is True
