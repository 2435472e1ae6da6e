"""What the status site says about environments, from lockfile values alone.

- **Order.** Environments are shown in promotion order (scratch, beta, staging,
  prod), the others after them alphabetically, so the environment to the left of
  a column is the one it is promoted from.
- **Artifacts.** A locked artifact is a mapping (``digest``, ``ref``, ``tag``,
  ``key``) or, in lockfiles older than SPEC §3's mapping, one string: an image
  reference (its ``@sha256:`` digest, when pinned) or ``key:<build key>`` (no
  digest). A task ``<component>_<artifact>`` belongs to its component.
- **Health.** A failed lockfile failed when its last failed verification ran
  (else when it was written), because of that verification's reason or failed
  checks, the lockfile's note, the signal that interrupted it, or the tests that
  failed; a healthy one is healthy since it was written, verified when last
  verified.
- **Match with the left.** The same component in two lockfiles is *same* when
  both locked one commit and every artifact digest both know is equal,
  *different bytes* when one commit gave other digests, *same commit* when no
  digest can be compared (old lockfiles), *differs* when the commits differ.
- **Changes.** Between two lockfiles of one environment, per component: added,
  removed, moved to another commit, or rebuilt (same commit, other digests),
  each with its digest changes (an artifact added or dropped, or two known
  digests that differ; a digest an old lockfile never recorded is no change).
  Commits between are read by the caller.
- **Compatibility.** Every range of the matrix checked against one lockfile's
  versions: ok, violated, or unchecked (a component or version is missing).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

from .imageref import image_digest
from .lockmodels import LockedArtifact, LockedSource, Lockfile
from .models import CompatibilityFile
from .versions import Range

PROMOTION_ORDER = ("scratch", "beta", "staging", "prod")

Match = Literal["same", "different bytes", "same commit", "differs"]


def promotion_order(environments: Iterable[str]) -> list[str]:
    names = set(environments)
    known = [e for e in PROMOTION_ORDER if e in names]
    return known + sorted(names - set(known))


def short_sha(sha: str | None) -> str:
    return sha[:7] if sha else ""


def short_digest(digest: str | None) -> str:
    """``sha256:<64 hex>`` -> its first 12 hex digits (as ``docker images`` shows them)."""
    return digest.partition(":")[2][:12] if digest else ""


# --- artifacts -------------------------------------------------------------------------------


@dataclass(frozen=True)
class ArtifactView:
    """One locked artifact, whatever shape its lockfile wrote it in."""

    task: str
    artifact: str
    digest: str | None
    ref: str | None = None
    tag: str | None = None
    key: str | None = None
    reproduced: bool | None = None

    @property
    def short(self) -> str:
        return short_digest(self.digest)


def artifact_view(task: str, entry: str | LockedArtifact) -> ArtifactView:
    artifact = task.partition("_")[2]
    if isinstance(entry, LockedArtifact):
        return ArtifactView(task, artifact, entry.digest, entry.ref, entry.tag, entry.key,
                            entry.reproduced)
    if entry.startswith("key:"):
        return ArtifactView(task, artifact, None, key=entry[4:])
    return ArtifactView(task, artifact, image_digest(entry), ref=entry)


def artifacts_of(lock: Lockfile, component: str) -> list[ArtifactView]:
    """The component's artifacts in the lockfile, by task name."""
    return [artifact_view(task, lock.artifacts[task]) for task in sorted(lock.artifacts)
            if task.partition("_")[0] == component]


def _digests(lock: Lockfile, component: str) -> dict[str, str | None]:
    return {a.task: a.digest for a in artifacts_of(lock, component)}


# --- health ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Health:
    status: Literal["healthy", "failed"]
    when: str               # UTC timestamp
    why: str = ""
    verified: str = ""      # the last verification's time, when there was one


def health(lock: Lockfile) -> Health:
    last = lock.verifications[-1].at if lock.verifications else ""
    if lock.status == "healthy":
        return Health("healthy", lock.timestamp, verified=last)
    failed = [v for v in lock.verifications if v.result == "failed"]
    reasons: list[str] = []
    when = lock.timestamp
    if failed:
        when = failed[-1].at
        checks = sorted(n for n, r in failed[-1].checks.items() if r == "failed")
        reasons.append(failed[-1].reason or ("failed checks: " + ", ".join(checks) if checks
                                            else "verification failed"))
    if lock.note and lock.note not in reasons:
        reasons.append(lock.note)
    if lock.interrupted:
        reasons.append(f"interrupted by {lock.interrupted}")
    if not reasons:
        tests = sorted(n for n, r in lock.tests.items() if r == "failed")
        reasons.append(f"failed: {', '.join(tests)}" if tests else "failed")
    return Health("failed", when, "; ".join(reasons), last)


# --- one component against the environment to its left --------------------------------------


def match(left: Lockfile | None, right: Lockfile, component: str) -> Match | None:
    """How ``component`` in ``right`` compares with ``left`` (None: nothing to compare)."""
    if left is None:
        return None
    a, b = left.sources.get(component), right.sources.get(component)
    if a is None or b is None:
        return None
    if a.sha != b.sha:
        return "differs"
    da, db = _digests(left, component), _digests(right, component)
    common = sorted(t for t in set(da) & set(db) if da[t] and db[t])
    if any(da[t] != db[t] for t in common):
        return "different bytes"
    return "same" if common else "same commit"


@dataclass(frozen=True)
class Cell:
    """One component in one environment's column of the overview."""

    component: str
    source: LockedSource
    artifacts: list[ArtifactView]
    match: Match | None
    deployed: bool | str | None = None   # true | "unchanged" | None (not recorded)

    @property
    def sha7(self) -> str:
        return short_sha(self.source.sha)


@dataclass(frozen=True)
class Column:
    environment: str
    mode: str
    approval_required: bool
    lockfile: str | None                 # file name of the current lockfile
    lock: Lockfile | None
    health: Health | None
    left: str | None                     # the environment compared against
    cells: dict[str, Cell] = field(default_factory=dict)


def column(environment: str, mode: str, approval_required: bool,
           current: tuple[str, Lockfile] | None, left: tuple[str, Lockfile | None] | None) \
        -> Column:
    """The overview's column of ``environment`` given its current lockfile (name, value)
    and the environment to its left with that one's current lockfile."""
    if current is None:
        return Column(environment, mode, approval_required, None, None, None,
                      left[0] if left else None)
    name, lock = current
    left_lock = left[1] if left else None
    cells = {}
    for comp, src in lock.sources.items():
        locked = lock.components.get(comp)
        cells[comp] = Cell(comp, src, artifacts_of(lock, comp), match(left_lock, lock, comp),
                           locked.deployed if locked else None)
    return Column(environment, mode, approval_required, name, lock, health(lock),
                  left[0] if left else None, cells)


# --- what one deploy changed -----------------------------------------------------------------


@dataclass(frozen=True)
class DigestChange:
    task: str
    old: str | None
    new: str | None


@dataclass(frozen=True)
class ComponentChange:
    component: str
    kind: Literal["added", "removed", "changed", "rebuilt"]
    old: LockedSource | None
    new: LockedSource | None
    digests: tuple[DigestChange, ...] = ()
    # filled in from the repo's history: commits new has and old lacks, and the reverse;
    # None when they could not be read ("commits unknown")
    ahead: tuple[tuple[str, str], ...] | None = None
    behind: tuple[tuple[str, str], ...] | None = None


def _digest_changed(da: Mapping[str, str | None], db: Mapping[str, str | None], task: str) \
        -> bool:
    """An artifact appeared, went away, or both sides know its digest and they differ (an
    old lockfile's artifact without a digest is unknown, not changed)."""
    if task not in da or task not in db:
        return True
    return bool(da[task] and db[task] and da[task] != db[task])


def changes(older: Lockfile | None, newer: Lockfile,
            order: Sequence[str] = ()) -> list[ComponentChange]:
    """What ``newer`` changed against ``older``, components in ``order`` then by name."""
    before = older.sources if older else {}
    names = set(before) | set(newer.sources)
    ranked = [n for n in order if n in names] + sorted(names - set(order))
    out = []
    for name in ranked:
        a, b = before.get(name), newer.sources.get(name)
        da = _digests(older, name) if older else {}
        db = _digests(newer, name)
        digests = tuple(DigestChange(t, da.get(t), db.get(t)) for t in sorted(set(da) | set(db))
                        if _digest_changed(da, db, t))
        if a is None:
            out.append(ComponentChange(name, "added", None, b, digests))
        elif b is None:
            out.append(ComponentChange(name, "removed", a, None, digests))
        elif a.sha != b.sha or a.repo != b.repo:
            out.append(ComponentChange(name, "changed", a, b, digests))
        elif digests:
            out.append(ComponentChange(name, "rebuilt", a, b, digests))
    return out


# --- compatibility ---------------------------------------------------------------------------


@dataclass(frozen=True)
class CompatCheck:
    component: str
    dependency: str
    range: str
    component_version: str | None
    dependency_version: str | None
    state: Literal["ok", "violated", "unchecked"]
    why: str = ""


def compat_checks(matrix: CompatibilityFile, lock: Lockfile) -> list[CompatCheck]:
    """Every range of ``matrix`` against the versions ``lock`` recorded."""
    versions: Mapping[str, str | None] = {n: s.version for n, s in lock.sources.items()}
    out = []
    for comp in sorted(matrix.compatibility):
        for dep in sorted(matrix.compatibility[comp]):
            text = matrix.compatibility[comp][dep]
            cv, dv = versions.get(comp), versions.get(dep)
            missing = [n for n in (comp, dep) if n not in versions]
            unknown = [n for n in (comp, dep) if n in versions and not versions[n]]
            if missing or unknown:
                why = (f"{' and '.join(missing)} not deployed" if missing
                       else f"no version recorded for {' and '.join(unknown)}")
                out.append(CompatCheck(comp, dep, text, cv, dv, "unchecked", why))
                continue
            assert dv is not None
            ok = Range.parse(text).satisfied_by(dv)
            out.append(CompatCheck(comp, dep, text, cv, dv, "ok" if ok else "violated",
                                   "" if ok else f"{dep} {dv} is outside {text}"))
    return out
