"""Make ``ansible_collections.dockyard.docker`` importable for the unit tests.

The collection is synced into ``.build/ansible_collections/dockyard/docker`` once
per session, so the tests import exactly what Ansible will run.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
COLLECTIONS_ROOT = Path(subprocess.run([str(REPO / 'scripts' / 'collection-tree')], check=True,
                                       stdout=subprocess.PIPE, text=True).stdout.strip())
sys.path.insert(0, str(COLLECTIONS_ROOT))
