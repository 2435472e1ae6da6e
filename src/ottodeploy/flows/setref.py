"""``inv set-ref ENV COMPONENT (REF | --sha SHA | --version V) [--commit]``: repoint one source.

What workflows and people used to do with ``yq -i`` or inline Python, with the
checks ``inv check --offline`` makes, in this order, stopping at the first
problem and writing nothing until all of them passed:

1. Exactly one pin is given. The deploy root's files load and validate as
   ``check --offline`` loads them (components, compatibility, hosts, the
   environment); COMPONENT must be one of ENV's sources.
2. The new pin on its own: a ref name passes the ref rules (``refnames``), a sha
   is 40 lowercase hex, a version is semver (``v`` optional, written as given);
   a version environment takes no ``ref``.
3. The file's text is re-pinned in place (``editing.set_pins``: comments, key
   order, quoting and indentation kept; the old pin's position and end-of-line
   comment go to the new one) and the result is validated as a whole, like any
   manifest. In a version environment the compatibility matrix is checked with
   the declared versions; a violation involving COMPONENT refuses the change
   (exit 1), older unrelated ones are reported as warnings.
4. With ``--commit``: the deploy root must be in a git repository with a branch
   checked out, and the file must be committed and unchanged, so that the commit
   holds this repoint and nothing else. The file is written atomically, then
   ``git commit --only`` commits that one path on the current branch (other
   staged changes stay staged); if the commit fails, the file is put back.

Pinning what is already pinned changes nothing and commits nothing. Whether the
ref, sha or version exists in the component's repo is ``inv check``'s job (it
contacts the repo); this command never does.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from ..core.errors import (
    CompatibilityError,
    ManifestError,
    OttodeployError,
    SetRefError,
    UsageError,
)
from ..editing import PinKind, same_pin, set_pins
from ..reporting import Reporter, note, warn
from ..root import DeployRoot

if TYPE_CHECKING:
    from ..core.models import CompatibilityFile, Environment



@dataclass
class SetRef:
    environment: str
    component: str
    file: str             # as messages name it: relative to the deploy root
    old: str              # "ref develop"
    new: str              # "ref feature/x"
    changed: bool = False
    commit: str = ""
    branch: str = ""
    warnings: list[str] = field(default_factory=list)


def requested_pin(ref: str, *, sha: bool = False, version: bool = False) -> tuple[PinKind, str]:
    """The pin a command line asks for: ``REF``, ``--sha SHA`` or ``--version V``."""
    if sha and version:
        raise UsageError("--sha and --version exclude each other",
                         hint="give a ref, --sha SHA or --version V")
    kind: PinKind = "sha" if sha else "version" if version else "ref"
    return kind, ref


def pin_problem(kind: PinKind, value: str) -> str | None:
    """Why ``value`` cannot be a ``kind`` pin, or None when it can."""
    from ..core.refnames import is_sha, ref_problem
    from ..core.versions import parse_version

    if kind == "ref":
        problem = ref_problem(value)
        return f"ref {value!r} {problem}" if problem else None
    if kind == "sha":
        return None if is_sha(value) else f"sha {value!r} is not a full 40-hex lowercase SHA"
    try:
        parse_version(value)
    except ValueError as exc:
        return str(exc)
    return None


def set_ref(root: DeployRoot, env: str, component: str, kind: PinKind, value: str, *,
            commit: bool = False, reporter: Reporter) -> SetRef:
    """Repoint ``component`` of ``env`` at ``kind: value`` (module docstring)."""
    from ..atomicfile import write_text
    from ..core.models import Environment
    from ..manifests import (
        check_environment,
        load_compatibility,
        load_hosts,
        load_project,
        validate,
    )
    from ..yamlfile import parse

    env = root.environment(env)
    project = load_project(root, env)
    matrix = load_compatibility(root, project.components)
    load_hosts(root)
    sources = project.environment.sources
    if component not in sources:
        raise UsageError(f"{env} has no source {component!r}",
                         hint="sources: " + ", ".join(sources))
    problem = pin_problem(kind, value)
    if problem:
        raise UsageError(problem, hint=_PIN_HINTS[kind])
    if project.environment.mode == "version" and kind == "ref":
        raise UsageError(f"{env} is a version environment: it pins sources by version or sha",
                         hint=f"inv set-ref {env} {component} --version X.Y.Z (or --sha SHA)")

    path = root.env_file(env)
    display = root.display(path)
    source = sources[component]
    old_kind = source.pin
    old_value = str(getattr(source, old_kind))
    result = SetRef(env, component, display, f"{old_kind} {old_value}", f"{kind} {value}")
    if same_pin(old_kind, old_value, kind, value):
        note(reporter, f"{display}: sources.{component} already pins {kind} {value}; nothing to do")
        return result

    text = path.read_text(encoding="utf-8")
    new_text = set_pins(text, {component: (kind, value)})
    new_doc = parse(new_text, display)
    new_env = validate(Environment, new_doc)
    problems = check_environment(new_env, new_doc, project.components, expected_name=env)
    if problems:
        raise ManifestError(display, problems, hint="the repointed manifest would not be valid")
    if new_env.mode == "version":
        result.warnings = _compatibility(matrix, new_env, component)
    for warning in result.warnings:
        warn(reporter, warning)

    top, rel = _commit_target(root, path) if commit else (None, "")
    write_text(path, new_text)
    result.changed = True
    note(reporter, f"{display}: sources.{component} {result.old} -> {result.new}")
    if top is not None:
        try:
            result.commit, result.branch = _commit(top, rel, result)
        except OttodeployError:
            write_text(path, text)
            raise
        note(reporter, f"committed {result.commit[:12]} on {result.branch}")
    return result


_PIN_HINTS: dict[PinKind, str] = {
    "ref": "a branch or tag name: letters, digits and . _ / -, not starting with '-'",
    "sha": "the full commit SHA, as `git rev-parse` prints it",
    "version": "X.Y.Z, optionally with a leading v and a -prerelease",
}


def _compatibility(matrix: CompatibilityFile, env: Environment, component: str) -> list[str]:
    """Refuse violations involving ``component``; return the others as warnings."""
    from ..core.compat import violations
    from ..core.versions import normalize_version

    versions = {n: normalize_version(s.version) for n, s in env.sources.items()
                if s.version is not None}
    found = violations(matrix, versions)
    blocking = [str(v) for v in found if component in (v.component, v.dependency)]
    if blocking:
        raise CompatibilityError(blocking)
    return [f"already violated in {env.name}: {v}" for v in found]


def _commit_target(root: DeployRoot, path: Path) -> tuple[Path, str]:
    """The repository and the file's path in it, once the file is known to be clean."""
    from ..git import current_branch, git, toplevel

    top = toplevel(root.path)
    if top is None:
        raise SetRefError(f"{root.path} is not in a git repository, so --commit has nothing "
                          "to commit to", hint="drop --commit to only edit the file")
    if current_branch(top) is None:
        raise SetRefError("HEAD is detached: --commit commits on the current branch",
                          hint="check out a branch first (git switch BRANCH)")
    rel = str(path.resolve().relative_to(top.resolve()))
    tracked = git(["ls-files", "--error-unmatch", "--", rel], cwd=top, check=False)
    if tracked.returncode != 0:
        raise SetRefError(f"{rel} is not committed, so a commit would hold more than "
                          "this repoint", hint=f"commit {rel} first")
    status = git(["status", "--porcelain", "--", rel], cwd=top).stdout
    if status.strip():
        raise SetRefError(f"{rel} has uncommitted changes, so a commit would hold more "
                          "than this repoint",
                          hint=f"commit or stash them first (git diff -- {rel})")
    return top, rel


def _commit(top: Path, rel: str, result: SetRef) -> tuple[str, str]:
    from ..git import current_branch, git

    subject = f"chore({result.environment}): point {result.component} at {result.new}"
    body = f"{result.component}: {result.old} -> {result.new} ({rel})."
    git(["commit", "--quiet", "--only", "-m", subject, "-m", body, "--", rel], cwd=top)
    sha = git(["rev-parse", "HEAD"], cwd=top).stdout.strip()
    return sha, current_branch(top) or ""

