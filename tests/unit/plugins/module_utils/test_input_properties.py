"""Property-based tests of the input parsers: generated references, tags, digests, platforms, filters and
``changes`` lines never end in a traceback, every refusal names the bad value, and the reference parser
accepts exactly what Docker's reference grammar (github.com/distribution/reference) accepts. Besides the
parsers every module shares, the rules of single modules: image_tag's targets, image_search's terms and
filters, and the registry key registry_login and every credential look-up file a registry under.

The oracle below is written from that package's grammar: each production is a regular expression, and
the reference pattern is composed from them the way the grammar composes its productions. On top of
the bare grammar it plays ``ParseNormalizedNamed``, the familiar-name parsing the docker CLI and the
daemon apply (Docker Hub and ``library/`` defaults, the lower-case rule, no 64-hex names), and the
digest check of ``Parse`` (go-digest: a known algorithm with its own count of lower-case hex digits).

Examples are derandomized and no example database is kept, so every run sees the same inputs.
"""

from __future__ import annotations

import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ansible_collections.dockyard.docker.plugins.module_utils._changes import Change, target_reference
from ansible_collections.dockyard.docker.plugins.module_utils._errors import DockerError
from ansible_collections.dockyard.docker.plugins.module_utils._prune import (
    go_duration, normalize_filters, parse_timestamp, until_nanoseconds)
from ansible_collections.dockyard.docker.plugins.module_utils._reference import (
    is_id_prefix, is_image_id, parse_each, parse_reference, push_target, with_tag)
from ansible_collections.dockyard.docker.plugins.module_utils._registry import registry_key
from ansible_collections.dockyard.docker.plugins.modules.image_pull import _matches_platform
from ansible_collections.dockyard.docker.plugins.modules.image_search import _daemon_filters, _index_of
from ansible_collections.dockyard.docker.plugins.modules.image_tag import target_reference as tag_target

_REPRODUCIBLE = settings(derandomize=True, database=None, deadline=None,
                         suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])


def examples(count):
    """Settings for a property tried on ``count`` generated inputs, the same ones on every run."""
    return settings(_REPRODUCIBLE, max_examples=count)


# --- the oracle: the grammar's productions, composed as the grammar composes them ----------------------

def _group(*parts):
    return '(?:%s)' % ''.join(parts)


def _optional(*parts):
    return _group(*parts) + '?'


def _repeated(*parts):
    return _group(*parts) + '*'


ALPHA_NUMERIC = '[a-z0-9]+'
SEPARATOR = '(?:[_.]|__|[-]+)'
PATH_COMPONENT = ALPHA_NUMERIC + _repeated(SEPARATOR, ALPHA_NUMERIC)
REMOTE_NAME = PATH_COMPONENT + _repeated('/', PATH_COMPONENT)
DOMAIN_COMPONENT = '(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])'
DOMAIN_NAME = DOMAIN_COMPONENT + _repeated(r'\.', DOMAIN_COMPONENT)
IPV6_ADDRESS = r'\[(?:[a-fA-F0-9:]+)\]'
HOST = _group(DOMAIN_NAME, '|', IPV6_ADDRESS)
DOMAIN = HOST + _optional(':', '[0-9]+')
TAG = r'[\w][\w.-]{0,127}'
DIGEST = '[A-Za-z][A-Za-z0-9]*' + _repeated('[-_+.]', '[A-Za-z][A-Za-z0-9]*') + '[:]' + '[0-9a-fA-F]{32,}'
NAME = _optional(DOMAIN, '/') + REMOTE_NAME

# Go's regexp reads \w as ASCII and $ as the very end of the text: re.ASCII and fullmatch.
REFERENCE_RE = re.compile('(%s)%s%s' % (NAME, _optional(':', '(%s)' % TAG), _optional('@', '(%s)' % DIGEST)),
                          re.ASCII)
ANCHORED_NAME_RE = re.compile('%s(%s)' % (_optional('(%s)' % DOMAIN, '/'), REMOTE_NAME), re.ASCII)
TAG_RE = re.compile(TAG, re.ASCII)
IDENTIFIER_RE = re.compile('[a-f0-9]{64}')
# go-digest's algorithms Docker links in, and how many hex digits each writes.
DIGEST_HEX = {'sha256': 64, 'sha384': 96, 'sha512': 128}
REPOSITORY_NAME_MAX = 255


def _docker_domain(text):
    """ParseNormalizedNamed's split of ``text`` into (domain, the rest), by the first path component."""
    first, slash, rest = text.partition('/')
    if not slash:
        return 'docker.io', 'library/' + text
    if first == 'index.docker.io':
        domain = 'docker.io'
    elif first == 'localhost' or '.' in first or ':' in first or first.lower() != first:
        domain = first
    else:
        domain, rest = 'docker.io', text
    if domain == 'docker.io' and '/' not in rest:
        rest = 'library/' + rest
    return domain, rest


def oracle(text):
    """(domain, path, tag, digest) Docker makes of ``text``, or None when it refuses ``text``."""
    if not text or IDENTIFIER_RE.fullmatch(text):
        return None
    domain, rest = _docker_domain(text)
    if rest.split(':', 1)[0].lower() != rest.split(':', 1)[0]:
        return None
    match = REFERENCE_RE.fullmatch(domain + '/' + rest)
    if not match:
        return None
    name, tag, digest = match.groups()
    name_match = ANCHORED_NAME_RE.fullmatch(name)
    # ParseNormalizedNamed lets a first component that looks like a registry and is none ('a_b.c/d')
    # fall through as a path without any registry, which no daemon can pull or push; both refuse it.
    if name_match.group(1) != domain:
        return None
    path = name_match.group(2)
    if len(path) > REPOSITORY_NAME_MAX:
        return None
    if digest is not None:
        algorithm, encoded = digest.split(':', 1)
        if len(encoded) != DIGEST_HEX.get(algorithm) or not re.fullmatch('[a-f0-9]+', encoded):
            return None
    return domain, path, tag, digest


def familiar(domain, path, tag, digest):
    """The short form Docker shows (``busybox:1`` for docker.io/library/busybox:1)."""
    name = '%s/%s' % (domain, path)
    if domain == 'docker.io':
        name = path[len('library/'):] if path.startswith('library/') and path.count('/') == 1 else path
    return name + (':' + tag if tag else '') + ('@' + digest if digest else '')


# --- strategies -------------------------------------------------------------------------------------------

LOWER_DIGITS = 'abcdefghijklmnopqrstuvwxyz0123456789'
LETTERS_DIGITS = LOWER_DIGITS + 'ABCDEFGHIJKLMNOPQRSTUVWXYZ'
WORD = LETTERS_DIGITS + '_'


def _joined(part, separator, min_size=1, max_size=4):
    return st.lists(part, min_size=min_size, max_size=max_size).map(separator.join)


alpha_numeric = st.text(LOWER_DIGITS, min_size=1, max_size=6)
separator = st.sampled_from(['.', '_', '__', '-', '--', '---'])
path_component = st.tuples(alpha_numeric, st.lists(st.tuples(separator, alpha_numeric), max_size=3)).map(
    lambda parts: parts[0] + ''.join(sep + word for sep, word in parts[1]))
path = st.one_of(_joined(path_component, '/'),
                 st.integers(200, 270).map(lambda size: ('a' * size)[:size]),
                 st.integers(240, 260).map(lambda size: 'team/' + 'b' * size))
domain_component = st.one_of(st.text(LETTERS_DIGITS, min_size=1, max_size=1),
                             st.tuples(st.text(LETTERS_DIGITS, min_size=1, max_size=1),
                                       st.text(LETTERS_DIGITS + '-', max_size=6),
                                       st.text(LETTERS_DIGITS, min_size=1, max_size=1)).map(''.join))
port = st.integers(0, 99999).map(lambda number: ':%d' % number)
domain = st.one_of(
    st.tuples(_joined(domain_component, '.'), st.one_of(st.just(''), port)).map(''.join),
    st.tuples(st.text('0123456789abcdefABCDEF:', min_size=1, max_size=12).map('[{}]'.format),
              st.one_of(st.just(''), port)).map(''.join),
    st.sampled_from(['localhost', 'localhost:5000', 'docker.io', 'index.docker.io', 'registry-1.docker.io',
                     '127.0.0.1:5000', '[::1]:5000', 'Registry.Example.com']),
)
tag = st.tuples(st.text(WORD, min_size=1, max_size=1),
                st.one_of(st.text(WORD + '.-', max_size=12), st.text(WORD + '.-', min_size=120, max_size=130))
                ).map(''.join)
hex_digits = st.sampled_from(['0123456789abcdef', '0123456789abcdefABCDEF'])
digest = st.one_of(
    st.text('0123456789abcdef', min_size=64, max_size=64).map('sha256:'.__add__),
    st.tuples(st.sampled_from(['sha256', 'sha384', 'sha512', 'md5', 'SHA256', 'sha256+b64', 'x.y_z-w']),
              st.sampled_from([32, 63, 64, 65, 96, 128]), hex_digits).map(
        lambda parts: '%s:%s' % (parts[0], (parts[2] * 20)[:parts[1]])),
)


@st.composite
def grammar_references(draw):
    """Text from the grammar's productions: ``[domain/]path[:tag][@digest]``."""
    text = draw(path)
    if draw(st.booleans()):
        text = draw(domain) + '/' + text
    if draw(st.booleans()):
        text += ':' + draw(tag)
    if draw(st.booleans()):
        text += '@' + draw(digest)
    return text


NOISE = st.one_of(st.sampled_from(list('/:@._-+[]ABZ \t\n\u00e4\u00df\u0130\u212a\u00a0\u2028\uff21')),
                  st.characters())


@st.composite
def mutated_references(draw):
    """A grammar reference with a few characters inserted, replaced or dropped, or upper-cased."""
    text = draw(grammar_references())
    for _mutation in range(draw(st.integers(1, 3))):
        where = draw(st.integers(0, len(text)))
        action = draw(st.sampled_from(['insert', 'replace', 'drop', 'upper']))
        if action == 'insert':
            text = text[:where] + draw(NOISE) + text[where:]
        elif action == 'replace':
            text = text[:where] + draw(NOISE) + text[where + 1:]
        elif action == 'drop':
            text = text[:where] + text[where + 1:]
        else:
            text = text[:where] + text[where:where + 3].upper() + text[where + 3:]
    return text


any_reference = st.one_of(grammar_references(), mutated_references(),
                          st.text(max_size=40), st.text('abc019:/@._-A', max_size=30),
                          st.text('0123456789abcdef', min_size=60, max_size=66))


# --- the reference parser -----------------------------------------------------------------------------

def _check_reference(text):
    expected = oracle(text)
    try:
        parsed = parse_reference(text, default_tag=None)
    except DockerError as exc:
        assert expected is None, '%r refused (%s), but Docker reads it as %r' % (text, exc, expected)
        assert text in str(exc)
        return
    assert expected is not None, '%r parsed as %r, but Docker refuses it' % (text, parsed)
    assert (parsed.domain, parsed.path, parsed.tag, parsed.digest) == expected
    assert str(parsed) == familiar(*expected)


@examples(400)
@given(grammar_references())
def test_grammar_references_parse_as_docker_parses_them(text):
    _check_reference(text)


@examples(400)
@given(any_reference)
def test_any_text_is_parsed_or_refused_as_docker_does_and_a_refusal_quotes_it(text):
    _check_reference(text)


@pytest.mark.parametrize('text', [
    'a_b.c/d', 'a' * 64, 'registry-1.docker.io/busybox', 'app@md5:' + 'a' * 32, '[::ffff:1.2.3.4]/app',
    'a' * 250, 'example.com/' + 'a' * 250, 'app@SHA256:' + 'a' * 64, 'app@sha512:' + 'a' * 128,
])
def test_edges_of_the_grammar(text):
    _check_reference(text)


@examples(150)
@given(grammar_references(), st.one_of(tag, st.text(max_size=12), st.none()))
def test_a_tag_option_is_taken_iff_the_grammar_takes_it(text, tag_option):
    try:
        parsed = with_tag(text, tag_option)
    except DockerError as exc:
        message = str(exc)
        assert text in message
        assert (tag_option is None or tag_option in message or oracle(text) is None)
        return
    assert oracle(text) is not None
    if tag_option is not None:
        assert TAG_RE.fullmatch(tag_option) and parsed.tag == tag_option


@examples(200)
@given(st.lists(any_reference, min_size=1, max_size=4))
def test_a_list_option_names_the_bad_item(values):
    try:
        parse_each('name', values, parse_reference)
    except DockerError as exc:
        bad = next(index for index, value in enumerate(values) if oracle(value) is None)
        message = str(exc)
        assert values[bad] in message
        assert len(values) == 1 or message.startswith('name[%d]: ' % bad)
        return
    assert all(oracle(value) is not None for value in values)


@examples(200)
@given(any_reference)
def test_a_push_target_is_a_tag_reference_or_a_refusal_naming_it(repository):
    source = parse_reference('app:1')
    if not repository:
        assert push_target(source, repository) is source
        return
    try:
        target = push_target(source, repository)
    except DockerError as exc:
        assert str(exc).startswith('repository: ') and repository in str(exc)
        assert oracle(repository) is None or oracle(repository)[3] is not None
        return
    expected = oracle(repository)
    assert expected is not None and expected[3] is None
    assert target.tag == (expected[2] or '1')


@examples(200)
@given(any_reference, st.one_of(st.none(), tag, st.text(max_size=8)))
def test_a_commit_or_import_target_names_the_bad_repository_or_tag(repository, tag_option):
    try:
        target = target_reference(repository, tag_option)
    except DockerError as exc:
        assert repository in str(exc) or (tag_option is not None and tag_option in str(exc))
        return
    expected = oracle(repository)
    assert expected is not None and expected[2:] == (None, None)
    assert target.tag == (tag_option or 'latest')


@examples(200)
@given(st.one_of(st.text('0123456789abcdefA', max_size=70), st.text(max_size=70),
                 st.text('0123456789abcdef', min_size=64, max_size=64).map('sha256:'.__add__)))
def test_image_ids_and_prefixes_are_told_apart_without_error(text):
    bare = text[len('sha256:'):] if text.startswith('sha256:') else text
    assert is_image_id(text) == bool(IDENTIFIER_RE.fullmatch(bare))
    assert is_id_prefix(text) == bool(re.fullmatch('[0-9a-f]{1,64}', text))


# --- platforms ----------------------------------------------------------------------------------------------

platform_word = st.one_of(st.sampled_from(['linux', 'windows', 'amd64', 'arm64', 'arm', 'v7', 'v8', '']),
                          st.text(max_size=6))
platform = st.one_of(_joined(platform_word, '/', max_size=5), st.text(max_size=20))
inspect = st.one_of(st.none(), st.fixed_dictionaries({}, optional={
    'Os': st.one_of(st.none(), platform_word), 'Architecture': st.one_of(st.none(), platform_word),
    'Variant': st.one_of(st.none(), platform_word)}))


@examples(200)
@given(platform, inspect)
def test_a_platform_is_compared_with_an_image_without_error(wanted, image):
    assert _matches_platform(image, wanted) in (True, False)


# --- prune filters, until values, Go durations --------------------------------------------------------------

duration_part = st.tuples(st.text('0123456789', max_size=25), st.one_of(st.just(''), st.text('0123456789', max_size=25).map('.'.__add__)),
                          st.sampled_from(['ns', 'us', '\u00b5s', '\u03bcs', 'ms', 's', 'm', 'h', 'd', ''])).map(''.join)
duration = st.tuples(st.sampled_from(['', '-', '+']), _joined(duration_part, '', max_size=3)).map(''.join)
timestamp = st.tuples(
    st.text('0123456789', min_size=4, max_size=4), st.text('0123456789', min_size=2, max_size=2),
    st.text('0123456789', min_size=2, max_size=2),
    st.sampled_from(['', 'T1', 'T12:30', 'T23:59:59', 'T23:59:59.123456789123', 'T99:00']),
    st.sampled_from(['', 'Z', '+01:00', '-05:30', 'z'])).map(
    lambda parts: '%s-%s-%s%s%s' % parts)
unix = st.tuples(st.sampled_from(['', '-', '+']), st.text('0123456789', min_size=1, max_size=30),
                 st.sampled_from(['', '.5', '.123456789123', '.-1'])).map(''.join)
until = st.one_of(duration, timestamp, unix, st.text(max_size=20),
                  st.one_of(duration, timestamp, unix).map(lambda text: text + '\n'))
NOW = 1_700_000_000 * 10 ** 9
INT64 = 2 ** 63


@examples(250)
@given(until)
def test_an_until_value_is_a_time_or_a_refusal_naming_it(text):
    assert go_duration(text) is None or -INT64 <= go_duration(text) < INT64
    assert parse_timestamp(text) is None or isinstance(parse_timestamp(text), int)
    try:
        moment = until_nanoseconds(text, NOW, 3600)
    except DockerError as exc:
        assert "'%s'" % text in str(exc)
        return
    assert isinstance(moment, int) and -INT64 * 10 ** 9 < moment < INT64 * 10 ** 9
    assert '\n' not in text


filter_value = st.one_of(st.text(max_size=10), st.integers(), st.booleans(), st.none())
filters = st.one_of(st.none(), st.dictionaries(
    st.one_of(st.sampled_from(['until', 'label', 'label!', 'dangling', 'reference', 'Label']), st.text(max_size=8),
              st.integers(-3, 3)),
    st.one_of(filter_value, st.lists(filter_value, max_size=3)), max_size=4))


@examples(150)
@given(filters)
def test_prune_filters_are_kept_or_refused_naming_the_bad_one(raw):
    try:
        kept = normalize_filters(raw)
    except DockerError as exc:
        message = str(exc)
        bad = [key for key in raw if key not in ('label', 'label!')
               and not (key == 'until' and len(raw[key] if isinstance(raw[key], list) else [raw[key]]) == 1)]
        assert any("'%s'" % key in message or 'filters.%s' % key in message or key == 'dangling' and 'dangling'
                   in message for key in bad), message
        return
    assert set(kept) <= {'until', 'label', 'label!'}
    assert all(isinstance(value, str) for values in kept.values() for value in values)


# --- changes lines ----------------------------------------------------------------------------------------

instruction = st.one_of(st.sampled_from(['CMD', 'entrypoint', 'ENV', 'EXPOSE', 'label', 'ONBUILD', 'USER',
                                         'VOLUME', 'WORKDIR', 'RUN', 'FROM', '']), st.text(max_size=6))
argument = st.one_of(
    st.text(max_size=20), st.text('AB=1 "\'\\', max_size=12),
    _joined(st.one_of(st.integers(0, 70000).map(str), st.sampled_from(['80/tcp', '53/udp', '1-3', '9-2', '8/x',
                                                                       '/tcp', '65536'])), ' ', max_size=3),
    st.sampled_from(['["a", "b"]', '[1]', 'ONBUILD RUN x', 'FROM x', '=x', 'A=1 =2', "'unclosed"]),
)
line = st.one_of(st.tuples(instruction, st.sampled_from([' ', '\t', '  ']), argument).map(''.join),
                 st.text(max_size=30), st.none())


@examples(250)
@given(st.integers(0, 9), line)
def test_a_changes_line_is_checked_without_error_and_a_refusal_names_it(index, text):
    try:
        change = Change(index, text)
    except DockerError as exc:
        message = str(exc)
        assert message.startswith('changes[%d]: ' % index)
        words = (text or '').split()
        assert not words or any(word in message for word in words + [words[0].upper()]), message
        return
    config = {'Cmd': [], 'Entrypoint': [], 'Env': {}, 'Labels': {}, 'ExposedPorts': set(), 'Volumes': set(),
              'User': '', 'WorkingDir': '', 'OnBuild': [], 'cmd_set': False}
    change.apply(config)


@examples(250)
@given(st.lists(any_reference, min_size=1, max_size=3))
def test_a_tag_target_is_a_tagged_reference_or_a_refusal_naming_it_and_its_index(targets):
    for index, text in enumerate(targets):
        try:
            target = tag_target(index, text)
        except DockerError as exc:
            assert str(exc).startswith('repository[%d]: ' % index) and text in str(exc)
            expected = oracle(text)
            assert expected is None or expected[3] is not None or IDENTIFIER_RE.fullmatch(familiar(*expected[:2], None, None))
            continue
        expected = oracle(text)
        assert expected is not None and expected[3] is None
        assert target.tag == (expected[2] or 'latest')


registry_text = st.one_of(
    st.text(max_size=40),
    st.builds('{}://{}{}'.format, st.sampled_from(['http', 'https', 'HTTPS']), domain, st.sampled_from(['', '/', '/v2/'])),
    st.sampled_from(['docker.io', 'index.docker.io', 'registry-1.docker.io', 'registry.hub.docker.com', ' ']))


@examples(250)
@given(registry_text)
def test_any_registry_text_has_one_key_that_is_its_own_key(text):
    key = registry_key(text)
    assert key == registry_key(key), 'a key read again names the same registry'
    assert key == 'https://index.docker.io/v1/' or key == key.lower()


search_filters = st.dictionaries(
    st.one_of(st.sampled_from(['stars', 'is-official', 'is-automated']), st.text(max_size=12)),
    st.one_of(st.integers(-5, 10 ** 6), st.booleans(), st.text(max_size=8), st.none(), st.floats(allow_nan=True)),
    max_size=3)


@examples(250)
@given(st.text(max_size=40), search_filters)
def test_a_search_term_and_filters_reach_the_daemon_as_strings_or_a_refusal_naming_the_filter(term, filters):
    assert isinstance(_index_of(term), str)
    try:
        chosen = _daemon_filters(filters)
    except DockerError as exc:
        assert any(str(exc).startswith(prefix) for prefix in
                   ['filters: unknown filter %s;' % name for name in filters] + ['filters.%s: ' % name for name in filters])
        return
    assert set(chosen) == set(filters) and all(isinstance(value, str) for value in chosen.values())
