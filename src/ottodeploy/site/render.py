"""Writing the site: Jinja2 templates (package data) into a fresh folder that replaces ``out``.

Pages are flat, so every link is a plain relative file name: ``index.html`` (the
overview), ``env-<env>.html``, ``cascade-<env>.html``, ``compatibility.html``,
``site.css`` and the lockfiles under ``lockfiles/``, copied byte for byte so their
links resolve inside the site. Templates autoescape everything; the one piece of
markup passed in as it is, the cascade's SVG, comes from ``dot``.

The site is written into a new sibling folder first and then moved into place, so
a failed run leaves the previous site as it was. ``out`` is replaced only when it
is empty or holds a site this tool wrote (the ``.ottodeploy-site`` marker): a
mistyped ``--out`` can never wipe other files.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from markupsafe import Markup

from ..core.errors import UsageError
from ..core.overview import short_digest, short_sha
from .content import SiteContent

TEMPLATES = Path(__file__).parent / "templates"
STATIC = Path(__file__).parent / "static"
MARKER = ".ottodeploy-site"
MARKER_TEXT = "This folder was written by `inv site`; it is replaced whole by the next run.\n"


def templates() -> Environment:
    env = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(["j2"]),
                      undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True,
                      keep_trailing_newline=True)
    env.filters["sha7"] = short_sha
    env.filters["digest12"] = short_digest
    env.filters["safe_svg"] = Markup
    return env


def pages(content: SiteContent) -> dict[str, str]:
    """File name -> HTML of every page."""
    env = templates()
    nav = {"environments": [p.environment for p in content.environments],
           "cascades": [c.file for c in content.cascades]}
    out = {"index.html": env.get_template("overview.html.j2").render(
        site=content, nav=nav, page="index.html", title="Overview")}
    for page in content.environments:
        out[page.file] = env.get_template("environment.html.j2").render(
            site=content, nav=nav, page=page.file, env=page, title=page.environment)
    for cascade in content.cascades:
        out[cascade.file] = env.get_template("cascade.html.j2").render(
            site=content, nav=nav, page=cascade.file, cascade=cascade,
            title=f"Cascade for {cascade.environment}")
    out["compatibility.html"] = env.get_template("compatibility.html.j2").render(
        site=content, nav=nav, page="compatibility.html", compat=content.compatibility,
        title="Compatibility")
    return out


def check_out(out: Path) -> None:
    """Bad input unless ``out`` may be replaced by a site (empty, new, or a site already)."""
    if out.is_file() or out.is_symlink():
        raise UsageError(f"--out {out} is a file or a link", hint="name a folder for the site")
    if out.is_dir() and any(out.iterdir()) and not (out / MARKER).is_file():
        raise UsageError(f"--out {out} is not empty and was not written by inv site",
                         hint="name an empty or new folder (the site replaces it whole)")


def write_site(content: SiteContent, out: Path) -> list[str]:
    """Write every page, the stylesheet and the lockfiles; returns the files, sorted."""
    check_out(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    fresh = out.with_name(f".{out.name}.new-{os.getpid()}")
    shutil.rmtree(fresh, ignore_errors=True)
    (fresh / "lockfiles").mkdir(parents=True)
    try:
        for name, html in pages(content).items():
            (fresh / name).write_text(html, encoding="utf-8")
        shutil.copyfile(STATIC / "site.css", fresh / "site.css")
        for name, source in sorted(content.lockfiles.items()):
            shutil.copyfile(source, fresh / "lockfiles" / name)
        (fresh / MARKER).write_text(MARKER_TEXT, encoding="utf-8")
        old = out.with_name(f".{out.name}.old-{os.getpid()}")
        if out.exists():
            out.rename(old)
        fresh.rename(out)
        shutil.rmtree(old, ignore_errors=True)
    finally:
        shutil.rmtree(fresh, ignore_errors=True)
    return sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file())
