"""The reference parser against the grammar Docker documents (distribution/reference)."""

from __future__ import annotations

import pytest

from ansible_collections.dockyard.docker.plugins.module_utils._errors import DockerError
from ansible_collections.dockyard.docker.plugins.module_utils._reference import (
    is_image_id, mirror_reference, parse_reference, with_tag,
)

DIGEST = 'sha256:' + 'ab' * 32


@pytest.mark.parametrize('text, repository, canonical, tag, digest', [
    ('busybox', 'busybox', 'docker.io/library/busybox', 'latest', None),
    ('busybox:1.36', 'busybox', 'docker.io/library/busybox', '1.36', None),
    ('library/busybox', 'busybox', 'docker.io/library/busybox', 'latest', None),
    ('docker.io/busybox', 'busybox', 'docker.io/library/busybox', 'latest', None),
    ('index.docker.io/library/busybox', 'busybox', 'docker.io/library/busybox', 'latest', None),
    ('bitnami/redis:7', 'bitnami/redis', 'docker.io/bitnami/redis', '7', None),
    ('localhost/app', 'localhost/app', 'localhost/app', 'latest', None),
    ('localhost:5000/app:v1', 'localhost:5000/app', 'localhost:5000/app', 'v1', None),
    ('127.0.0.1:5055/team/app:1.0', '127.0.0.1:5055/team/app', '127.0.0.1:5055/team/app', '1.0', None),
    ('registry.example.com/a/b/c:tag_1.x-y', 'registry.example.com/a/b/c', 'registry.example.com/a/b/c',
     'tag_1.x-y', None),
    ('[::1]:5000/app', '[::1]:5000/app', '[::1]:5000/app', 'latest', None),
    ('registry-1.docker.io/busybox', 'registry-1.docker.io/busybox', 'registry-1.docker.io/busybox', 'latest',
     None),
    ('Registry.Example.com/app', 'Registry.Example.com/app', 'Registry.Example.com/app', 'latest', None),
    ('app@' + DIGEST, 'app', 'docker.io/library/app', None, DIGEST),
    ('app:1@' + DIGEST, 'app', 'docker.io/library/app', '1', DIGEST),
    ('app@sha512:' + 'c' * 128, 'app', 'docker.io/library/app', None, 'sha512:' + 'c' * 128),
    ('a__b/c-d/e--f/g.h', 'a__b/c-d/e--f/g.h', 'docker.io/a__b/c-d/e--f/g.h', 'latest', None),
    ('a' * 64 + ':1', 'a' * 64, 'docker.io/library/' + 'a' * 64, '1', None),
    ('localhost:5000', 'localhost', 'docker.io/library/localhost', '5000', None),
])
def test_valid_references(text, repository, canonical, tag, digest):
    reference = parse_reference(text)
    assert (reference.repository, reference.canonical_repository, reference.tag, reference.digest) == \
        (repository, canonical, tag, digest)


@pytest.mark.parametrize('text, message', [
    ('', "invalid image reference '': it is empty"),
    ('busy box', "invalid image reference 'busy box': it contains white space"),
    ('Busybox', "invalid image reference 'Busybox': repository name must be lowercase"),
    ('team/App:1', "invalid image reference 'team/App:1': repository name must be lowercase"),
    ('repo::tag', "invalid image reference 'repo::tag': only one ':' may separate the repository from its tag"),
    ('repo:tag:tag', "invalid image reference 'repo:tag:tag': only one ':' may separate the repository from its tag"),
    ('repo:', "invalid image reference 'repo:': the tag after ':' is empty"),
    ('repo:.hidden', "invalid image reference 'repo:.hidden': tag '.hidden' may hold only up to 128 letters, "
                     "digits, '_', '.' and '-', and must not start with '.' or '-'"),
    ('repo:' + 'x' * 129, None),
    (':tag', "invalid image reference ':tag': the repository name is empty"),
    ('a//b', "invalid image reference 'a//b': the repository has an empty path component"),
    ('app/', "invalid image reference 'app/': the repository has an empty path component"),
    ('-app', "invalid image reference '-app': repository path component '-app' may hold only lower-case "
             "letters, digits and single separators ('.', '_', '__', '-') between them"),
    ('a___b', None),
    ('app@sha256:abc', "invalid image reference 'app@sha256:abc': digest 'sha256:abc' is not of the form "
                       "algorithm:hex, e.g. sha256:<64 hex digits>"),
    ('app@sha256:' + 'a' * 40, "invalid image reference 'app@sha256:" + 'a' * 40 + "': a sha256 digest has "
                               "exactly 64 lower-case hex digits"),
    ('app@md5:' + 'a' * 32, "invalid image reference 'app@md5:" + 'a' * 32 + "': digest algorithm 'md5' is not one "
                            "Docker knows: use sha256, sha384, sha512"),
    ('app@SHA256:' + 'a' * 64, "invalid image reference 'app@SHA256:" + 'a' * 64 + "': digest algorithm 'SHA256' is "
                               "not one Docker knows: use sha256, sha384, sha512"),
    ('app@sha512:' + 'a' * 64, "invalid image reference 'app@sha512:" + 'a' * 64 + "': a sha512 digest has exactly "
                               "128 lower-case hex digits"),
    ('a' * 64, "invalid image reference '" + 'a' * 64 + "': a repository name cannot be 64 hex digits, the form of "
               "an image ID"),
    ('[::ffff:1.2.3.4]/app', "invalid image reference '[::ffff:1.2.3.4]/app': registry '[::ffff:1.2.3.4]' is not a "
                             "valid host[:port]"),
    ('bad_host:5000/app', "invalid image reference 'bad_host:5000/app': registry 'bad_host:5000' is not a "
                          "valid host[:port]"),
    ('a' * 256, "invalid image reference '" + 'a' * 256 + "': repository name must not be longer than 255 characters "
                "with its 'library/' prefix"),
    ('a' * 248, "invalid image reference '" + 'a' * 248 + "': repository name must not be longer than 255 characters "
                "with its 'library/' prefix"),
    ('example.com/' + 'a' * 256, "invalid image reference 'example.com/" + 'a' * 256 + "': repository name must not "
                                 "be longer than 255 characters"),
])
def test_malformed_references_say_what_is_wrong(text, message):
    with pytest.raises(DockerError) as caught:
        parse_reference(text)
    if message is not None:
        assert str(caught.value) == message
    else:
        assert str(caught.value).startswith("invalid image reference '%s'" % text)


def test_default_tag_can_be_withheld():
    assert parse_reference('app', default_tag=None).tag is None
    assert str(parse_reference('app', default_tag=None)) == 'app'


def test_str_is_the_familiar_form_docker_shows_in_repotags():
    assert str(parse_reference('docker.io/library/busybox')) == 'busybox:latest'
    assert str(parse_reference('127.0.0.1:5055/a/b:1')) == '127.0.0.1:5055/a/b:1'
    assert str(parse_reference('app@' + DIGEST)) == 'app@' + DIGEST


def test_with_tag_applies_the_tag_option():
    assert str(with_tag('app', None)) == 'app:latest'
    assert str(with_tag('app', '2')) == 'app:2'
    assert str(with_tag('app:2', '2')) == 'app:2'
    assert str(with_tag('app:2', None)) == 'app:2'


def test_with_tag_refuses_a_tag_given_twice_in_different_ways():
    with pytest.raises(DockerError) as caught:
        with_tag('app:1', '2')
    assert str(caught.value) == "'app:1' names tag '1' but the tag option says '2'; give the tag once"
    with pytest.raises(DockerError) as caught:
        with_tag('app@' + DIGEST, '2')
    assert str(caught.value) == "'app@%s' pins a digest; the tag option '2' cannot apply to it" % DIGEST


def test_image_ids():
    assert is_image_id('sha256:' + 'a' * 64)
    assert is_image_id('a' * 64)
    assert not is_image_id('a' * 12)


@pytest.mark.parametrize('text', ['busybox:t\u00e4gs', 'busybox:1\n', 'busybox\n', 'b\u00fcsybox:1', 'busybox@sha256:' + 'a' * 64 + '\n'])
def test_the_grammar_is_ascii_and_anchored_at_the_very_end(text):
    with pytest.raises(DockerError):
        parse_reference(text)


@pytest.mark.parametrize('text, path', [
    ('a' * 247, 'library/' + 'a' * 247),
    ('example.com/' + 'a' * 255, 'a' * 255),
    ('team/' + 'a' * 250, 'team/' + 'a' * 250),
])
def test_the_length_limit_counts_the_path_after_the_registry(text, path):
    assert parse_reference(text).path == path


@pytest.mark.parametrize('source, registry, name', [
    ('busybox:1.36', 'mirror.test:5000', 'mirror.test:5000/library/busybox:1.36'),
    ('busybox', 'mirror.test:5000/hub/', 'mirror.test:5000/hub/library/busybox:latest'),
    ('127.0.0.1:5055/team/api:2.1', 'mirror.test', 'mirror.test/team/api:2.1'),
    ('ghcr.io/team/api:2.1@sha256:' + 'a' * 64, '127.0.0.1:5000/site', '127.0.0.1:5000/site/team/api:2.1'),
    ('team/api:1', 'docker.io/me', 'me/team/api:1'),
])
def test_the_name_an_image_has_in_a_mirror(source, registry, name):
    assert str(mirror_reference(source, registry)) == name


@pytest.mark.parametrize('source, registry, message', [
    ('busybox@sha256:' + 'a' * 64, 'mirror.test', "'busybox@sha256:%s' pins only a digest; a mirror needs a tag "
                                                  "to push the image under" % ('a' * 64)),
    ('busybox:1', '', 'the mirror registry is empty: give host[:port][/prefix]'),
    ('busybox:1', 'mirror test', "mirror registry 'mirror test' does not start with a valid host[:port]"),
    ('busybox:1', 'mirror.test/Site', "mirror registry 'mirror.test/Site' has an invalid path prefix: "
                                      "repository name must be lowercase"),
    ('busybox:1', 'mirror.test/' + 'a' * 250, "'busybox:1' in mirror registry 'mirror.test/%s' would be longer "
                                              "than 255 characters" % ('a' * 250)),
])
def test_a_mirror_name_that_cannot_be_made_says_why(source, registry, message):
    with pytest.raises(DockerError) as caught:
        mirror_reference(source, registry)
    assert str(caught.value) == message
