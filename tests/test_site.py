"""``inv site``: golden pages, the same bytes every time, links that resolve, what it says.

The deploy root is ``tests/sitekit.py``'s: real repos, a real build of scratch and an
upstream commit after it, lockfiles written by the tool's writer. Golden pages live in
``tests/golden/site/`` with SHAs, digests, keys and paths replaced by placeholders and
the SVG (Graphviz's version shows in it) by a marker; ``OTTODEPLOY_UPDATE_GOLDEN=1``
rewrites them. The browser's view is in ``test_site_browser.py``.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path

import pytest

from ottodeploy.flows.site import build_site
from ottodeploy.reporting import Collected
from tests.browser import require_dot
from tests.deployrepo import cli
from tests.gitrepos import GitRepo
from tests.sitekit import (
    APPROVAL_DATE,
    APPROVER,
    ENVIRONMENTS,
    FAILED_REASON,
    Labels,
    SiteRoot,
    make_site_root,
)

GOLDEN = Path(__file__).parent / "golden" / "site"
PAGES = ["index.html", "compatibility.html",
         *(f"env-{e}.html" for e in ENVIRONMENTS), *(f"cascade-{e}.html" for e in ENVIRONMENTS)]


@pytest.fixture(scope="module")
def site_root(ecosystem_template: tuple[Path, dict[str, GitRepo]],
              tmp_path_factory: pytest.TempPathFactory) -> SiteRoot:
    require_dot()
    template, repos = ecosystem_template
    return make_site_root(template, repos, tmp_path_factory.mktemp("site") / "eco")


@pytest.fixture(scope="module")
def built(site_root: SiteRoot, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("built") / "site"
    build_site(site_root.root, out)
    return out


@pytest.fixture
def fresh_root(ecosystem_template: tuple[Path, dict[str, GitRepo]], tmp_path: Path) -> SiteRoot:
    """A root of this test's own, for tests that break something."""
    template, repos = ecosystem_template
    return make_site_root(template, repos, tmp_path / "eco")


def read(site: Path, page: str) -> str:
    return (site / page).read_text(encoding="utf-8")


def files_of(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes()
            for p in sorted(folder.rglob("*")) if p.is_file()}


# --- golden pages and determinism --------------------------------------------------------


@pytest.mark.parametrize("page", PAGES)
def test_pages_match_their_golden_files(site_root: SiteRoot, built: Path, page: str) -> None:
    text = Labels(site_root).normalise(read(built, page))
    path = GOLDEN / page
    if os.environ.get("OTTODEPLOY_UPDATE_GOLDEN"):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    assert path.exists(), f"{path} missing: run with OTTODEPLOY_UPDATE_GOLDEN=1 and review it"
    assert text == path.read_text(encoding="utf-8")


def test_the_same_inputs_give_the_same_bytes(site_root: SiteRoot, built: Path,
                                             tmp_path: Path) -> None:
    # lockfiles touched in reverse order: file times must not matter
    for i, path in enumerate(sorted((site_root.eco.root / "lockfiles").glob("*.yaml"),
                                    reverse=True)):
        os.utime(path, (1_000_000 + i, 1_000_000 + i))
    again = tmp_path / "again"
    build_site(site_root.root, again)
    assert files_of(again) == files_of(built)
    # and building over a previous site replaces it whole
    (again / "stale.html").write_text("old")
    build_site(site_root.root, again)
    assert files_of(again) == files_of(built)


def test_every_page_and_lockfile_is_written(site_root: SiteRoot, built: Path) -> None:
    names = set(files_of(built))
    assert set(PAGES) <= names
    lockfiles = {p.name for p in (site_root.eco.root / "lockfiles").glob("*.yaml")}
    assert {n.removeprefix("lockfiles/") for n in names if n.startswith("lockfiles/")} \
        == lockfiles
    for name in lockfiles:   # copied byte for byte
        assert (built / "lockfiles" / name).read_bytes() == \
            (site_root.eco.root / "lockfiles" / name).read_bytes()


# --- links -------------------------------------------------------------------------------


class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.links: list[str] = []
        self.ids: set[str] = set()
        self.tags: set[str] = set()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.add(tag)
        for name, value in attrs:
            if name in ("href", "src", "xlink:href") and value is not None:
                self.links.append(value)
            if name == "id" and value:
                self.ids.add(value)


def parse(html: str) -> _Links:
    parser = _Links()
    parser.feed(html)
    return parser


def test_every_link_resolves_inside_the_site(built: Path) -> None:
    pages = {p.name: parse(p.read_text(encoding="utf-8")) for p in built.glob("*.html")}
    checked = 0
    for name, page in pages.items():
        assert "script" not in page.tags, name          # no JavaScript
        for link in page.links:
            assert not re.match(r"[a-z][a-z0-9+.-]*:|//|/", link), (name, link)  # relative only
            target, _, fragment = link.partition("#")
            target = target or name
            assert (built / target).is_file(), (name, link)
            assert (built / target).resolve().is_relative_to(built.resolve()), (name, link)
            if fragment:
                assert fragment in pages[target].ids, (name, link)
            checked += 1
    assert checked > 100
    css = read(built, "site.css")
    assert "url(" not in css and "@import" not in css   # no fonts or files from anywhere


# --- what the pages say ------------------------------------------------------------------


def column_of(html: str, env: str) -> str:
    found = re.search(rf'<th class="env" id="env-{env}".*?</th>', html, re.S)
    assert found, env
    return found.group(0)


def row_of(html: str, component: str) -> list[str]:
    found = re.search(rf'<tr data-component="{component}">(.*?)</tr>', html, re.S)
    assert found, component
    return re.findall(r"<td>(.*?)</td>", found.group(1), re.S)


def test_the_overview_in_promotion_order_with_status_matches_and_approval(built: Path) -> None:
    html = read(built, "index.html")
    assert re.findall(r'data-environment="([a-z-]+)"', html) == ENVIRONMENTS
    beta = column_of(html, "beta")
    assert 'data-status="failed"' in beta and "since 2024-03-02T15:00:00Z" in beta
    assert FAILED_REASON.replace("'", "&#39;") in beta
    assert 'data-status="healthy"' in column_of(html, "scratch")
    assert "never deployed" in column_of(html, "hotfix")
    prod = column_of(html, "prod")
    assert APPROVER.replace("<", "&lt;").replace(">", "&gt;") in prod
    assert APPROVAL_DATE in prod and "signed merge" in prod
    scratch, beta_cell, staging, prod_cell, hotfix = row_of(html, "services")
    assert "different bytes than scratch" in beta_cell
    assert "same as beta" in staging and "same as staging" in prod_cell
    assert "different bytes" not in scratch and "—" in hotfix
    assert "differs from beta" in row_of(html, "ottochain")[2]
    assert "same commit as beta" in row_of(html, "tessellation")[2]   # no digests to compare


def test_an_environment_page_lists_its_history_with_commits_between(built: Path) -> None:
    html = read(built, "env-scratch.html")
    articles = re.findall(r'<article class="lock" id="([^"]+)"', html)
    assert articles == ["scratch-2024-03-02-0930", "scratch-2024-03-01-1000"]  # newest first
    assert "3 new commits" in html
    for i in range(3):
        assert f"feat: develop change {i}" in html
    assert "First deploy of scratch." in html
    prod = read(built, "env-prod.html")
    assert "1 new commit<" in prod and "fix: snapshot ordering" in prod
    beta = read(built, "env-beta.html")
    assert beta.count("verify failed") == 1 and FAILED_REASON.replace("'", "&#39;") in beta


def test_the_cascade_shows_what_the_next_build_would_rebuild(built: Path) -> None:
    html = read(built, "cascade-scratch.html")
    assert "<svg" in html and 'class="node rebuild"' in html
    states = dict(re.findall(r'<tr data-task="([a-z_-]+)">.*?<span class="state [a-z]+">'
                             r"([a-z ]+)</span>", html, re.S))
    assert states == {"tessellation_publish": "up to date", "monitoring_config": "up to date",
                      "metakit_publish": "rebuild", "ottochain_assembly": "rebuild",
                      "ottochain_image": "rebuild", "sdk_build": "rebuild",
                      "services_image": "rebuild", "explorer_image": "rebuild"}
    assert "new SHA for metakit" in html
    assert "As inv plan scratch says it" in html
    assert "never built in beta" in read(built, "cascade-beta.html")


def test_compatibility_is_checked_per_environment(built: Path) -> None:
    html = read(built, "compatibility.html")
    row = re.search(r'<tr data-range="services/ottochain">(.*?)</tr>', html, re.S)
    assert row
    states = re.findall(r'<span class="check ([a-z]+)">', row.group(1))
    assert states == ["violated", "violated", "ok", "ok"]
    assert "nothing deployed" in row.group(1)   # hotfix


# --- offline, broken inputs, the command ---------------------------------------------------


def test_offline_contacts_no_repo_and_says_what_it_could_not_know(fresh_root: SiteRoot,
                                                                 tmp_path: Path) -> None:
    shutil.rmtree(fresh_root.eco.root / ".ottodeploy" / "cache" / "mirrors")
    remotes = fresh_root.eco.base / "remotes"
    remotes.rename(fresh_root.eco.base / "unreachable")
    events = Collected()
    build_site(fresh_root.root, tmp_path / "out", offline=True, reporter=events)
    scratch = read(tmp_path / "out", "env-scratch.html")
    assert "commits unknown" in scratch and "feat: develop change" not in scratch
    cascade = read(tmp_path / "out", "cascade-scratch.html")
    assert "Without resolving refs — offline (--offline): the sources of " \
           "scratch-2024-03-02-0930.yaml" in cascade
    assert "Not planned — offline (--offline), and hotfix has no lockfile" in \
        read(tmp_path / "out", "cascade-hotfix.html")
    assert events.of("warning") == []
    assert not (fresh_root.eco.root / ".ottodeploy" / "cache" / "mirrors").exists()


def test_online_with_unreachable_repos_falls_back_to_the_records(fresh_root: SiteRoot,
                                                                tmp_path: Path) -> None:
    (fresh_root.eco.base / "remotes").rename(fresh_root.eco.base / "unreachable")
    events = Collected()
    build_site(fresh_root.root, tmp_path / "out", reporter=events)
    cascade = read(tmp_path / "out", "cascade-scratch.html")
    assert "Without resolving refs — resolving scratch failed (" in cascade
    assert any("cascade of scratch: resolving scratch failed" in w["text"]
               for w in events.of("warning"))


def test_an_unreadable_lockfile_is_skipped_and_listed(fresh_root: SiteRoot,
                                                      tmp_path: Path) -> None:
    bad = fresh_root.eco.root / "lockfiles" / "beta-2024-03-09-0000.yaml"
    bad.write_text("timestamp: yesterday\nenvironment: beta\nstatus: healthy\nsources: {}\n")
    events = Collected()
    result = build_site(fresh_root.root, tmp_path / "out", reporter=events)
    assert len(result.skipped) == 1 and "lockfiles/beta-2024-03-09-0000.yaml" in \
        result.skipped[0]
    assert "Lockfiles skipped" in read(tmp_path / "out", "index.html")
    assert not (tmp_path / "out" / "lockfiles" / bad.name).exists()
    assert any(bad.name in w["text"] for w in events.of("warning"))


def test_without_graphviz_the_cascade_is_listed_but_not_drawn(
        site_root: SiteRoot, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("ottodeploy.site.graph.dot_available", lambda: False)
    events = Collected()
    build_site(site_root.root, tmp_path / "out", reporter=events)
    html = read(tmp_path / "out", "cascade-scratch.html")
    assert "<svg" not in html and "apt-get install graphviz" in html
    assert "metakit_publish" in html
    assert [w["text"] for w in events.of("warning")] == [
        "Graphviz's dot is not installed: the cascade is not drawn (apt-get install graphviz)"]


@pytest.fixture
def root_env(site_root: SiteRoot, monkeypatch: pytest.MonkeyPatch) -> Iterator[SiteRoot]:
    monkeypatch.setenv("OTTODEPLOY_ROOT", str(site_root.eco.root))
    yield site_root
    shutil.rmtree(site_root.eco.root / "site", ignore_errors=True)


def test_inv_site_writes_under_the_root_by_default(root_env: SiteRoot) -> None:
    done = cli("site", "--offline")
    assert done.code == 0, done.output
    assert "site written to site/ (" in done.stdout
    assert (root_env.eco.root / "site" / "index.html").is_file()


def test_inv_site_refuses_a_folder_it_did_not_write(root_env: SiteRoot, tmp_path: Path) -> None:
    precious = tmp_path / "notes"
    precious.mkdir()
    (precious / "todo.txt").write_text("keep me")
    done = cli("site", "--offline", "--out", str(precious))
    assert done.code == 2, done.output
    assert "is not empty and was not written by inv site" in done.stderr
    assert "Traceback" not in done.output
    assert sorted(p.name for p in precious.iterdir()) == ["todo.txt"]
    assert not list(tmp_path.glob(".notes.*"))   # no half-written site beside it
    a_file = tmp_path / "site.html"
    a_file.write_text("mine")
    done = cli("site", "--offline", "--out", str(a_file))
    assert done.code == 2 and "is a file or a link" in done.stderr, done.output
    assert a_file.read_text() == "mine"
