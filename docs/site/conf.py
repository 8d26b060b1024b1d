# Sphinx configuration of the dockyard.docker docs site; scripts/build-docs builds it.
#
# scripts/build-docs lays out the source tree it reads: the pages beside this
# file at the top, docs/ as docs/, README.md and CHANGELOG.md (included by
# pages, never pages themselves) and the module and role pages antsibull-docs
# writes into collections/.
"""Sphinx configuration of the dockyard.docker docs site."""

from __future__ import annotations

import re

project = 'dockyard.docker'
author = 'dockyard.docker maintainers'
copyright = 'dockyard.docker maintainers; GPL-3.0-or-later'  # pylint: disable=redefined-builtin
title = 'dockyard.docker'
html_short_title = 'dockyard.docker'

extensions = ['myst_parser', 'sphinx_antsibull_ext']
source_suffix = {'.rst': 'restructuredtext', '.md': 'markdown'}
root_doc = 'index'
exclude_patterns = ['README.md', 'CHANGELOG.md', 'docs/site']

# Markdown: headings get anchors, so a page's [text](#heading) links work.
myst_heading_anchors = 3

pygments_style = 'ansible'
highlight_language = 'YAML+Jinja'
default_role = 'any'
# Command lines keep their dashes and quotes (--check, not an en dash).
smartquotes = False
# Every reference must resolve (sphinx-build -W turns the warnings into errors).
nitpicky = True

html_theme = 'sphinx_ansible_theme'
html_title = 'dockyard.docker'
html_show_sphinx = False
html_copy_source = False
html_use_modindex = False
html_use_index = False
display_version = False

# The site is built without a network: no intersphinx inventory can be fetched.
# The pages antsibull-docs writes point at the Ansible documentation through a
# few labels of it and at other collections' plugins; those become plain links.
ANSIBLE_DOCS = 'https://docs.ansible.com/projects/ansible/latest/'
ANSIBLE_LABELS = {
    'action_plugins': 'plugins/action.html',
    'ansible_configuration_settings': 'reference_appendices/config.html',
    'common_return_values': 'reference_appendices/common_return_values.html',
}
PLUGIN_LABEL = re.compile(r'ansible_collections\.(\w+)\.(\w+)\.(\w+)$')


def ansible_docs_page(label):
    """The page of the Ansible documentation for a label, or None when it is not one of theirs."""
    if label in ANSIBLE_LABELS:
        return ANSIBLE_DOCS + ANSIBLE_LABELS[label]
    match = PLUGIN_LABEL.match(label)
    if match and match.group(1, 2) != ('dockyard', 'docker'):
        return '%scollections/%s/%s/%s.html' % ((ANSIBLE_DOCS,) + match.groups())
    return None


def link_to_ansible_docs(app, env, node, contnode):  # pylint: disable=unused-argument
    """A reference Sphinx could not resolve, as a link into the Ansible documentation when it is one."""
    if node.get('refdomain') != 'std' or node.get('reftype') != 'ref':
        return None
    page = ansible_docs_page(node['reftarget'])
    if page is None:
        return None
    from docutils import nodes  # pylint: disable=import-outside-toplevel
    link = nodes.reference('', '', internal=False, refuri=page)
    link.append(contnode)
    return link


def setup(app):
    """Register the link fallback."""
    app.connect('missing-reference', link_to_ansible_docs)
    return {'parallel_read_safe': True, 'parallel_write_safe': True}
