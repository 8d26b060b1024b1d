"""Two plays at once on the same images, as two operators (or two CI jobs) run them against one engine.

Each play plans from what the engine holds when it starts; the other may change that under it. What must
hold: neither play fails for what the other did, the engine ends as both asked, and a run after them is ok.
"""

from __future__ import annotations

import threading

import pytest

from conftest import task

pytestmark = pytest.mark.fault


def at_once(ansible, *plays):
    """Run each list of tasks as its own ansible-playbook, all started together; their results, in order."""
    runs = [None] * len(plays)
    start = threading.Barrier(len(plays))

    def play(index):
        start.wait()
        runs[index] = ansible.run(*plays[index]).results

    threads = [threading.Thread(target=play, args=(index,)) for index in range(len(plays))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return runs


def failures(results):
    return [result.get('msg') for result in results if result.get('failed')]


@pytest.mark.fault('two plays at once pulling the same four images and tagging them alike')
def test_two_plays_pulling_and_tagging_the_same_images_both_succeed(ansible, engine, unique):
    published = [engine.publish('overlap/%s-%d' % (unique, index)) for index in range(4)]
    names = [reference for reference, _image_id in published]
    play = [task('image_pull', name=names)] + [
        task('image_tag', name=reference, repository=['overlap/%s-alias:%d' % (unique, index)])
        for index, reference in enumerate(names)]
    first, second = at_once(ansible, play, play)
    assert failures(first) == [] and failures(second) == []
    for index, (reference, image_id) in enumerate(published):
        assert engine.image_id(reference) == image_id
        assert engine.image_id('overlap/%s-alias:%d' % (unique, index)) == image_id
    again = ansible.run(*play).results
    assert [result['changed'] for result in again] == [False] * len(play)


@pytest.mark.fault('two plays at once removing the same four images')
def test_two_plays_removing_the_same_images_both_succeed(ansible, engine, unique):
    names = ['overlap/%s-gone-%d:1.0' % (unique, index) for index in range(4)]
    for name in names:
        engine.make_image(name)
    play = [task('image_remove', name=names)]
    (first,), (second,) = at_once(ansible, play, play)
    assert failures([first, second]) == []
    assert [engine.image_id(name) for name in names] == [None] * 4
    removed = sorted(action for result in (first, second) for action in result['actions'])
    assert sorted(set(removed)) == sorted('Removed image %s' % name for name in names)
    again = ansible.run(*play).results
    assert again[0]['changed'] is False
