"""Every module run ad hoc across the fleet, as `ansible docker_hosts -i fleet.yml -m MODULE -a 'k=v ...'` runs it.

pytest-ansible's ``ansible_adhoc`` runs each module with key=value arguments on every host of the fleet's
inventory at once; the arguments are templated per host, as the ansible command templates them, so each
host reaches its own daemon (``docker_host`` and, for the TLS host, its certificate variables).
"""

from __future__ import annotations

import io
import json
import os
import tarfile

import pytest
from ansible.parsing.splitter import parse_kv

try:
    from ansible.template import trust_as_template
except ImportError:  # before ansible-core 2.19 every string was a template
    def trust_as_template(text):
        return text

from conftest import ADHOC, HOSTS

CONNECTION = ('docker_host={{ docker_host }} validate_certs={{ docker_validate_certs | default(false) }} '
              'ca_path={{ docker_ca_path | default(omit) }} client_cert={{ docker_client_cert | default(omit) }} '
              'client_key={{ docker_client_key | default(omit) }} tls_hostname={{ docker_tls_hostname | default(omit) }}')


@pytest.fixture(scope='module')
def adhoc(fleet):
    """``adhoc(MODULE, 'k=v ...')``: the module on every host of the fleet, with each host's connection."""
    saved = {name: os.environ.get(name) for name in ('REQUESTS_CA_BUNDLE', 'CURL_CA_BUNDLE')}
    os.environ.update(REQUESTS_CA_BUNDLE=str(fleet.unrelated_ca), CURL_CA_BUNDLE=str(fleet.unrelated_ca))

    def run(ansible_adhoc, module, arguments, inventory=None):
        hosts = ansible_adhoc(inventory=str(inventory or fleet.inventory), host_pattern='docker_hosts',
                              connection='local', forks=4).all
        # Key=value words parsed, and trusted as templates, as the ansible command takes its -a
        # (pytest-ansible would pass the words on raw, and untrusted).
        options = {key: trust_as_template(value) for key, value in parse_kv(CONNECTION + ' ' + arguments).items()}
        return getattr(hosts, 'dockyard.docker.' + module)(**options)

    yield run
    for name, value in saved.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value


def on_every_host(results, changed):
    assert sorted(results.keys()) == sorted(HOSTS)
    for host, result in results.items():
        assert not result.is_failed, (host, result.get('msg'))
        assert result.is_changed is changed, (host, result.get('actions'))


def test_pull_and_inspect(ansible_adhoc, adhoc, fleet):
    app = '%s/%s' % (fleet.controller.registry, ADHOC)
    on_every_host(adhoc(ansible_adhoc, 'image_pull', 'name=%s' % app), changed=True)
    on_every_host(adhoc(ansible_adhoc, 'image_pull', 'name=%s' % app), changed=False)
    results = adhoc(ansible_adhoc, 'image_info', 'name=%s fields=Id,RepoTags' % app)
    on_every_host(results, changed=False)
    for host, result in results.items():
        assert result['images'] == [{'Id': fleet.controller.image_id(app), 'RepoTags': [app]}], host


def test_tag_push_search_and_remove(ansible_adhoc, adhoc, fleet):
    registry = fleet.controller.registry
    app = '%s/%s' % (registry, ADHOC)
    target = '%s/fleet/pushed-{{ inventory_hostname }}:1.0' % registry
    on_every_host(adhoc(ansible_adhoc, 'image_tag', 'name=%s repository=fleet/tagged tag=1.0' % app), changed=True)
    on_every_host(adhoc(ansible_adhoc, 'image_push', 'name=%s repository=%s' % (app, target)), changed=True)
    on_every_host(adhoc(ansible_adhoc, 'image_push', 'name=%s repository=%s' % (app, target)), changed=False)
    results = adhoc(ansible_adhoc, 'image_search', 'registry=%s term=fleet/pushed' % registry)
    on_every_host(results, changed=False)
    pushed = sorted('fleet/pushed-%s' % host for host in HOSTS)
    for host, result in results.items():
        assert sorted(entry['name'] for entry in result['results']) == pushed, host
    on_every_host(adhoc(ansible_adhoc, 'image_remove', 'name=fleet/tagged:1.0,%s' % target), changed=True)
    on_every_host(adhoc(ansible_adhoc, 'image_remove', 'name=fleet/tagged:1.0,%s' % target), changed=False)


def test_archive_and_load(ansible_adhoc, adhoc, fleet):
    app = '%s/%s' % (fleet.controller.registry, ADHOC)
    path = '%s/{{ inventory_hostname }}-app.tar' % fleet.root
    on_every_host(adhoc(ansible_adhoc, 'image_archive', 'names=%s path=%s' % (app, path)), changed=True)
    on_every_host(adhoc(ansible_adhoc, 'image_archive', 'names=%s path=%s' % (app, path)), changed=False)
    on_every_host(adhoc(ansible_adhoc, 'image_load', 'path=%s' % path), changed=False)


def test_import_commit_export_and_prune(ansible_adhoc, adhoc, fleet):
    rootfs = fleet.root / 'rootfs.tar'
    with tarfile.open(rootfs, 'w') as tar:
        data = b'imported ad hoc\n'
        info = tarfile.TarInfo('etc/adhoc')
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    on_every_host(adhoc(ansible_adhoc, 'image_import', 'src=%s repository=fleet/imported tag=1.0' % rootfs),
                  changed=True)
    app = '%s/%s' % (fleet.controller.registry, ADHOC)
    for engine in fleet.engines.values():
        engine.cli('create', '--name', 'adhoc', '--network', 'none', app)
    on_every_host(adhoc(ansible_adhoc, 'image_commit', 'container=adhoc repository=fleet/committed tag=1.0'),
                  changed=True)
    export = '%s/{{ inventory_hostname }}-container.tar' % fleet.root
    on_every_host(adhoc(ansible_adhoc, 'container_export', 'container=adhoc path=%s' % export), changed=True)
    on_every_host(adhoc(ansible_adhoc, 'container_export', 'container=adhoc path=%s' % export), changed=False)
    for engine in fleet.engines.values():
        engine.cli('rm', 'adhoc')
    on_every_host(adhoc(ansible_adhoc, 'image_remove', 'name=fleet/imported:1.0,fleet/committed:1.0'), changed=True)
    on_every_host(adhoc(ansible_adhoc, 'image_prune', 'all=false'), changed=False)


def test_login_writes_each_hosts_own_config(ansible_adhoc, adhoc, fleet):
    config = '%s/{{ inventory_hostname }}-docker/config.json' % fleet.root
    arguments = 'registry_url=%s username=fleet password=secret-word config_path=%s' % (
        fleet.controller.registry, config)
    results = adhoc(ansible_adhoc, 'registry_login', arguments)
    on_every_host(results, changed=True)
    assert 'secret-word' not in json.dumps({host: dict(result) for host, result in results.items()})
    on_every_host(adhoc(ansible_adhoc, 'registry_login', arguments), changed=False)


def test_one_hosts_missing_certificate_fails_that_host_alone(ansible_adhoc, adhoc, fleet, tmp_path):
    missing = tmp_path / 'gone' / 'cert.pem'
    inventory = fleet.inventory_data()
    inventory['docker_hosts']['hosts']['tls']['docker_client_cert'] = str(missing)
    path = tmp_path / 'fleet.yml'
    path.write_text(json.dumps(inventory))
    results = adhoc(ansible_adhoc, 'image_info', 'name=%s/%s' % (fleet.controller.registry, ADHOC),
                    inventory=path)
    assert sorted(host for host, result in results.items() if result.is_failed) == ['tls']
    assert str(missing) in results['tls']['msg'], results['tls']['msg']
    assert all(len(results[host]['images']) == 1 for host in HOSTS if host != 'tls')
