# Copyright (c) dockyard.docker contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# This module_utils is PRIVATE to the collection: its interface may change
# without notice between releases.

"""The image reference grammar: ``[registry/]repository[:tag][@digest]``.

It follows the grammar of Docker's distribution/reference package: a
registry is the first path component when that holds a ``.`` or ``:``, is
``localhost`` or has upper-case letters; repository path components are
lower-case alphanumerics joined by ``.``, ``_``, ``__`` or dashes; a tag is up
to 128 word characters, dots and dashes not starting with a dot or dash; a
digest is ``algorithm:hex``. References without a registry live on Docker Hub
(``docker.io``), and one-component Hub names in its ``library/`` namespace.
"""

from __future__ import annotations

import re

from ansible_collections.dockyard.docker.plugins.module_utils._errors import DockerError

DEFAULT_TAG = 'latest'
HUB_DOMAIN = 'docker.io'
HUB_ALIASES = ('docker.io', 'index.docker.io', 'registry-1.docker.io')
# The registries a name folds into docker.io; the daemon keeps registry-1.docker.io/... under that name.
_HUB_NAMES = ('docker.io', 'index.docker.io')
MAX_NAME_LENGTH = 255

_PATH_COMPONENT = re.compile(r'^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*\Z')
_DOMAIN = re.compile(
    r'^(?:\[[0-9A-Fa-f:]+\]'
    r'|[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*)'
    r'(?::[0-9]+)?\Z'
)
# ASCII only, as distribution's grammar: Python's \w would also take letters such as 'ä'.
_TAG = re.compile(r'^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}\Z')
_DIGEST = re.compile(r'^[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}\Z')
# The algorithms the daemon's digest package (go-digest) checks, and the hex digits of each.
_DIGEST_HEX = {'sha256': 64, 'sha384': 96, 'sha512': 128}
_LOWER_HEX = re.compile(r'^[0-9a-f]+\Z')
_IMAGE_ID = re.compile(r'^(?:sha256:)?[0-9a-f]{64}\Z')
_ID_PREFIX = re.compile(r'^[0-9a-f]{1,64}\Z')


class ImageReference:
    """A parsed reference; ``repository`` is the familiar form Docker shows in ``RepoTags``."""

    __slots__ = ('domain', 'path', 'tag', 'digest')

    def __init__(self, domain, path, tag, digest):
        self.domain = domain
        self.path = path
        self.tag = tag
        self.digest = digest

    @property
    def repository(self):
        if self.domain == HUB_DOMAIN:
            return self.path[len('library/'):] if self.path.startswith('library/') and self.path.count('/') == 1 else self.path
        return '%s/%s' % (self.domain, self.path)

    @property
    def canonical_repository(self):
        return '%s/%s' % (self.domain, self.path)

    @property
    def registry(self):
        return self.domain

    def __str__(self):
        text = self.repository
        if self.tag:
            text += ':' + self.tag
        if self.digest:
            text += '@' + self.digest
        return text

    def __eq__(self, other):
        return isinstance(other, ImageReference) and str(self) == str(other)

    def __hash__(self):
        return hash(str(self))

    def __repr__(self):
        return 'ImageReference(%r)' % str(self)


def _invalid(text, reason):
    return DockerError("invalid image reference '%s': %s" % (text, reason))


def _split_digest(text):
    name, sep, digest = text.partition('@')
    if not sep:
        return text, None
    problem = digest_problem(digest)
    if problem:
        raise _invalid(text, problem)
    return name, digest


def digest_problem(digest):
    """Why ``digest`` is not one the daemon takes (``algorithm:hex``), or None when it is."""
    if not _DIGEST.match(digest):
        return "digest '%s' is not of the form algorithm:hex, e.g. sha256:<64 hex digits>" % digest
    algorithm, encoded = digest.split(':', 1)
    if algorithm not in _DIGEST_HEX:
        return "digest algorithm '%s' is not one Docker knows: use %s" % (algorithm, ', '.join(sorted(_DIGEST_HEX)))
    if len(encoded) != _DIGEST_HEX[algorithm] or not _LOWER_HEX.match(encoded):
        return "a %s digest has exactly %d lower-case hex digits" % (algorithm, _DIGEST_HEX[algorithm])
    return None


def _split_tag(text, name):
    colon = name.rfind(':')
    if colon <= name.rfind('/'):
        return name, None
    repository, tag = name[:colon], name[colon + 1:]
    if ':' in repository[repository.rfind('/') + 1:]:
        raise _invalid(text, "only one ':' may separate the repository from its tag")
    if not tag:
        raise _invalid(text, "the tag after ':' is empty")
    if not _TAG.match(tag):
        raise _invalid(text, "tag '%s' may hold only up to 128 letters, digits, '_', '.' and '-', "
                             "and must not start with '.' or '-'" % tag)
    return repository, tag


def _split_domain(text, name):
    first, sep, rest = name.partition('/')
    if sep and ('.' in first or ':' in first or first == 'localhost' or first != first.lower()):
        if not _DOMAIN.match(first):
            raise _invalid(text, "registry '%s' is not a valid host[:port]" % first)
        return _domain_of(first), rest
    return HUB_DOMAIN, name


def _domain_of(host):
    """The registry ``host`` names: Docker Hub under any of its names."""
    return HUB_DOMAIN if host in _HUB_NAMES else host


def _path_problem(path):
    """Why ``path`` is no repository path, or None when it is one."""
    for component in path.split('/'):
        if not component:
            return 'the repository has an empty path component'
        if _PATH_COMPONENT.match(component):
            continue
        if _PATH_COMPONENT.match(component.lower()):
            return 'repository name must be lowercase'
        return ("repository path component '%s' may hold only lower-case letters, digits and "
                "single separators ('.', '_', '__', '-') between them" % component)
    return None


def parse_reference(text, default_tag=DEFAULT_TAG):
    """Parse ``[registry/]repository[:tag][@digest]``.

    ``default_tag`` is used when neither a tag nor a digest is given; pass
    ``None`` to keep such a reference untagged (``docker push NAME`` style).
    """
    if not isinstance(text, str) or not text:
        raise _invalid(text or '', 'it is empty')
    if any(char.isspace() for char in text):
        raise _invalid(text, 'it contains white space')
    if _IMAGE_ID.match(text) and ':' not in text:
        raise _invalid(text, 'a repository name cannot be 64 hex digits, the form of an image ID')
    name, digest = _split_digest(text)
    name, tag = _split_tag(text, name)
    if not name:
        raise _invalid(text, 'the repository name is empty')
    domain, path = _split_domain(text, name)
    if _path_problem(path):
        raise _invalid(text, _path_problem(path))
    official = domain == HUB_DOMAIN and '/' not in path
    if official:
        path = 'library/' + path
    if len(path) > MAX_NAME_LENGTH:
        # As distribution/reference counts it: the path after the registry, with Docker Hub's library/.
        raise _invalid(text, 'repository name must not be longer than %d characters%s'
                       % (MAX_NAME_LENGTH, " with its 'library/' prefix" if official else ''))
    if tag is None and digest is None:
        tag = default_tag
    return ImageReference(domain, path, tag, digest)


def with_tag(text, tag):
    """Parse ``text`` and apply a separately given ``tag`` option.

    A tag given both in ``text`` and as ``tag`` must agree, so that a task
    never says two things about which image it means.
    """
    reference = parse_reference(text, default_tag=None)
    if tag is not None:
        if not _TAG.match(tag):
            raise _invalid(text, "tag '%s' may hold only up to 128 letters, digits, '_', '.' and '-', "
                                 "and must not start with '.' or '-'" % tag)
        if reference.digest is not None:
            raise DockerError("'%s' pins a digest; the tag option '%s' cannot apply to it" % (text, tag))
        if reference.tag is not None and reference.tag != tag:
            raise DockerError("'%s' names tag '%s' but the tag option says '%s'; give the tag once"
                              % (text, reference.tag, tag))
        reference.tag = tag
    if reference.tag is None and reference.digest is None:
        reference.tag = DEFAULT_TAG
    return reference


def parse_each(option, values, parse):
    """Apply ``parse`` to every item of a list option; a failure names the item (``name[2]: ...``) when there are several."""
    parsed = []
    for index, value in enumerate(values):
        try:
            parsed.append(parse(value))
        except DockerError as exc:
            raise DockerError('%s[%d]: %s' % (option, index, exc) if len(values) > 1 else str(exc))
    return parsed


def is_image_id(text):
    """True for a full image ID, with or without its ``sha256:`` prefix."""
    return bool(_IMAGE_ID.match(text))


def is_id_prefix(text):
    """True when ``text`` could begin an image ID: 1 to 64 lower-case hex digits, without ``sha256:``.

    How short a prefix the daemon resolves depends on its store (see ``_store.MIN_PREFIX``).
    """
    return bool(_ID_PREFIX.match(text))


def push_target(source, repository):
    """The name ``source`` is pushed as: ``repository`` (parsed, with the source's tag when it has none), or itself."""
    if not repository:
        return source
    try:
        target = parse_reference(repository, default_tag=None)
    except DockerError as exc:
        raise DockerError('repository: %s' % exc)
    if target.digest:
        raise DockerError("repository: '%s' pins a digest; only a tag can be pushed" % repository)
    target.tag = target.tag or source.tag
    return target


def mirror_reference(source, registry):
    """The name ``source`` has in the mirror ``registry`` (``host[:port][/prefix]``): its path and tag there.

    The path keeps Docker Hub's ``library/``, as a pull-through mirror of Docker Hub serves it; the
    source's registry is dropped. A digest cannot be pushed, so the source needs a tag.
    """
    reference = parse_reference(source)
    if not isinstance(registry, str) or not registry:
        raise DockerError('the mirror registry is empty: give host[:port][/prefix]')
    host, _sep, prefix = registry.strip('/').partition('/')
    if not _DOMAIN.match(host):
        raise DockerError("mirror registry '%s' does not start with a valid host[:port]" % registry)
    if prefix and _path_problem(prefix):
        raise DockerError("mirror registry '%s' has an invalid path prefix: %s" % (registry, _path_problem(prefix)))
    if not reference.tag:
        raise DockerError("'%s' pins only a digest; a mirror needs a tag to push the image under" % source)
    path = '%s/%s' % (prefix, reference.path) if prefix else reference.path
    if len(path) > MAX_NAME_LENGTH:
        raise DockerError("'%s' in mirror registry '%s' would be longer than %d characters"
                          % (source, registry, MAX_NAME_LENGTH))
    return ImageReference(_domain_of(host), path, reference.tag, None)
