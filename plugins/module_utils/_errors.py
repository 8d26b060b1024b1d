# Copyright (c) dockyard.docker contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# This module_utils is PRIVATE to the collection: its interface may change
# without notice between releases.

from __future__ import annotations


class DockerError(Exception):
    """The one exception type the collection's helpers raise.

    Its text is the whole message a user sees: what was being done, to which
    object, and the daemon's or registry's own words.
    """
