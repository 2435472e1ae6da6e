"""Resolving an environment's sources to exact commits and versions.

1. Each source's repo (its own or its component's) becomes a git address.
2. Every distinct address is read with one ``git ls-remote``, all in parallel.
3. Each source is resolved from that listing: a ``ref`` to the commit of its
   branch or tag (annotated tags peeled), a ``version`` to the commit of tag
   ``v<version>`` (or ``<version>``), a ``sha`` is checked against the tips and,
   when no tip is that commit, against the repo's history in the mirror.
4. Sources not pinned by version get a version from their history (SPEC §3:
   nearest tag + N commits). That needs the mirror, so the answer is cached per
   (repo, SHA, digest of the repo's tag list): unchanged SHAs and tags never
   fetch again.

All missing refs of an environment are reported together, each with the file,
the key and the line, as bad input (exit 2); a repo that cannot be reached is
an operation failure (exit 1).

Pinned SHAs. ``OTTODEPLOY_PINNED_SHAS``, a JSON object ``{"<source>": "<40 hex>"}`` or
``{"<source>": {"sha": "<40 hex>", "version": "<version>"}}``, makes step 3 answer those
sources with the given commits instead of their refs' (or version tags') current tips,
and step 4 with the given versions (no history read: no clone of the repo just for its
tags). The ref must still exist, and the lockfile still records the ref as written. A
workflow resolves once in its planning job and hands the result to every later job, so
a branch that moves while the run goes on cannot split it: every job builds and deploys
what was planned. A source pinned by ``sha`` in the manifest must be given its own SHA;
a name that is not a source is an error.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

from . import atomicfile
from .core.errors import RefNotFound, RepoUnreachable, UsageError
from .core.sources import Miss, Resolution, ResolvedSource, SourceRequest
from .git import AmbiguousRef, RemoteRefs, ls_remote, repo_url
from .process import parallel

if TYPE_CHECKING:
    from .lockfile import LockedFile
    from .manifests import Project
    from .mirror import Mirror



log = logging.getLogger("ottodeploy.resolve")
PINNED_SHAS_VAR = "OTTODEPLOY_PINNED_SHAS"


class Pinned(NamedTuple):
    sha: str
    version: str | None = None    # the planned version; None: computed here


def pinned_sources(environ: Mapping[str, str] | None = None) -> dict[str, Pinned]:
    """``OTTODEPLOY_PINNED_SHAS`` by source (empty when unset); malformed: bad input."""
    text = (os.environ if environ is None else environ).get(PINNED_SHAS_VAR, "").strip()
    if not text:
        return {}
    # imported only when pins are given: semver stays off a no-op build's path
    from .core.refnames import is_sha
    from .core.versions import parse_version

    hint = ('a JSON object of source names and 40-hex SHAs: {"ottochain": "<sha>"} or '
            '{"ottochain": {"sha": "<sha>", "version": "0.6.2-dev.3"}}')
    try:
        data = json.loads(text)
    except ValueError:
        raise UsageError(f"{PINNED_SHAS_VAR} is not JSON", hint=hint) from None
    if not isinstance(data, dict):
        raise UsageError(f"{PINNED_SHAS_VAR} is not a JSON object", hint=hint)
    out = {}
    for name, value in data.items():
        sha, version = (value.get("sha"), value.get("version")) if isinstance(value, dict) \
            else (value, None)
        if not isinstance(sha, str) or not is_sha(sha):
            raise UsageError(f"{PINNED_SHAS_VAR}: {name!r} is not given a 40-hex SHA", hint=hint)
        if version is not None:
            try:
                parse_version(str(version))
            except ValueError:
                raise UsageError(f"{PINNED_SHAS_VAR}: {name!r} is given version {version!r}, "
                                 "not a semantic version", hint=hint) from None
        out[str(name)] = Pinned(sha, None if version is None else str(version))
    return out


def _apply_pins(reqs: list[SourceRequest],
                pinned: dict[str, tuple[SourceRequest, str, str]],
                pins: Mapping[str, Pinned]) -> None:
    """Answer the pinned sources with their pinned SHAs (see the module docstring)."""
    unknown = sorted(set(pins) - {r.name for r in reqs})
    if unknown:
        raise UsageError(f"{PINNED_SHAS_VAR} names {', '.join(unknown)}, not sources here",
                         hint="sources: " + ", ".join(r.name for r in reqs))
    for name, (req, ref, sha) in list(pinned.items()):
        want = pins[name].sha if name in pins else sha
        if want == sha:
            continue
        if req.pin == "sha":
            raise UsageError(f"{PINNED_SHAS_VAR} gives {name} {want[:12]}, but the manifest "
                             f"pins it to {sha[:12]}")
        log.warning("%s: %s is at %s now; %s keeps it at %s", name, ref, sha[:12],
                    PINNED_SHAS_VAR, want[:12])
        pinned[name] = (req, ref, want)


def read_remotes(urls: Iterable[str]) -> dict[str, RemoteRefs]:
    """``git ls-remote`` of every address at once; every unreachable repo in one line."""
    unique = list(dict.fromkeys(urls))

    def one(url: str) -> RemoteRefs | RepoUnreachable:
        try:
            return ls_remote(url)
        except RepoUnreachable as exc:
            return exc

    results = dict(zip(unique, parallel(one, unique), strict=True))
    failed = [r for r in results.values() if isinstance(r, RepoUnreachable)]
    if failed:
        raise RepoUnreachable([u for f in failed for u in f.urls],
                              [r for f in failed for r in f.reasons])
    return {u: r for u, r in results.items() if isinstance(r, RemoteRefs)}


def start_reading(urls: Iterable[str]) -> Callable[[], dict[str, RemoteRefs]]:
    """``read_remotes(urls)`` started now, in the background: calling what this returns
    waits for it, and raises what ``read_remotes`` raises."""
    from concurrent.futures import ThreadPoolExecutor

    pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="ls-remote")
    reading = pool.submit(read_remotes, list(urls))
    pool.shutdown(wait=False)
    return reading.result


class VersionCache:
    """Branch-build versions by (repo, SHA, tag digest), in ``cache/versions.json``."""

    def __init__(self, cache: Path) -> None:
        from .statefiles import clear_way, read_json

        self.path = cache / "versions.json"
        clear_way(self.path)
        self.data: dict[str, dict[str, str]] = read_json(
            self.path, _is_version_cache, "a version cache") or {}
        self.dirty = False

    def get(self, url: str, sha: str, tags: str) -> str | None:
        hit = self.data.get(f"{url} {sha}")
        return hit["version"] if hit and hit.get("tags") == tags else None

    def put(self, url: str, sha: str, tags: str, version: str) -> None:
        self.data[f"{url} {sha}"] = {"tags": tags, "version": version}
        self.dirty = True

    def save(self) -> None:
        if self.dirty:
            atomicfile.write_text(self.path, json.dumps(self.data, indent=0, sort_keys=True),
                                  durable=False)
            self.dirty = False


def _is_version_cache(data: object) -> bool:
    """``{"<url> <sha>": {"tags": str, "version": str}}``, as ``VersionCache`` writes it."""
    return isinstance(data, dict) and all(
        isinstance(v, dict) and isinstance(v.get("tags"), str)
        and isinstance(v.get("version"), str) for v in data.values())


def strip_v(text: str) -> str:
    """``v0.6.1`` -> ``0.6.1`` (versions were validated on load; no semver import here)."""
    return text[1:] if text[:1] in ("v", "V") else text


def branch_version(mirror: Mirror, sha: str) -> str:
    """SPEC §3's version of a branch build at ``sha`` (needs the commit in the mirror)."""
    from .core.versions import best_tag, dev_version

    tags, count = mirror.describe(sha)
    best = best_tag(tags)
    return dev_version(best[1] if best else None, count)


def source_requests(project: Project) -> list[SourceRequest]:
    out = []
    for name, src in project.environment.sources.items():
        repo = src.repo or project.components.components[name].repo
        value = src.ref if src.ref is not None else src.version or src.sha or ""
        out.append(SourceRequest(name, repo, repo_url(repo, project.root.path), src.pin, value))
    return out


def resolve(project: Project, *, cache: Path | None = None,
            remember: bool = True) -> Resolution:
    """Resolve every source of ``project``'s environment (see the module docstring).

    The result is stored as the environment's last resolution (``state.LastResolution``)
    unless ``remember`` is false; unreachable repos are one error whose hint says what
    could answer offline.
    """
    from .state import LastResolution

    name = project.environment.name
    requests = source_requests(project)
    last = LastResolution(project.root.state / name)
    try:
        resolved, misses = resolve_requests(requests, cache or project.root.cache)
    except RepoUnreachable as exc:
        raise exc.with_hint(last.offline_hint(name, requests)) from None
    if misses:
        doc = project.env_doc
        raise RefNotFound(doc.file, [doc.problem(("sources", m.name, m.field), m.message, m.hint)
                                     for m in misses])
    result = Resolution(name, resolved)
    if remember:
        last.save(requests, result)
    return result


def resolve_requests(requests: Iterable[SourceRequest], cache: Path,
                     remotes: Mapping[str, RemoteRefs] | None = None) \
        -> tuple[dict[str, ResolvedSource], list[Miss]]:
    """Resolve ``requests``; what cannot be found comes back as ``Miss`` es, in order."""
    reqs = list(requests)
    listing = dict(remotes) if remotes is not None else read_remotes(r.url for r in reqs)
    misses: list[Miss] = []
    pinned: dict[str, tuple[SourceRequest, str, str]] = {}  # name -> (request, ref, sha)
    need_history: set[str] = set()
    for req in reqs:
        refs = listing[req.url]
        if req.pin == "ref":
            try:
                sha = refs.resolve(req.value)
            except AmbiguousRef as exc:
                misses.append(Miss(req.name, "ref", str(exc),
                                   f"write refs/heads/{req.value} or refs/tags/{req.value}"))
                continue
            if sha is None:
                misses.append(Miss(req.name, "ref", f"ref {req.value!r} not found in {req.repo}",
                                   _close_refs(req.value, refs)))
                continue
            pinned[req.name] = (req, req.value, sha)
        elif req.pin == "version":
            bare = strip_v(req.value)
            tag = refs.version_tag(bare)
            if tag is None:
                misses.append(Miss(
                    req.name, "version",
                    f"version {bare} not found in {req.repo}: no tag v{bare} or {bare}",
                    _latest_tags(refs)))
                continue
            pinned[req.name] = (req, tag, refs.commit_of(f"refs/tags/{tag}") or "")
        else:
            pinned[req.name] = (req, req.value, req.value)
            if not refs.has_commit_tip(req.value):
                need_history.add(req.name)
    pins = pinned_sources()
    if pins:
        _apply_pins(reqs, pinned, pins)
        need_history.update(n for n, p in pins.items() if n in pinned and p.version is None
                            and not listing[pinned[n][0].url].has_commit_tip(p.sha))

    versions: dict[str, str] = {}
    vcache = VersionCache(cache)
    todo = []
    for name, (req, ref, sha) in pinned.items():
        if req.pin == "version":
            versions[name] = strip_v(ref)
            continue
        planned = pins[name].version if name in pins else None
        if planned is not None:
            versions[name] = planned
            continue
        hit = vcache.get(req.url, sha, listing[req.url].tags_digest)
        if hit is not None and name not in need_history:
            versions[name] = hit
        else:
            todo.append(name)

    def history(name: str) -> str | None:
        from .mirror import Mirror

        req, _, sha = pinned[name]
        mirror = Mirror(cache, req.url)
        # a cache miss means a new SHA or a changed tag list: bring the mirror up to date
        if not mirror.ensure_commit(sha, refresh=True):
            return None
        return branch_version(mirror, sha)

    for name, version in zip(todo, parallel(history, todo), strict=True):
        req, _, sha = pinned[name]
        if version is None:
            misses.append(Miss(name, "sha", f"commit {sha} not found in {req.repo}"))
            del pinned[name]
            continue
        versions[name] = version
        vcache.put(req.url, sha, listing[req.url].tags_digest, version)
    if not misses:  # bad input writes nothing, not even the cache
        vcache.save()
    return {
        name: ResolvedSource(name, req.repo, req.url, req.pin, ref, sha, versions[name],
                             listing[req.url].tags_digest)
        for name, (req, ref, sha) in pinned.items()
    }, misses


def _close_refs(ref: str, refs: RemoteRefs) -> str | None:
    import difflib

    names = [r.split("/", 2)[2] for r in refs.refs if r.startswith(("refs/heads/", "refs/tags/"))]
    close = difflib.get_close_matches(ref, names, n=3)
    if close:
        return "did you mean " + " or ".join(repr(c) for c in close) + "?"
    branches = [r[len("refs/heads/"):] for r in refs.refs if r.startswith("refs/heads/")]
    return "branches: " + ", ".join(sorted(branches)[:10]) if branches else None


def _latest_tags(refs: RemoteRefs) -> str | None:
    from .core.versions import tag_version

    tagged = [(v, t) for t in refs.tags if (v := tag_version(t)) is not None]
    if not tagged:
        return "the repo has no version tags"
    newest = [t for _, t in sorted(tagged, reverse=True)[:5]]
    return "newest tags: " + ", ".join(newest)


def resolve_locked(project: Project, replay: LockedFile) -> Resolution:
    """A lockfile's exact sources, checked against the environment's current sources.

    The environment must list exactly the lockfile's components. A source whose lockfile
    entry names no version (DESIGN.md §6's example leaves most out) gets SPEC §3's version
    of the locked commit, as a deploy computes it; a locked commit its repo does not have
    is bad input naming the lockfile's line.
    """
    from .core.errors import LockfileError
    from .yamlfile import load

    lock = replay.lock
    env = project.environment

    def fail(problems: list[tuple[tuple[str, ...], str]]) -> LockfileError:
        doc = load(replay.path, project.root.display(replay.path))  # for the lines
        return LockfileError(doc.file, [doc.problem(path, text) for path, text in problems])

    missing = set(env.sources) - set(lock.sources)
    extra = set(lock.sources) - set(env.sources)
    if missing or extra:
        what = ", ".join([*(f"{n} (not in the lockfile)" for n in sorted(missing)),
                          *(f"{n} (not in {env.name} any more)" for n in sorted(extra))])
        raise fail([(("sources",), f"cannot replay: {what}")])
    from .mirror import Mirror

    urls = {name: repo_url(lock.sources[name].repo, project.root.path) for name in env.sources}

    def version_of(name: str) -> str | None:
        s = lock.sources[name]
        if s.version:
            return s.version
        mirror = Mirror(project.root.cache, urls[name])
        return branch_version(mirror, s.sha) if mirror.ensure_commit(s.sha) else None

    names = list(env.sources)
    versions = dict(zip(names, parallel(version_of, names), strict=True))
    unknown = [n for n in names if versions[n] is None]
    if unknown:
        raise fail([(("sources", n, "sha"),
                     f"commit {lock.sources[n].sha} not found in {lock.sources[n].repo}")
                    for n in unknown])
    sources = {}
    for name in names:
        s = lock.sources[name]
        pin = s.pinned_by or ("version" if env.mode == "version" else "ref")
        sources[name] = ResolvedSource(name, s.repo, urls[name], pin, s.ref or s.sha, s.sha,
                                       versions[name] or "", "")
    return Resolution(env.name, sources)
