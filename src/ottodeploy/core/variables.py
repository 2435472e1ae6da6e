"""The variables a recipe and a deploy step are given (SPEC §4, §6).

Names are upper-cased with every character outside ``[A-Z0-9_]`` as ``_``
(``var_name``). A recipe gets its own task's values and, for every task
upstream of it, ``OTTO_DEP_<D>_SHA / _VERSION / _OUT_<ARTIFACT>``.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping

from .keys import TaskSpec
from .sources import ResolvedSource


@functools.lru_cache(maxsize=4096)
def var_name(name: str) -> str:
    return re.sub(r"[^A-Z0-9_]", "_", name.upper())


def variables(env_name: str, spec: TaskSpec, specs: Mapping[str, TaskSpec], out: str,
              outputs: Mapping[str, str]) -> dict[str, str]:
    """SPEC §4's ``OTTO_*`` variables of one task (made when it runs, not on every load).

    ``out`` is this run's fresh ``OTTO_OUT``; ``outputs`` maps every task upstream to the
    read-only folder of its stored outputs (a task without one, such as a pushed image,
    gives no ``_OUT_`` variable). ``OTTO_DEP_<D>_*`` covers every task upstream of this
    one, the component's own earlier artifacts (``needs``) included, so a recipe finds
    every output it may use.
    """
    env = {
        "OTTO_ENV": env_name,
        "OTTO_COMPONENT": spec.component,
        "OTTO_ARTIFACT": spec.artifact,
        "OTTO_REPO": spec.repo,
        "OTTO_REPO_URL": spec.url,
        "OTTO_REF": spec.ref,
        "OTTO_SHA": spec.sha,
        "OTTO_SHORT_SHA": spec.sha[:7],
        "OTTO_VERSION": spec.version,
        "OTTO_OUT": out,
        "OTTO_KEY": spec.key,
    }
    if spec.image_ref:
        env["OTTO_IMAGE"] = spec.image_ref
    for k, v in spec.build_with.items():
        env[f"OTTO_BUILD_WITH_{var_name(k)}"] = v
    for dep in upstream(spec, specs):
        prefix = f"OTTO_DEP_{var_name(dep.component)}"
        env[f"{prefix}_SHA"] = dep.sha
        env[f"{prefix}_VERSION"] = dep.version
        if dep.task in outputs:
            env[f"{prefix}_OUT_{var_name(dep.artifact)}"] = outputs[dep.task]
        if dep.image_ref:
            env[f"{prefix}_IMAGE_{var_name(dep.artifact)}"] = dep.image_ref
    return env


def upstream(spec: TaskSpec, specs: Mapping[str, TaskSpec]) -> list[TaskSpec]:
    """Every task ``spec`` depends on, directly or not, each once."""
    seen: dict[str, TaskSpec] = {}
    stack = list(spec.deps)
    while stack:
        d = stack.pop()
        if d not in seen:
            seen[d] = specs[d]
            stack.extend(specs[d].deps)
    return list(seen.values())


def deploy_variables(env_name: str, component: str, source: ResolvedSource,
                     specs: Mapping[str, TaskSpec], images: Mapping[str, tuple[str, str]],
                     outputs: Mapping[str, str]) -> dict[str, str]:
    """The variables of one component's deploy step (SPEC §4a: from recorded digests only).

    Its source (``OTTO_SHA``, ``OTTO_VERSION``…); every image artifact by digest
    (``images``: task -> (``name@sha256:…``, readable ``name:tag``)) as
    ``OTTO_IMAGE_<ARTIFACT>``/``OTTO_IMAGE`` with ``OTTO_IMAGE_TAG``; the read-only folders
    of its own stored artifacts (``OTTO_OUT_<ARTIFACT>``) and of the upstream outputs that
    are not images (``OTTO_DEP_<D>_OUT_<A>``), both from ``outputs`` (task -> folder).
    Nothing else of upstream: what a step is given changes only when what it deploys
    changes.
    """
    env = {"OTTO_ENV": env_name, "OTTO_COMPONENT": component, "OTTO_REPO": source.repo,
           "OTTO_REF": source.ref, "OTTO_SHA": source.sha, "OTTO_SHORT_SHA": source.sha[:7],
           "OTTO_VERSION": source.version}
    own = [s for s in specs.values() if s.component == component]
    for spec in own:
        if spec.task in outputs:
            env[f"OTTO_OUT_{var_name(spec.artifact)}"] = outputs[spec.task]
        if spec.task in images:
            exact, tag = images[spec.task]
            env[f"OTTO_IMAGE_{var_name(spec.artifact)}"] = exact
            env[f"OTTO_IMAGE_TAG_{var_name(spec.artifact)}"] = tag
            env.setdefault("OTTO_IMAGE", exact)
            env.setdefault("OTTO_IMAGE_TAG", tag)
    mine = {s.task for s in own}
    for dep in {d.task: d for s in own for d in upstream(s, specs)}.values():
        if dep.task not in mine and dep.task in outputs and not dep.image:
            env[f"OTTO_DEP_{var_name(dep.component)}_OUT_{var_name(dep.artifact)}"] = \
                outputs[dep.task]
    return env
