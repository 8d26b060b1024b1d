"""Records the fault suite's run, for docs/reliability.md (scripts/reliability-record renders it).

The fault tests carry the ``fault`` marker (``@pytest.mark.fault``, or ``pytestmark`` for a whole
file). With E(DOCKYARD_RELIABILITY_RECORD) naming a file, each of them is recorded there when the
session ends: its name, the fault (the marker's text, else the test's docstring), its outcome, what
every module run answered (changed, failed, msg), and the checks it made afterwards, which are its
``assert`` statements, each by its message or else its code. Run values that differ from run to run
(the test's unique name part, its temporary directory, the engine's socket and registry) are
replaced by placeholders, so the record reads the same each time.

conftest.py imports the hooks and calls ``answered`` with each playbook's results.
"""

from __future__ import annotations

import ast
import inspect
import json
import os
import textwrap

import pytest

RECORD_ENV = 'DOCKYARD_RELIABILITY_RECORD'
_RECORD = {'tests': [], 'current': None, 'engine': None}


def answered(results):
    """Keep what each module run of the current fault test answered."""
    current = _RECORD['current']
    if current is None:
        return
    for result in results:
        current['answers'].append({'task': result.get('_task'), 'changed': bool(result.get('changed')),
                                   'failed': bool(result.get('failed')), 'msg': result.get('msg')})


def _checks(function):
    """Each ``assert`` of ``function``: its message when it has one, else its code."""
    try:
        tree = ast.parse(textwrap.dedent(inspect.getsource(function)))
    except (OSError, TypeError, SyntaxError):
        return []
    checks = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Assert):
            if isinstance(node.msg, ast.Constant) and isinstance(node.msg.value, str):
                checks.append(node.msg.value)
            else:
                checks.append(ast.unparse(node.test))
    return checks


def _fault(item):
    marker = item.get_closest_marker('fault')
    if marker and marker.args:
        return marker.args[0]
    doc = inspect.getdoc(item.function) or ''
    name = item.function.__name__
    return doc.split('\n\n', 1)[0].replace('\n', ' ') or name[len('test_'):].replace('_', ' ')


def _placeholders(item):
    values = {}
    unique = item.funcargs.get('unique')
    if isinstance(unique, str):
        values[unique] = '{unique}'
    tmp_path = item.funcargs.get('tmp_path')
    if tmp_path is not None:
        values[str(tmp_path)] = '{tmp}'
    engine = item.funcargs.get('engine')
    if engine is not None:
        values[engine.host] = '{docker_host}'
        values[engine.registry] = '{registry}'
    return values


def _plain(text, values):
    if not isinstance(text, str):
        return text
    for value, placeholder in sorted(values.items(), key=lambda pair: -len(pair[0])):
        text = text.replace(value, placeholder)
    return text


def pytest_configure(config):
    config.addinivalue_line('markers', 'fault(text): a fault-suite test, recorded for docs/reliability.md')


def _recorded(item):
    return bool(os.environ.get(RECORD_ENV)) and item.get_closest_marker('fault') is not None


def _engine(item):
    engine = item.funcargs.get('engine')
    if engine is None or _RECORD['engine'] is not None:
        return
    try:
        version = engine.api.version()
    except Exception:  # pylint: disable=broad-except  # a daemon a failed test left down: asked again later
        return
    _RECORD['engine'] = '%s (API %s, %s image store)' % (
        version.get('Version'), version.get('ApiVersion'), 'containerd' if engine.containerd else 'classic')


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_call(item):
    _RECORD['current'] = {'answers': []} if _recorded(item) else None


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    current = _RECORD['current']
    if report.when != 'call' or current is None:
        return
    _RECORD['current'] = None
    _engine(item)
    values = _placeholders(item)
    _RECORD['tests'].append({
        'file': os.path.basename(str(item.fspath)),
        'test': _plain(item.name, values),
        'fault': _plain(_fault(item), values),
        'outcome': report.outcome,
        'answers': [dict(answer, msg=_plain(answer['msg'], values)) for answer in current['answers']],
        'checks': [_plain(check, values) for check in _checks(item.function)],
    })


def pytest_sessionfinish(session):
    path = os.environ.get(RECORD_ENV)
    if not path or not _RECORD['tests']:
        return
    with open(path, 'w') as handle:
        json.dump({'engine': _RECORD['engine'], 'engine_name': os.environ.get('DOCKYARD_ENGINE') or 'debian',
                   'tests': _RECORD['tests']}, handle, indent=1)
