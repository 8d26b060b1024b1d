"""Nothing the collection runs passes user input to a shell: no plugin starts a process at all.

Every Docker and registry operation goes over the Engine API (the Docker SDK) or HTTP (requests); the one
program run on a user's behalf, a docker credential helper, is started by the SDK's ``docker.credentials``
with an argument list, never through a shell. A plugin that imported ``subprocess``, called ``os.system``,
``os.popen``, ``os.exec*``/``os.spawn*`` or ``AnsibleModule.run_command`` would have to be looked at here.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PLUGINS = Path(__file__).resolve().parents[3] / 'plugins'
PROCESS_MODULES = {'subprocess', 'pty', 'commands'}
PROCESS_CALLS = {'system', 'popen', 'run_command', 'execv', 'execve', 'execvp', 'execvpe', 'execl', 'execlp',
                 'spawnv', 'spawnve', 'spawnl', 'spawnlp', 'posix_spawn', 'posix_spawnp', 'startfile'}


def process_uses(path):
    """Each import of a process module and each call of a process function in ``path``, as ``line: what``."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found += ['%d: import %s' % (node.lineno, alias.name) for alias in node.names
                      if alias.name.split('.')[0] in PROCESS_MODULES]
        elif isinstance(node, ast.ImportFrom) and (node.module or '').split('.')[0] in PROCESS_MODULES:
            found.append('%d: from %s import' % (node.lineno, node.module))
        elif isinstance(node, ast.Call):
            name = getattr(node.func, 'attr', None) or getattr(node.func, 'id', None)
            if name in PROCESS_CALLS:
                found.append('%d: %s()' % (node.lineno, name))
            if any(keyword.arg == 'shell' for keyword in node.keywords):
                found.append('%d: shell=' % node.lineno)
    return found


@pytest.mark.parametrize('path', sorted(PLUGINS.rglob('*.py')), ids=lambda path: str(path.relative_to(PLUGINS)))
def test_no_plugin_starts_a_process(path):
    assert process_uses(path) == []


def test_the_check_sees_a_process_where_there_is_one(tmp_path):
    sample = tmp_path / 'sample.py'
    sample.write_text('import subprocess\nimport os\nos.system("x")\nmodule.run_command(["a"], shell=True)\n')
    assert process_uses(sample) == ['1: import subprocess', '3: system()', '4: run_command()', '4: shell=']
