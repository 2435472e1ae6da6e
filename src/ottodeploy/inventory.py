"""Where an environment's hosts are: names in the manifest, addresses from outside it.

The manifest names hosts (``nodes: [node1, node2, node3]``, ``services_host:
services-scratch``); addresses are not committed. They come, in order of
preference, from the environment variable ``<ENV>_INFRASTRUCTURE`` (the JSON
the real GitHub secrets hold: ``{"nodes": [{"host": "<address>", "name":
"node1"}], "services_host": "<address>"}``), then from ``manifests/hosts.yaml``
(address, user, port, key per name). For the ``local`` target a host without
an address is this machine (127.0.0.1); for ``ssh`` it is an error naming the
host and both places to give it.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass

from .core.errors import BadInput
from .core.models import Environment, HostsFile


@dataclass(frozen=True)
class Host:
    name: str
    address: str
    user: str | None = None
    port: int | None = None
    key: str | None = None
    index: int = 0           # 1-based position among the nodes; 0 for the services host


@dataclass(frozen=True)
class Inventory:
    nodes: tuple[Host, ...]
    services_host: Host | None

    def addresses(self) -> dict[str, str]:
        out = {h.name: h.address for h in self.nodes}
        if self.services_host:
            out[self.services_host.name] = self.services_host.address
        return out


def variable_name(env: str) -> str:
    return f"{env.upper().replace('-', '_')}_INFRASTRUCTURE"


def _from_variable(env: str, environ: Mapping[str, str]) -> tuple[dict[str, str], str | None]:
    name = variable_name(env)
    text = environ.get(name)
    if not text:
        return {}, None
    try:
        data = json.loads(text)
        nodes = {str(n["name"]): str(n["host"]) for n in data.get("nodes", [])}
        services = data.get("services_host")
    except (ValueError, TypeError, KeyError, AttributeError):
        raise BadInput(f"{name} is not JSON of the form "
                       '{"nodes": [{"host": "<address>", "name": "node1"}], '
                       '"services_host": "<address>"}') from None
    return nodes, (str(services) if services else None)


def inventory(env: Environment, hosts: HostsFile | None,
              environ: Mapping[str, str] | None = None) -> Inventory:
    environ = os.environ if environ is None else environ
    infra = env.infrastructure
    from_var, services_addr = _from_variable(env.name, environ)
    known = hosts.hosts if hosts else {}
    local = infra.target == "local"

    def host(name: str, index: int, address: str | None) -> Host:
        entry = known.get(name)
        addr = address or (entry.address if entry else None)
        if addr is None:
            if not local:
                raise BadInput(
                    f"host {name!r} of environment {env.name} has no address",
                    hint=f"set {variable_name(env.name)} or add hosts.{name} to "
                         "manifests/hosts.yaml")
            addr = "127.0.0.1"
        # a port hosts.yaml does not name is infrastructure.ssh.port's, not the model's 22
        port = entry.port if entry and "port" in entry.model_fields_set else None
        return Host(name, addr, entry.user if entry else None, port,
                    entry.key if entry else None, index)

    nodes = tuple(host(n, i, from_var.get(n)) for i, n in enumerate(infra.nodes, start=1))
    services = None
    if infra.services_host:
        services = host(infra.services_host, 0, services_addr)
    return Inventory(nodes, services)
