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


def variables(env_name: str, spec: TaskSpec, specs: Mapping[str, TaskSpec]) -> dict[str, str]:
    """SPEC §4's ``OTTO_*`` variables of one task (made when it runs, not on every load).

    ``OTTO_DEP_<D>_*`` covers every task upstream of this one, the component's own earlier
    artifacts (``needs``) included, so a recipe finds every output it may use.
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
        "OTTO_OUT": spec.out_dir,
        "OTTO_KEY": spec.key,
    }
    if spec.image_ref:
        env["OTTO_IMAGE"] = spec.image_ref
    for k, v in spec.build_with.items():
        env[f"OTTO_BUILD_WITH_{var_name(k)}"] = v
    seen: set[str] = set()
    stack = list(spec.deps)
    while stack:
        d = stack.pop()
        if d in seen:
            continue
        seen.add(d)
        dep = specs[d]
        stack.extend(dep.deps)
        prefix = f"OTTO_DEP_{var_name(dep.component)}"
        env[f"{prefix}_SHA"] = dep.sha
        env[f"{prefix}_VERSION"] = dep.version
        env[f"{prefix}_OUT_{var_name(dep.artifact)}"] = dep.out_dir
        if dep.image_ref:
            env[f"{prefix}_IMAGE_{var_name(dep.artifact)}"] = dep.image_ref
    return env


def deploy_variables(env_name: str, component: str, source: ResolvedSource,
                     specs: Mapping[str, TaskSpec],
                     exact_images: Mapping[str, str]) -> dict[str, str]:
    """The variables of one component's deploy step (SPEC §6).

    Its source (``OTTO_SHA``, ``OTTO_VERSION``…), every artifact's output folder
    (``OTTO_OUT_<ARTIFACT>``), what it depends on (``OTTO_DEP_<D>_SHA/_VERSION``)
    and, for image artifacts, the exact reference (``exact_images``: task -> reference,
    by digest where the build knew it) as ``OTTO_IMAGE_<ARTIFACT>`` and ``OTTO_IMAGE``.
    """
    env = {"OTTO_ENV": env_name, "OTTO_COMPONENT": component, "OTTO_REPO": source.repo,
           "OTTO_REF": source.ref, "OTTO_SHA": source.sha, "OTTO_SHORT_SHA": source.sha[:7],
           "OTTO_VERSION": source.version}
    for spec in specs.values():
        if spec.component != component:
            continue
        env[f"OTTO_OUT_{var_name(spec.artifact)}"] = spec.out_dir
        for k, v in variables(env_name, spec, specs).items():
            if k.startswith("OTTO_DEP_") and "_OUT_" not in k and "_IMAGE_" not in k:
                env[k] = v
        if spec.image_ref:
            exact = exact_images.get(spec.task, spec.image_ref)
            env[f"OTTO_IMAGE_{var_name(spec.artifact)}"] = exact
            env.setdefault("OTTO_IMAGE", exact)
    return env
