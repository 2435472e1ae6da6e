"""Where an environment's hosts are: names in the manifest, addresses from outside it.

The manifest names hosts (``nodes: [node1, node2, node3]``, ``services_host:
services-scratch``); addresses are not committed. They come, in order of
preference, from the environment variable ``<ENV>_INFRASTRUCTURE`` (the JSON
the real GitHub secrets hold: ``{"nodes": [{"host": "<address>", "name":
"node1", "private_host": "<private address>"}], "services_host": "<address>"}``,
where ``services_host`` may also be ``{"host": ..., "private_host": ...}``),
then from ``manifests/hosts.yaml`` (address, private_address, user, port, key
per name). A host without a private address uses its public one. For the
``local`` target a host without an address is this machine (127.0.0.1); for
``ssh`` it is an error naming the host and both places to give it.

Every address must look like a host name or an IP address: addresses end up
in remote command lines and URLs, so nothing else is accepted.

``host_variables`` gives deploy steps the inventory as ``OTTO_*`` variables:
the step's own host (``OTTO_HOST``, ``_ADDRESS``, ``_PRIVATE_ADDRESS``,
``OTTO_NODE_INDEX``) and every host of the environment (``OTTO_NODE_COUNT``,
``OTTO_NODES``, ``OTTO_NODE<i>_NAME/_ADDRESS/_PRIVATE_ADDRESS``,
``OTTO_SERVICES_HOST_NAME/_ADDRESS/_PRIVATE_ADDRESS``).
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .core.errors import BadInput

if TYPE_CHECKING:  # kept out of $OTTO_REMOTE's imports: it starts once per remote command
    from .core.models import Environment, HostsFile

_ADDRESS = re.compile(r"[A-Za-z0-9:][A-Za-z0-9.:-]*")   # never a leading "-" (an ssh option)
_SHAPE = ('{"nodes": [{"host": "<address>", "name": "node1", "private_host": "<address>"}], '
          '"services_host": "<address>" or {"host": "<address>", "private_host": "<address>"}}')


@dataclass(frozen=True)
class Host:
    name: str
    address: str
    user: str | None = None
    port: int | None = None
    key: str | None = None
    index: int = 0           # 1-based position among the nodes; 0 for the services host
    private_address: str = ""

    @property
    def private(self) -> str:
        """The address hosts of the environment reach this one on (the public one if none)."""
        return self.private_address or self.address


@dataclass(frozen=True)
class Inventory:
    nodes: tuple[Host, ...]
    services_host: Host | None

    def addresses(self) -> dict[str, str]:
        out = {h.name: h.address for h in self.nodes}
        if self.services_host:
            out[self.services_host.name] = self.services_host.address
        return out

    def all(self) -> tuple[Host, ...]:
        return self.nodes + ((self.services_host,) if self.services_host else ())

    def get(self, name: str) -> Host | None:
        return next((h for h in self.all() if h.name == name), None)


def variable_name(env: str) -> str:
    return f"{env.upper().replace('-', '_')}_INFRASTRUCTURE"


Entry = tuple[str, str | None]    # (public address, private address or None)


def _entry(value: Any) -> Entry:
    if isinstance(value, str):
        return value, None
    host, private = value["host"], value.get("private_host")
    if not isinstance(host, str) or not (private is None or isinstance(private, str)):
        raise TypeError
    return host, private or None


def _from_variable(env: str, environ: Mapping[str, str]) -> tuple[dict[str, Entry], Entry | None]:
    name = variable_name(env)
    text = environ.get(name)
    if not text:
        return {}, None
    try:
        data = json.loads(text)
        nodes = {str(n["name"]): _entry(n) for n in data.get("nodes", [])}
        services = data.get("services_host")
        return nodes, (_entry(services) if services else None)
    except (ValueError, TypeError, KeyError, AttributeError):
        raise BadInput(f"{name} is not JSON of the form {_SHAPE}") from None


def _checked(address: str, host: str, where: str) -> str:
    if not _ADDRESS.fullmatch(address):
        raise BadInput(f"address {address!r} of host {host!r} ({where}) is not a host name or "
                       "an IP address", hint="addresses are host names or IPv4/IPv6 addresses")
    return address


def inventory(env: Environment, hosts: HostsFile | None,
              environ: Mapping[str, str] | None = None) -> Inventory:
    environ = os.environ if environ is None else environ
    infra = env.infrastructure
    from_var, services_addr = _from_variable(env.name, environ)
    known = hosts.hosts if hosts else {}
    local = infra.target == "local"
    var = variable_name(env.name)

    def host(name: str, index: int, given: Entry | None) -> Host:
        entry = known.get(name)
        where = var if given else "manifests/hosts.yaml"
        addr, private = given or ((entry.address, entry.private_address) if entry
                                  else (None, None))
        if addr is None:
            if not local:
                raise BadInput(
                    f"host {name!r} of environment {env.name} has no address",
                    hint=f"set {var} or add hosts.{name} to manifests/hosts.yaml")
            addr = "127.0.0.1"
        # a port hosts.yaml does not name is infrastructure.ssh.port's, not the model's 22
        port = entry.port if entry and "port" in entry.model_fields_set else None
        return Host(name, _checked(addr, name, where), entry.user if entry else None, port,
                    entry.key if entry else None, index,
                    _checked(private, name, where) if private else "")

    nodes = tuple(host(n, i, from_var.get(n)) for i, n in enumerate(infra.nodes, start=1))
    services = None
    if infra.services_host:
        services = host(infra.services_host, 0, services_addr)
    return Inventory(nodes, services)


def host_variables(hosts: Inventory, host: Host | None) -> dict[str, str]:
    """The inventory as deploy variables; ``host`` is the step's own host (None: a once step)."""
    out = {"OTTO_NODE_COUNT": str(len(hosts.nodes)),
           "OTTO_NODES": ",".join(h.name for h in hosts.nodes)}
    for h in hosts.nodes:
        out[f"OTTO_NODE{h.index}_NAME"] = h.name
        out[f"OTTO_NODE{h.index}_ADDRESS"] = h.address
        out[f"OTTO_NODE{h.index}_PRIVATE_ADDRESS"] = h.private
    if hosts.services_host:
        s = hosts.services_host
        out |= {"OTTO_SERVICES_HOST_NAME": s.name, "OTTO_SERVICES_HOST_ADDRESS": s.address,
                "OTTO_SERVICES_HOST_PRIVATE_ADDRESS": s.private}
    if host is not None:
        out |= {"OTTO_HOST": host.name, "OTTO_HOST_ADDRESS": host.address,
                "OTTO_HOST_PRIVATE_ADDRESS": host.private}
        if host.index:  # nodes only (1-based); the services host has no index
            out["OTTO_NODE_INDEX"] = str(host.index)
    return out
