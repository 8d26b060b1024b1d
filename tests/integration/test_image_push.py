"""image_push against the real engine and a real registry with htpasswd auth: docker push NAME[:TAG].

Every test pushes to its own ``docker-registry`` (tests/integration/secure_registry.py), on plain
HTTP as a registry on loopback is for the daemon, and reads that registry's access log to tell
whether anything was uploaded.
"""

from __future__ import annotations

import re
import threading

import pytest
import requests

from conftest import task
import secure_registry as registries
from secure_registry import containerd_store

secure_registry = registries.secure_registry  # the fixture, for the tests of this file

DIGEST = re.compile(r'^sha256:[0-9a-f]{64}$')


@pytest.fixture
def registry(secure_registry):
    # Plain HTTP with auth: on loopback the daemon reports this registry's own answers on every engine
    # (against TLS, Docker 28.5 falls back to plain HTTP after a 401 or 404; see secure_registry.py).
    return secure_registry(tls=False)


def local_image(engine, registry, path, tag='1', marker=None):
    """A fresh local image named ``REGISTRY/path:tag``; returns (reference, image ID)."""
    reference = '%s/%s:%s' % (registry.address, path, tag)
    return reference, engine.make_image(reference, marker)


def predicted_digest(engine, image_id):
    """The digest check mode predicts for an image never pushed.

    The containerd store names an image by its manifest digest and lists ``REPOSITORY@that digest``
    in RepoDigests before any push, so the digest the push will give is known; the classic store
    learns an image's digest from a registry only.
    """
    return image_id if containerd_store(engine) else None


def one_name(name, before, after, image_id, pushed=True):
    """The diff of a push of one name: keyed by the name, and its state also at the top.

    Each state is the registry's digest and the local image (``image_id``) the registry's tag holds:
    none before a push, that image after.
    """
    states = ({'digest': before, 'image': None if pushed else image_id}, {'digest': after, 'image': image_id})
    return {side: dict(state, **{name: state}) for side, state in zip(('before', 'after'), states)}


def test_push_check_apply_and_idempotence(ansible, engine, registry, unique):
    reference, image_id = local_image(engine, registry, 'push/%s' % unique)
    args = dict(name=reference, registry_auth=registry.auth_config())
    predicted = predicted_digest(engine, image_id)

    check = ansible.module('image_push', check=True, **args)
    assert check['changed'] is True
    assert check['actions'] == ['Pushed image %s' % reference]
    assert check['diff'] == one_name(reference, None, predicted, image_id)
    assert check['digest'] == predicted
    assert check['image']['Id'] == image_id
    assert registry.uploads() == [], 'check mode must not upload'

    apply = ansible.module('image_push', **args)
    assert apply['changed'] is True
    assert apply['actions'] == ['Pushed image %s' % reference]
    assert DIGEST.match(apply['digest'])
    assert apply['digests'] == [apply['digest']]
    assert apply['diff'] == one_name(reference, None, apply['digest'], image_id)
    assert apply['image']['Id'] == image_id
    assert apply['images'] == [apply['image']]
    if predicted:
        assert apply['digest'] == predicted, 'the push gives the digest check mode predicted'
    assert '%s/push/%s@%s' % (registry.address, unique, apply['digest']) in apply['image']['RepoDigests']
    assert registry.uploads('push/%s/manifests/1' % unique), 'the manifest was put'

    mark = registry.mark()
    check_again, apply_again = ansible.run(task('image_push', check=True, **args), task('image_push', **args)).results
    for result in (check_again, apply_again):
        assert result['changed'] is False
        assert result['actions'] == []
        assert result['digest'] == apply['digest']
        assert result['diff'] == one_name(reference, apply['digest'], apply['digest'], image_id, pushed=False)
    assert registry.since(mark, methods=('PUT', 'POST', 'PATCH')) == [], 'an idempotent push uploads nothing'
    assert registry.since(mark, methods=('HEAD', 'GET'), path='push/%s/manifests/1' % unique), \
        'the registry was asked for the digest'


def test_transfer_figures_of_a_push(ansible, engine, registry, unique):
    reference, image_id = local_image(engine, registry, 'push/%s' % unique)
    args = dict(name=reference, registry_auth=registry.auth_config())
    size = engine.api.inspect_image(image_id)['Size']

    check, apply, apply_again = ansible.run(task('image_push', check=True, **args), task('image_push', **args),
                                            task('image_push', **args)).results
    assert {key: check['transfer'][key] for key in ('bytes', 'layers', 'layers_present')} == {
        'bytes': 0, 'layers': 0, 'layers_present': 1}
    assert {key: apply['transfer'][key] for key in ('layers', 'layers_present')} == {'layers': 1, 'layers_present': 0}
    if engine.containerd:
        # The containerd store counts the compressed layer it uploads, but only when the upload outlasts one of its
        # progress updates; for a layer done sooner it shows no size, and bytes is unknown.
        manifest = requests.get('%s/v2/push/%s/manifests/1' % (registry.url, unique), timeout=30,
                                auth=(registry.username, registry.password),
                                headers={'Accept': 'application/vnd.oci.image.manifest.v1+json'}).json()
        assert apply['transfer']['bytes'] in (None, sum(layer['size'] for layer in manifest['layers']))
    else:
        # The classic store counts each layer's tar stream as it reads it: the image's (uncompressed) size.
        assert apply['transfer']['bytes'] == size
    assert apply['transfer']['seconds'] > 0
    assert apply['images'][0]['transfer'] == apply['transfer']
    # The registry has it: nothing is pushed, every layer is there.
    assert apply_again['changed'] is False
    assert {key: apply_again['transfer'][key] for key in ('bytes', 'layers', 'layers_present')} == {
        'bytes': 0, 'layers': 0, 'layers_present': 1}


def test_check_mode_predicts_the_digest_of_a_known_image_under_a_new_tag(ansible, engine, registry, unique):
    reference, image_id = local_image(engine, registry, 'push/%s' % unique)
    first = ansible.module('image_push', name=reference, registry_auth=registry.auth_config())
    second = '%s/push/%s:2' % (registry.address, unique)
    engine.api.tag(image_id, second.rsplit(':', 1)[0], '2')

    check, apply = ansible.run(task('image_push', check=True, name=second, registry_auth=registry.auth_config()),
                               task('image_push', name=second, registry_auth=registry.auth_config())).results
    assert check['changed'] is True
    assert check['diff'] == one_name(second, None, first['digest'], image_id)
    assert apply['changed'] is True
    assert apply['diff'] == check['diff']
    assert apply['digest'] == first['digest']


def test_a_moved_tag_is_pushed_again(ansible, engine, registry, unique):
    reference, _old_id = local_image(engine, registry, 'push/%s' % unique, marker='old')
    old = ansible.module('image_push', name=reference, registry_auth=registry.auth_config())
    _reference, new_id = local_image(engine, registry, 'push/%s' % unique, marker='new')
    predicted = predicted_digest(engine, new_id)

    check, apply, again = ansible.run(*[task('image_push', check=mode, name=reference,
                                             registry_auth=registry.auth_config()) for mode in (True, False, False)])
    assert check['changed'] is True
    assert check['diff'] == one_name(reference, old['digest'], predicted, new_id)
    assert apply['changed'] is True
    assert apply['image']['Id'] == new_id
    assert apply['digest'] != old['digest']
    if predicted:
        assert apply['digest'] == predicted, 'the push gives the digest check mode predicted'
    assert apply['diff']['before'] == check['diff']['before']
    assert again['changed'] is False


def test_a_list_of_names_is_pushed_in_one_task(ansible, engine, registry, unique):
    made = [local_image(engine, registry, 'push/%s-%d' % (unique, number)) for number in range(3)]
    names = [reference for reference, _image_id in made]
    args = dict(name=names, parallel=2, registry_auth=registry.auth_config())

    check, apply = ansible.run(task('image_push', check=True, **args), task('image_push', **args)).results
    assert check['changed'] is True
    assert sorted(check['actions']) == sorted('Pushed image %s' % name for name in names)
    assert apply['changed'] is True
    assert sorted(apply['actions']) == sorted('Pushed image %s' % name for name in names)
    assert [image['Id'] for image in apply['images']] == [image_id for _reference, image_id in made]
    assert all(DIGEST.match(digest) for digest in apply['digests'])
    assert 'image' not in apply and 'digest' not in apply
    for number in range(3):
        assert registry.uploads('push/%s-%d/manifests/1' % (unique, number))

    mark = registry.mark()
    again = ansible.module('image_push', **args)
    assert again['changed'] is False
    assert again['digests'] == apply['digests']
    assert registry.since(mark, methods=('PUT', 'POST', 'PATCH')) == []


def test_repository_tags_and_pushes_under_another_name(ansible, engine, registry, unique):
    source = 'build/%s:7' % unique
    image_id = engine.make_image(source)
    target = '%s/release/%s:7' % (registry.address, unique)
    args = dict(name=source, repository='%s/release/%s' % (registry.address, unique),
                registry_auth=registry.auth_config())

    check = ansible.module('image_push', check=True, **args)
    assert check['changed'] is True
    assert check['actions'] == ['Tagged image %s as %s' % (source, target), 'Pushed image %s' % target]
    assert engine.image_id(target) is None, 'check mode must not tag'

    apply, again = ansible.run(task('image_push', **args), task('image_push', **args)).results
    assert apply['changed'] is True
    assert apply['actions'] == ['Tagged image %s as %s' % (source, target), 'Pushed image %s' % target]
    assert engine.image_id(target) == image_id
    assert '%s/release/%s@%s' % (registry.address, unique, apply['digest']) in apply['image']['RepoDigests']
    assert again['changed'] is False
    assert again['actions'] == []


def test_a_tag_serving_a_manifest_the_image_carries_elsewhere_is_not_pushed(ansible, engine, registry, unique):
    """The image a registry serves under a digest is the image: mirrored copies are not pushed again."""
    first = '%s/origin/%s' % (registry.address, unique)
    second = '%s/copy/%s' % (registry.address, unique)
    image_id = engine.make_image(first + ':1')
    auth = dict(registry_auth=registry.auth_config())
    pushed = ansible.run(task('image_push', name=first + ':1', **auth),
                         task('image_push', name=first + ':1', repository=second + ':1', **auth)).results
    assert [result['changed'] for result in pushed] == [True, True]
    # The host forgets the copy's names; what is left of them is the origin's digest.
    engine.api.remove_image(second + ':1')
    for name in engine.api.inspect_image(image_id)['RepoDigests']:
        if name.startswith(second + '@'):
            engine.api.remove_image(name)
    assert not [name for name in engine.api.inspect_image(image_id)['RepoDigests'] if name.startswith(second)]

    args = dict(name=first + ':1', repository=second + ':1', **auth)
    check, apply = ansible.run(task('image_push', check=True, **args), task('image_push', **args)).results
    for result in (check, apply):
        assert result['changed'] is True
        assert result['actions'] == ['Tagged image %s:1 as %s:1' % (first, second)]
        assert result['digest'] == pushed[1]['digest']
    assert engine.image_id(second + ':1') == image_id


@pytest.mark.fault('a push of an image the host lacks')
def test_an_absent_image_fails_naming_the_registry(ansible, registry, unique):
    reference = '%s/push/%s:1' % (registry.address, unique)
    check, apply = ansible.run(task('image_push', check=True, name=reference, registry_auth=registry.auth_config()),
                               task('image_push', name=reference, registry_auth=registry.auth_config())).results
    for result in (check, apply):
        assert result['failed'] is True
        assert result['msg'] == 'image %s is not present locally, so it cannot be pushed to registry %s' % (
            reference, registry.address)


@pytest.mark.fault('wrong credentials for a push')
def test_wrong_credentials_fail_naming_the_registry(ansible, engine, registry, unique):
    reference, _image_id = local_image(engine, registry, 'push/%s' % unique)
    wrong = dict(registry.auth_config(), password='not-the-password')

    check, apply = ansible.run(task('image_push', check=True, name=reference, registry_auth=wrong),
                               task('image_push', name=reference, registry_auth=wrong)).results
    for result in (check, apply):
        assert result['failed'] is True
        assert result['msg'] == 'failed to look up %s in registry %s: unauthorized: authentication required' % (
            reference, registry.address)
    assert registry.uploads() == []


@pytest.mark.fault('no credentials for a registry that needs them')
def test_missing_credentials_fail_naming_the_registry(ansible, engine, registry, unique, tmp_path):
    reference, _image_id = local_image(engine, registry, 'push/%s' % unique)
    result = ansible.run(task('image_push', name=reference), extra_env={'DOCKER_CONFIG': str(tmp_path)})[0]
    assert result['failed'] is True
    assert result['msg'] == ('failed to look up {ref} in registry {reg}: Head "http://{reg}/v2/push/{u}/manifests/1": '
                             'no basic auth credentials'.format(ref=reference, reg=registry.address, u=unique))


@pytest.mark.fault('the registry stopped, under a push')
def test_a_stopped_registry_fails_naming_it(ansible, engine, registry, unique):
    reference, _image_id = local_image(engine, registry, 'push/%s' % unique)
    registry.stop()

    check, apply = ansible.run(task('image_push', check=True, name=reference, registry_auth=registry.auth_config()),
                               task('image_push', name=reference, registry_auth=registry.auth_config())).results
    for result in (check, apply):
        assert result['failed'] is True
        # The daemon tries HTTPS, then (for a loopback registry it treats as insecure) plain HTTP; its words name both.
        assert result['msg'].startswith('failed to look up %s in registry %s: ' % (reference, registry.address))
        assert result['msg'].endswith('dial tcp %s: connect: connection refused' % registry.address)


@pytest.mark.fault('the registry stopped, and started again 2 s later, under a push with retries')
def test_retries_ride_out_a_registry_that_comes_back(ansible, engine, registry, unique):
    reference, image_id = local_image(engine, registry, 'push/%s' % unique)
    registry.stop()
    restart = threading.Timer(2.0, registry.start)
    restart.start()
    try:
        result = ansible.module('image_push', name=reference, retries=5, retry_delay=1,
                                registry_auth=registry.auth_config())
    finally:
        restart.join()
    assert result['changed'] is True, result.get('msg')
    assert result['image']['Id'] == image_id
    assert registry.uploads('push/%s/manifests/1' % unique)


@pytest.mark.fault('wrong credentials, with retries')
def test_refused_credentials_are_not_retried(ansible, engine, registry, unique):
    reference, _image_id = local_image(engine, registry, 'push/%s' % unique)
    result = ansible.module('image_push', name=reference, retries=3, retry_delay=0.1,
                            registry_auth=dict(registry.auth_config(), password='wrong'))
    assert result['failed'] is True
    assert len(registry.requests(('HEAD',), 'push/%s/manifests/1' % unique)) == 1


@pytest.mark.fault('a registry in read-only mode')
def test_a_registry_that_refuses_the_name_fails_naming_it(ansible, engine, secure_registry, unique):
    registry = secure_registry(readonly=True, tls=False)
    reference, _image_id = local_image(engine, registry, 'push/%s' % unique)
    result = ansible.module('image_push', name=reference, registry_auth=registry.auth_config())
    assert result['failed'] is True
    # The registry answers 405 to every write in read-only mode: the classic store quotes its body, the
    # containerd store's pusher names the request and the status.
    if containerd_store(engine):
        words = ('unknown: unexpected status from POST request to %s/v2/push/%s/blobs/uploads/: 405 Method Not Allowed'
                 % (registry.url, unique))
    else:
        words = ('error parsing HTTP 405 response body: invalid character \'M\' looking for beginning of value: '
                 '"Method not allowed\\n"')
    assert result['msg'] == 'failed to push %s to registry %s: %s' % (reference, registry.address, words)
    assert engine.image_id(reference), 'the local image stays'


@pytest.mark.fault('one failing name in a list')
def test_a_failing_name_in_a_list_is_named_and_the_others_are_pushed(ansible, engine, registry, unique):
    present, image_id = local_image(engine, registry, 'push/%s' % unique)
    absent = '%s/push/%s-absent:1' % (registry.address, unique)

    result = ansible.module('image_push', name=[present, absent], registry_auth=registry.auth_config())
    assert result['failed'] is True
    assert result['msg'] == 'image %s is not present locally, so it cannot be pushed to registry %s' % (
        absent, registry.address)
    assert result['changed'] is True
    assert [image['Id'] for image in result['images']] == [image_id]


@pytest.mark.parametrize('args, message', [
    (dict(name='Team/App'), "invalid image reference 'Team/App': repository name must be lowercase"),
    (dict(name='app@sha256:' + 'a' * 64), "'app@sha256:%s' pins a digest; only a tag can be pushed" % ('a' * 64)),
    (dict(name=['app:1', 'bad_host:5000/app']),
     "name[1]: invalid image reference 'bad_host:5000/app': registry 'bad_host:5000' is not a valid host[:port]"),
    (dict(name='app:1', tag='2'), "'app:1' names tag '1' but the tag option says '2'; give the tag once"),
    (dict(name=['a:1', 'b:1'], repository='c'), 'repository can rename one image only, but name holds 2'),
    (dict(name='app:1', repository='Other/App'),
     "repository: invalid image reference 'Other/App': repository name must be lowercase"),
    (dict(name='app:1', repository='other@sha256:' + 'b' * 64),
     "repository: 'other@sha256:%s' pins a digest; only a tag can be pushed" % ('b' * 64)),
    (dict(name='app', parallel=0), 'parallel must be at least 1, got 0'),
    (dict(name='app', registry_auth=dict(username='u')),
     'missing required arguments: password found in registry_auth'),
])
@pytest.mark.fault('bad input for image_push')
def test_bad_input_is_rejected_with_a_clear_message(ansible, args, message):
    result = ansible.module('image_push', **args)
    assert result['failed'] is True
    assert result['msg'] == message


@pytest.mark.fault('a push that fails after the tag it needed was made')
def test_a_push_that_fails_after_tagging_reports_the_tag(ansible, engine, secure_registry, unique):
    registry = secure_registry(readonly=True, tls=False)
    source, image_id = local_image(engine, registry, 'push/%s-source' % unique)
    target = '%s/push/%s' % (registry.address, unique)
    result = ansible.module('image_push', name=source, repository=target, registry_auth=registry.auth_config())
    assert result['failed'] is True
    assert result['msg'].startswith('failed to push %s:1 to registry %s: ' % (target, registry.address))
    assert result['changed'] is True
    assert result['actions'] == ['Tagged image %s as %s:1' % (source, target)]
    assert engine.image_id('%s:1' % target) == image_id


@pytest.mark.fault('the registry frozen (SIGSTOP) mid-push')
def test_a_registry_that_stops_answering_fails_the_push_after_timeout(ansible, engine, registry, unique):
    reference, _image_id = local_image(engine, registry, 'push/%s' % unique)
    registry.freeze()
    try:
        stalled = ansible.module('image_push', name=reference, timeout=5, registry_auth=registry.auth_config())
    finally:
        registry.thaw()
    assert stalled['failed'] is True
    # The look-up of the digest the registry holds comes first, and is bound by the same timeout.
    assert stalled['msg'] == ('failed to look up %s in registry %s: no progress for 5 seconds (timeout), while the '
                              'daemon waited for registry %s' % (reference, registry.address, registry.address))
    assert stalled['changed'] is False
