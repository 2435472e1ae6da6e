"""The status site in a real browser: Debian's chromium renders every page headless.

Each page becomes a 1400x1000 screenshot that must not be blank (its PNG is decoded with
zlib and its distinct colours counted: an empty page paints one or two), and its DOM
(``--dump-dom``) must name every environment, and the overview every component. The
screenshots in ``docs/`` come from here: ``OTTODEPLOY_UPDATE_DOCS=1`` rewrites them
from the demo-like root of ``tests/sitekit.py``; otherwise the test checks they are
there and are real renderings.
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import pytest

from ottodeploy.flows.site import build_site
from tests.browser import WINDOW, Browser, Png, require_chromium, require_dot
from tests.conftest import PROJECT
from tests.gitrepos import GitRepo
from tests.sitekit import ENVIRONMENTS, TASKS, SiteRoot, make_site_root

PAGES = ["index.html", "compatibility.html",
         *(f"env-{e}.html" for e in ENVIRONMENTS), *(f"cascade-{e}.html" for e in ENVIRONMENTS)]
DOCS = {"index.html": PROJECT / "docs" / "site-overview.png",
        "env-scratch.html": PROJECT / "docs" / "site-environment.png"}
MIN_COLOURS = 50    # text, badges and borders; a blank page has one or two


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Browser:
    return Browser(require_chromium(), tmp_path_factory.mktemp("chromium-profile"))


@pytest.fixture(scope="module")
def built(ecosystem_template: tuple[Path, dict[str, GitRepo]],
          tmp_path_factory: pytest.TempPathFactory) -> Path:
    require_dot()
    template, repos = ecosystem_template
    site: SiteRoot = make_site_root(template, repos, tmp_path_factory.mktemp("site") / "eco")
    out = tmp_path_factory.mktemp("built") / "site"
    build_site(site.root, out)
    return out


def test_a_blank_page_is_recognised_as_blank(browser: Browser, tmp_path: Path) -> None:
    """The blank check can fail: chromium's shot of an empty page has almost no colours."""
    page = tmp_path / "blank.html"
    page.write_text("<!DOCTYPE html><html><body></body></html>")
    browser.render(page, tmp_path / "blank.png")
    png = Png.read(tmp_path / "blank.png")
    assert (png.width, png.height) == WINDOW
    assert len(png.colours()) < 3


@pytest.mark.parametrize("page", PAGES)
def test_every_page_renders_and_names_every_environment(browser: Browser, built: Path,
                                                        tmp_path: Path, page: str) -> None:
    dom = browser.render(built / page, tmp_path / "shot.png")
    png = Png.read(tmp_path / "shot.png")
    assert (png.width, png.height) == WINDOW
    assert len(png.colours(step=2)) >= MIN_COLOURS, f"{page} rendered (nearly) blank"
    assert "</nav>" in dom   # the serialised DOM, not an error page
    for env in ENVIRONMENTS:
        assert f">{env}</a>" in dom, (page, env)
    if page == "index.html":
        for component in TASKS:
            assert f'<th class="component">{component}</th>' in dom
    if page.startswith("cascade-"):
        for component, artifacts in TASKS.items():
            for artifact in artifacts:
                assert f'id="task-{component}_{artifact}"' in dom   # a node of the SVG


def test_a_failed_verification_shows_as_failed_on_the_overview(browser: Browser, built: Path,
                                                                tmp_path: Path) -> None:
    dom = browser.render(built / "index.html", tmp_path / "overview.png")
    statuses = dict(re.findall(r'data-environment="([a-z]+)".*?(?:data-status="([a-z]+)"|'
                               r"never deployed)", dom, re.S))
    assert statuses == {"scratch": "healthy", "beta": "failed", "staging": "healthy",
                        "prod": "healthy", "hotfix": ""}
    beta = dom[dom.index('data-environment="beta"'):dom.index('data-environment="staging"')]
    assert "answered 502" in beta


def test_the_screenshots_in_docs_come_from_this_site(browser: Browser, built: Path,
                                                     tmp_path: Path) -> None:
    for page, doc in DOCS.items():
        if os.environ.get("OTTODEPLOY_UPDATE_DOCS"):
            doc.parent.mkdir(exist_ok=True)
            browser.render(built / page, tmp_path / doc.name)
            shutil.copyfile(tmp_path / doc.name, doc)
        assert doc.is_file(), f"{doc} missing: run with OTTODEPLOY_UPDATE_DOCS=1"
        png = Png.read(doc)
        assert (png.width, png.height) == WINDOW
        assert len(png.colours(step=2)) >= MIN_COLOURS, doc
