"""image_pull against the real engine and registry: docker pull NAME[:TAG]."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import pytest
import requests

from conftest import task
import secure_registry as registries

secure_registry = registries.secure_registry  # the fixture, for the tests of this file


def test_pull_check_apply_and_idempotence(ansible, engine, unique):
    reference, image_id = engine.publish('pull/%s' % unique)

    check = ansible.module('image_pull', check=True, name=reference)
    assert check['changed'] is True
    predicted = {'exists': True, 'id': 'unknown', 'tags': [reference], 'digests': check['diff']['after']['digests']}
    assert check['diff'] == {'before': {'exists': False, reference: {'exists': False}},
                             'after': dict(predicted, **{reference: predicted})}
    assert check['actions'] == ['Pulled image %s' % reference]
    assert engine.image_id(reference) is None, 'check mode must not pull'

    apply, check_again, apply_again = ansible.run(
        task('image_pull', name=reference), task('image_pull', check=True, name=reference),
        task('image_pull', name=reference)).results
    assert apply['changed'] is True
    assert apply['image']['Id'] == image_id == engine.image_id(reference)
    assert apply['images'] == [apply['image']]
    # community.docker.docker_image_pull's keys: diff.before.exists, diff.after.id, one "Pulled image NAME".
    assert apply['diff']['before']['exists'] is False
    assert apply['diff']['after']['id'] == image_id
    assert apply['diff']['after'][reference] == {key: apply['diff']['after'][key] for key in ('exists', 'id', 'tags', 'digests')}
    assert apply['diff']['after']['digests'] == check['diff']['after']['digests']
    assert apply['actions'] == ['Pulled image %s' % reference]
    # pull=always asks the registry again each run: the pull is reported, but nothing changed.
    for again in (check_again, apply_again):
        assert again['changed'] is False
        assert again['actions'] == ['Pulled image %s' % reference]
        assert again['diff']['before'] == again['diff']['after']
        assert again['diff']['before']['id'] == image_id


def test_default_tag_is_latest_and_tag_option_applies(ansible, engine, unique):
    latest, latest_id = engine.publish('pull/%s' % unique, tag='latest')
    tagged, tagged_id = engine.publish('pull/%s' % unique, tag='2.0')
    repository = latest.rsplit(':', 1)[0]

    untagged, with_tag = ansible.run(task('image_pull', name=repository),
                                     task('image_pull', name=repository, tag='2.0')).results
    assert untagged['image']['Id'] == latest_id
    assert with_tag['image']['Id'] == tagged_id
    assert engine.image_id(tagged) == tagged_id


def test_a_list_of_names_is_pulled_in_one_task(ansible, engine, unique):
    published = [engine.publish('pull/%s-%d' % (unique, number)) for number in range(3)]
    names = [reference for reference, _image_id in published]

    first, second = ansible.run(task('image_pull', name=names, parallel=2), task('image_pull', name=names)).results
    assert first['changed'] is True
    assert [image['Id'] for image in first['images']] == [image_id for _reference, image_id in published]
    assert 'image' not in first
    assert sorted(first['actions']) == sorted('Pulled image %s' % name for name in names)
    assert second['changed'] is False
    assert [engine.image_id(name) for name in names] == [image_id for _reference, image_id in published]


def test_a_moved_tag_is_pulled_again(ansible, engine, unique):
    reference, old_id = engine.publish('pull/%s' % unique, marker='old')
    ansible.module('image_pull', name=reference)
    _reference, new_id = engine.publish('pull/%s' % unique, marker='new')
    # The publish above dropped the local tag; put the old image back under it, as before the tag moved.
    engine.api.tag(old_id, reference.rsplit(':', 1)[0], reference.rsplit(':', 1)[1])

    check, apply, again = ansible.run(task('image_pull', check=True, name=reference), task('image_pull', name=reference),
                                      task('image_pull', name=reference)).results
    assert check['changed'] is True
    assert apply['changed'] is True
    assert apply['diff']['before'][reference]['id'] == apply['diff']['before']['id'] == old_id
    assert apply['diff']['after'][reference]['id'] == apply['diff']['after']['id'] == new_id
    assert check['actions'] == apply['actions'] == again['actions'] == ['Pulled image %s' % reference]
    assert again['changed'] is False


def test_not_present_leaves_a_present_image_alone(ansible, engine, unique):
    reference = '%s/pull/%s:local' % (engine.registry, unique)
    image_id = engine.make_image(reference)

    check, apply = ansible.run(task('image_pull', check=True, name=reference, pull='not_present'),
                               task('image_pull', name=reference, pull='not_present')).results
    assert (check['changed'], apply['changed']) == (False, False)
    assert check['actions'] == apply['actions'] == []
    assert apply['image']['Id'] == image_id


def test_a_digest_pins_the_image(ansible, engine, unique):
    reference, image_id = engine.publish('pull/%s' % unique)
    digest_name = ansible.module('image_pull', check=True, name=reference)['diff']['after']['digests'][0]

    check, apply, again = ansible.run(task('image_pull', check=True, name=digest_name),
                                      task('image_pull', name=digest_name), task('image_pull', name=digest_name)).results
    assert check['changed'] is True
    assert apply['changed'] is True
    assert apply['image']['Id'] == image_id
    assert again['changed'] is False


MANIFEST_TYPES = ', '.join([
    'application/vnd.oci.image.index.v1+json', 'application/vnd.docker.distribution.manifest.list.v2+json',
    'application/vnd.oci.image.manifest.v1+json', 'application/vnd.docker.distribution.manifest.v2+json'])


def registry_manifest(reference):
    """(the manifest digest, the manifest) the registry itself serves for ``reference``, over its HTTP API."""
    repository, tag = reference.rsplit(':', 1)
    registry, path = repository.split('/', 1)
    response = requests.get('http://%s/v2/%s/manifests/%s' % (registry, path, tag),
                            headers={'Accept': MANIFEST_TYPES}, timeout=30)
    response.raise_for_status()
    return response.headers['Docker-Content-Digest'], response.json()


def test_digest_and_pinned_name_what_the_registry_serves(ansible, engine, unique):
    reference, _image_id = engine.publish('pull/%s' % unique)
    repository = reference.rsplit(':', 1)[0]
    digest, _manifest = registry_manifest(reference)
    pinned = '%s@%s' % (repository, digest)

    for result in ansible.sequence('image_pull', name=reference):
        assert (result['digest'], result['pinned']) == (digest, pinned)
        assert (result['images'][0]['digest'], result['images'][0]['pinned']) == (digest, pinned)
    # Present and not pulled again: the digest the local image holds for the repository.
    kept = ansible.module('image_pull', name=reference, pull='not_present')
    assert (kept['changed'], kept['digest'], kept['pinned']) == (False, digest, pinned)
    # The pinned reference pulls the same image (the containerd store records the name@digest as a name of its own).
    by_pin = ansible.module('image_pull', name=pinned)
    assert (by_pin['image']['Id'], by_pin['digest'], by_pin['pinned']) == (kept['image']['Id'], digest, pinned)


def test_an_image_that_holds_no_digest_pins_nothing(ansible, engine, unique):
    reference = '%s/pull/%s:local' % (engine.registry, unique)
    engine.make_image(reference)

    result = ansible.module('image_pull', name=reference, pull='not_present')
    if engine.containerd:
        # The containerd store names a local image by its manifest digest, and lists it in RepoDigests.
        assert result['digest'] == engine.image_id(reference)
    else:
        assert (result['digest'], result['pinned']) == (None, None)


def test_the_expected_digest_is_pulled(ansible, engine, unique):
    reference, image_id = engine.publish('pull/%s' % unique)
    digest, _manifest = registry_manifest(reference)

    check, apply, check_again, apply_again = ansible.sequence('image_pull', name=reference, expected_digest=digest)
    assert (check['changed'], apply['changed'], check_again['changed'], apply_again['changed']) == (True, True, False, False)
    assert apply['image']['Id'] == image_id == engine.image_id(reference)
    assert apply['digest'] == digest


def test_a_wrong_expected_digest_fails_and_pulls_nothing(ansible, engine, unique):
    reference, _image_id = engine.publish('pull/%s' % unique)
    digest, _manifest = registry_manifest(reference)
    wrong = 'sha256:' + 'e' * 64
    message = ('registry %s serves %s for %s, but expected_digest is %s; nothing was pulled'
               % (engine.registry, digest, reference, wrong))

    for mode in ('always', 'not_present'):
        check, apply = ansible.run(task('image_pull', check=True, name=reference, expected_digest=wrong, pull=mode),
                                   task('image_pull', name=reference, expected_digest=wrong, pull=mode)).results
        for result in (check, apply):
            assert result['failed'] is True
            assert result['msg'] == message
        assert engine.image_id(reference) is None, 'nothing may be pulled'


def test_a_name_pinned_to_another_digest_than_expected_fails(ansible, engine, unique):
    reference, _image_id = engine.publish('pull/%s' % unique)
    digest, _manifest = registry_manifest(reference)
    pinned = '%s@%s' % (reference.rsplit(':', 1)[0], digest)
    wrong = 'sha256:' + 'e' * 64

    for check in (True, False):
        result = ansible.module('image_pull', check=check, name=pinned, expected_digest=wrong)
        assert result['failed'] is True
        assert result['msg'] == '%s is pinned to %s, but expected_digest is %s' % (pinned, digest, wrong)
    assert engine.image_id(pinned) is None


def test_transfer_figures_of_a_pull_match_the_registrys_manifest(ansible, engine, unique):
    reference, _image_id = engine.publish('pull/%s' % unique)
    _digest, manifest = registry_manifest(reference)
    layers = manifest['layers']

    first, second = ansible.run(task('image_pull', name=reference), task('image_pull', name=reference)).results
    assert {key: first['transfer'][key] for key in ('layers', 'layers_present')} == {
        'layers': len(layers), 'layers_present': 0}
    # Docker's classic store reports the size of each layer it downloads; the containerd store only of a layer whose
    # download outlasts one of its progress updates (from this registry on loopback, none), else bytes is unknown.
    moved = sum(layer['size'] for layer in layers)
    assert first['transfer']['bytes'] in ((None, moved) if engine.containerd else (moved,))
    assert first['transfer']['seconds'] > 0
    assert first['images'][0]['transfer'] == first['transfer']
    assert {key: second['transfer'][key] for key in ('bytes', 'layers', 'layers_present')} == {
        'bytes': 0, 'layers': 0, 'layers_present': len(layers)}


def test_transfer_figures_of_a_list_are_per_image_and_in_total(ansible, engine, unique):
    names = [engine.publish('pull/%s-%d' % (unique, number))[0] for number in range(2)]
    sizes = [sum(layer['size'] for layer in registry_manifest(name)[1]['layers']) for name in names]

    result = ansible.module('image_pull', name=names, parallel=2)
    each = [image['transfer'] for image in result['images']]
    assert [figures['layers'] for figures in each] == [1, 1]
    for figures, size in zip(each, sizes):
        assert figures['bytes'] in ((None, size) if engine.containerd else (size,))
    assert result['transfer']['layers'] == 2
    known = [figures['bytes'] for figures in each]
    assert result['transfer']['bytes'] == (None if None in known else sum(sizes))
    # The total is the wall-clock span of the pulls: at least the longest, and more than their sum when the
    # second began after the first ended (as it may on a loaded machine, parallel or not).
    assert result['transfer']['seconds'] >= max(figures['seconds'] for figures in each) - 0.001
    assert 'digest' not in result
    assert [image['digest'] for image in result['images']] == [registry_manifest(name)[0] for name in names]


def test_check_mode_moves_nothing(ansible, engine, unique):
    reference, _image_id = engine.publish('pull/%s' % unique)

    result = ansible.module('image_pull', check=True, name=reference)
    assert {key: result['transfer'][key] for key in ('bytes', 'layers', 'layers_present')} == {
        'bytes': 0, 'layers': 0, 'layers_present': 0}
    assert sorted(result['image']) == ['digest', 'pinned', 'transfer'], 'an image not present yet has no inspect data'


def missing_tag_words(engine, reference):
    """The daemon's words for a tag its registry lacks: the containerd image store's resolver words them its own way."""
    if ['driver-type', 'io.containerd.snapshotter.v1'] in (engine.api.info().get('DriverStatus') or []):
        return 'failed to resolve reference "%s": %s: not found' % (reference, reference)
    return 'manifest for %s not found: manifest unknown: manifest unknown' % reference


@pytest.mark.fault('a tag the registry does not have')
def test_a_missing_tag_fails_with_the_registrys_words(ansible, engine, unique):
    reference, _image_id = engine.publish('pull/%s' % unique)
    missing = reference.rsplit(':', 1)[0] + ':nope'

    check, apply = ansible.run(task('image_pull', check=True, name=missing), task('image_pull', name=missing)).results
    assert check['failed'] is True
    assert check['msg'].startswith('failed to look up %s in its registry: ' % missing)
    assert apply['failed'] is True
    assert apply['msg'] == 'failed to pull %s: %s' % (missing, missing_tag_words(engine, missing))
    assert engine.image_id(missing) is None


@pytest.mark.fault('one failing name in a list')
def test_one_failing_name_fails_the_task_and_names_it(ansible, engine, unique):
    reference, image_id = engine.publish('pull/%s' % unique)
    missing = reference.rsplit(':', 1)[0] + ':nope'

    result = ansible.module('image_pull', name=[reference, missing])
    assert result['failed'] is True
    assert result['msg'].startswith('failed to pull %s: ' % missing)
    assert result['changed'] is True, 'the image that was pulled is reported'
    assert engine.image_id(reference) == image_id


@pytest.mark.parametrize('args, message', [
    (dict(name='Team/App'), "invalid image reference 'Team/App': repository name must be lowercase"),
    (dict(name='bad_host:5000/app'), "invalid image reference 'bad_host:5000/app': registry 'bad_host:5000' is not a "
                                     "valid host[:port]"),
    (dict(name='team/App'), "invalid image reference 'team/App': repository name must be lowercase"),
    (dict(name=['busybox', 'repo::tag']),
     "name[1]: invalid image reference 'repo::tag': only one ':' may separate the repository from its tag"),
    (dict(name='busy box'), "invalid image reference 'busy box': it contains white space"),
    (dict(name='app:1', tag='2'), "'app:1' names tag '1' but the tag option says '2'; give the tag once"),
    (dict(name='app', parallel=0), 'parallel must be at least 1, got 0'),
    (dict(name='app', pull='sometimes'),
     "value of pull must be one of: always, not_present, got: sometimes"),
    (dict(), 'missing required arguments: name'),
    (dict(name=['a', 'b'], expected_digest='sha256:' + 'e' * 64), 'expected_digest pins one image, but name holds 2'),
    (dict(name='app', expected_digest='sha256:abc'),
     "expected_digest: digest 'sha256:abc' is not of the form algorithm:hex, e.g. sha256:<64 hex digits>"),
])
@pytest.mark.fault('bad input for image_pull')
def test_bad_input_is_rejected_with_a_clear_message(ansible, args, message):
    result = ansible.module('image_pull', **args)
    assert result['failed'] is True
    assert result['msg'] == message


@pytest.mark.fault('an unreachable daemon (a socket that does not exist)')
def test_an_unreachable_daemon_is_named(ansible):
    result = ansible.module('image_pull', name='busybox', docker_host='unix:///nonexistent/docker.sock')
    assert result['failed'] is True
    assert result['msg'] == 'Cannot connect to the Docker daemon at unix:///nonexistent/docker.sock: No such file or directory'


def test_platform_needs_a_recent_enough_api(ansible, engine, unique):
    reference = '%s/pull/%s:local' % (engine.registry, unique)
    engine.make_image(reference)
    result = ansible.module('image_pull', name=reference, platform='linux/amd64', api_version='1.30', pull='not_present')
    assert result['failed'] is True
    assert result['msg'] == 'platform needs Docker API 1.32 or later, but the daemon at %s speaks 1.30' % engine.host


class SpareRegistry:
    """A second real registry on its own port, to stop and start under a running pull."""

    def __init__(self, directory, port):
        self.port = port
        self.address = '127.0.0.1:%d' % port
        self.log = Path(directory, 'registry.log')
        self.config = Path(directory, 'config.yml')
        self.config.write_text(
            'version: 0.1\nlog:\n  level: info\nstorage:\n  filesystem:\n    rootdirectory: %s\n'
            'http:\n  addr: %s\n' % (Path(directory, 'data'), self.address))
        self.process = None

    def start(self):
        self.process = subprocess.Popen(['docker-registry', 'serve', str(self.config)], stdout=self.log.open('a'),
                                        stderr=subprocess.STDOUT)
        for _attempt in range(100):
            if subprocess.run(['curl', '-fsS', 'http://%s/v2/' % self.address], capture_output=True,
                              check=False).returncode == 0:
                return
            time.sleep(0.1)
        raise AssertionError('spare registry did not start: %s' % self.log.read_text())

    def stop(self):
        if self.process:
            self.process.terminate()
            self.process.wait()
            self.process = None

    def kill(self):
        """SIGKILL: the registry dies where it stands, in the middle of whatever it sends or receives."""
        self.process.kill()
        self.process.wait()
        self.process = None

    def moved(self):
        """Bytes the registry process has read and written so far (``rchar`` + ``wchar`` of /proc/PID/io)."""
        counters = dict(line.split(': ') for line in Path('/proc/%d/io' % self.process.pid).read_text().splitlines())
        return int(counters['rchar']) + int(counters['wchar'])

    def manifest_requests(self, path, tag):
        """How many times the registry's access log shows the manifest asked for (one per pull attempt).

        Both stores' pulls ask with one HEAD per attempt; the classic store's follows it with a GET.
        """
        return self.log.read_text().count('"HEAD /v2/%s/manifests/%s ' % (path, tag))


def only_in_the_registry(engine, reference):
    """Make an image named ``reference`` (``REGISTRY/path:1.0``), push it, drop it locally; return its ID."""
    image_id = engine.make_image(reference)
    for event in engine.api.push(reference.rsplit(':', 1)[0], tag='1.0', stream=True, decode=True):
        assert 'error' not in event, event
    engine.api.remove_image(reference)
    return image_id


@pytest.fixture
def spare_registry(tmp_path):
    registry = SpareRegistry(tmp_path, registries.free_port())
    registry.start()
    yield registry
    registry.stop()


@pytest.mark.fault('the registry stopped, under a pull without retries')
def test_a_down_registry_without_retries_fails_and_names_it(ansible, spare_registry, unique):
    spare_registry.stop()
    reference = '%s/retry/%s:1.0' % (spare_registry.address, unique)
    result = ansible.module('image_pull', name=reference)
    assert result['failed'] is True
    assert result['msg'].startswith('failed to pull %s: ' % reference)
    assert 'connection refused' in result['msg']


@pytest.mark.fault('a missing tag, with retries')
def test_a_missing_tag_is_not_retried(ansible, engine, spare_registry, unique):
    path = 'retry/%s' % unique
    result = ansible.module('image_pull', name='%s/%s:nope' % (spare_registry.address, path), retries=3,
                            retry_delay=0.1)
    assert result['failed'] is True
    assert result['msg'].endswith(missing_tag_words(engine, '%s/%s:nope' % (spare_registry.address, path)))
    assert spare_registry.manifest_requests(path, 'nope') == 1


@pytest.mark.fault('the registry frozen (SIGSTOP) mid-pull')
def test_a_registry_that_stops_answering_fails_the_pull_after_timeout(ansible, engine, secure_registry, unique):
    registry = secure_registry(auth=False, tls=False)
    reference = '%s/stall/%s:1.0' % (registry.address, unique)
    image_id = only_in_the_registry(engine, reference)
    registry.freeze()
    try:
        stalled = ansible.module('image_pull', name=reference, timeout=5)
    finally:
        registry.thaw()
    assert stalled['failed'] is True
    assert stalled['msg'] == ('failed to pull %s: no progress for 5 seconds (timeout), while the daemon waited for '
                              'registry %s' % (reference, registry.address))
    assert engine.image_id(reference) is None, 'nothing was pulled'

    pulled = ansible.module('image_pull', name=reference, timeout=5)
    assert pulled['changed'] is True
    assert pulled['image']['Id'] == image_id
