"""The content-addressed artifact store (SPEC §4a) on real folders and a real docker-registry."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import logging
import multiprocessing
import os
import stat
import tarfile
import threading
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from ottodeploy.core.errors import BuildError, IntegrityError, RegistryError, StoreError
from ottodeploy.core.imageref import parse_image_ref
from ottodeploy.ocilayout import OCI_MANIFEST, canonical, digest_of, pack, write_layout
from ottodeploy.registry import RegistryClient
from ottodeploy.store import (
    ARTIFACT_TYPE,
    CREATED,
    KEY,
    OUTPUTS_LAYER,
    Store,
    cache_tag,
    image_digest,
)
from tests.servers import HttpRecorder, Response, free_port

KEY_A = "a1" * 32
KEY_B = "b2" * 32
KEY_C = "c3" * 32
OUTPUTS = ["modules/app/target", "bin/run.sh", "proto/types.proto"]
JAR = b"PK\x03\x04" + bytes(range(256)) * 512  # 128 KiB


def make_checkout(root: Path, *, reverse: bool = False, umask: int = 0o022,
                  mtime: float = 1_000_000_000, jar: bytes = JAR) -> Path:
    """The same outputs, made in another order, under another umask, with other mtimes."""
    files: list[tuple[str, bytes, bool]] = [
        ("modules/app/target/app-assembly-1.0.jar", jar, False),
        ("modules/app/target/classes/A.class", b"\xca\xfe\xba\xbe", False),
        ("bin/run.sh", b"#!/bin/sh\nexec java -jar app.jar\n", True),
        ("proto/types.proto", b'syntax = "proto3";\n', False),
        ("README.md", b"not an output\n", False),
    ]
    old = os.umask(umask)
    try:
        for name, data, executable in reversed(files) if reverse else files:
            path = root / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
            if executable:
                path.chmod(0o700 if reverse else 0o775)
        (root / "modules/app/target/empty").mkdir()
        (root / "modules/app/target/app.jar").symlink_to("app-assembly-1.0.jar")
    finally:
        os.umask(old)
    for path in root.rglob("*"):
        os.utime(path, (mtime, mtime), follow_symlinks=False)
        if os.geteuid() == 0 and reverse:
            os.chown(path, 4321, 4321, follow_symlinks=False)
    return root


def layer_of(store: Store, digest: str) -> bytes:
    layer = str(store.manifest(digest)["layers"][0]["digest"])
    return (store.blobs / layer.removeprefix("sha256:")).read_bytes()


# -- deterministic packing ----------------------------------------------------------------


def test_same_outputs_anywhere_give_the_same_digest(tmp_path: Path) -> None:
    one = make_checkout(tmp_path / "one")
    two = make_checkout(tmp_path / "two", reverse=True, umask=0o077, mtime=1_700_000_000)
    first, second = Store(tmp_path / "s1"), Store(tmp_path / "s2")
    d1 = first.put_outputs(KEY_A, one, OUTPUTS, component="ottochain", artifact="assembly")
    d2 = second.put_outputs(KEY_A, two, reversed(OUTPUTS), component="ottochain",
                            artifact="assembly")
    assert d1 == d2
    assert layer_of(first, d1) == layer_of(second, d2)

    # one changed byte, or one exec bit, is another artifact
    (two / "proto/types.proto").write_bytes(b'syntax = "proto2";\n')
    assert second.put_outputs(KEY_A, two, OUTPUTS, component="ottochain",
                              artifact="assembly") != d1
    (two / "proto/types.proto").write_bytes(b'syntax = "proto3";\n')
    assert second.put_outputs(KEY_A, two, OUTPUTS, component="ottochain",
                              artifact="assembly") == d1
    (two / "proto/types.proto").chmod(0o744)
    assert second.put_outputs(KEY_A, two, OUTPUTS, component="ottochain",
                              artifact="assembly") != d1


def test_the_layer_is_normalised(tmp_path: Path) -> None:
    checkout = make_checkout(tmp_path / "c", reverse=True, umask=0o077)
    buf = io.BytesIO()
    layer = pack(checkout, OUTPUTS, buf)
    data = buf.getvalue()
    assert layer.digest == digest_of(data) and layer.size == len(data)
    assert data[3] == 0 and data[4:8] == b"\0\0\0\0" and data[9] == 255  # no name, mtime, OS
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        members = tar.getmembers()
    names = [m.name for m in members]
    assert names == sorted(names)
    assert "README.md" not in names
    assert {"modules", "modules/app", "bin", "proto"} <= set(names)  # parents as directories
    for m in members:
        assert (m.mtime, m.uid, m.gid, m.uname, m.gname) == (0, 0, 0, "", "")
    by_name = {m.name: m for m in members}
    assert by_name["bin/run.sh"].mode == 0o755
    assert by_name["proto/types.proto"].mode == 0o644
    assert by_name["modules/app/target/empty"].isdir()
    assert by_name["modules"].mode == 0o755
    link = by_name["modules/app/target/app.jar"]
    assert link.issym() and link.linkname == "app-assembly-1.0.jar"
    assert layer.diff_id == digest_of(gzip.decompress(data))


@pytest.mark.parametrize(
    ("target", "why"),
    [
        ("/etc/passwd", "absolute: names a file of the machine it is unpacked on"),
        ("../../../../etc/passwd", "climbs out of the checkout"),
        ("../../README.md", "inside the checkout but not packed: would dangle"),
    ],
)
def test_symlink_leaving_the_packed_tree_is_refused(tmp_path: Path, target: str,
                                                    why: str) -> None:
    checkout = make_checkout(tmp_path / "c")
    (checkout / "modules/app/target/evil").symlink_to(target)
    store = Store(tmp_path / "store")
    with pytest.raises(BuildError, match="points outside the packed outputs"):
        store.put_outputs(KEY_A, checkout, OUTPUTS, component="c", artifact="a")
    assert store.lookup(KEY_A) is None
    assert not list((store.path / "tmp").iterdir())  # nothing half-written left behind
    assert not store.blobs.exists() or not list(store.blobs.iterdir())


def test_outputs_outside_or_through_links_are_refused(tmp_path: Path) -> None:
    checkout = make_checkout(tmp_path / "c")
    (checkout / "linked").symlink_to("modules/app")
    store = Store(tmp_path / "store")
    with pytest.raises(BuildError, match="not inside"):
        store.put_outputs(KEY_A, checkout, ["../c"], component="c", artifact="a")
    with pytest.raises(BuildError, match="under the symlink"):
        store.put_outputs(KEY_A, checkout, ["linked/target/app.jar"], component="c",
                          artifact="a")
    with pytest.raises(BuildError, match="does not exist"):
        store.put_outputs(KEY_A, checkout, ["nope.jar"], component="c", artifact="a")


def test_large_files_are_streamed(tmp_path: Path) -> None:
    big = tmp_path / "c" / "big.jar"
    big.parent.mkdir()
    with big.open("wb") as out:
        for _ in range(32):
            out.write(b"0123456789abcdef" * 65536)  # 32 MiB in all
    tracemalloc.start()
    try:
        with (tmp_path / "layer").open("wb") as sink:
            pack(tmp_path / "c", ["big.jar"], sink)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 8 * 1024 * 1024, f"packing held {peak} bytes at once"


# -- the store on disk --------------------------------------------------------------------


def test_put_outputs_is_an_oci_artifact_indexed_by_key(tmp_path: Path) -> None:
    store = Store(tmp_path / "store")
    digest = store.put_outputs(KEY_A, make_checkout(tmp_path / "c"), OUTPUTS,
                               component="ottochain", artifact="assembly")
    manifest = store.manifest(digest)
    assert manifest["artifactType"] == ARTIFACT_TYPE
    assert manifest["config"]["mediaType"] == "application/vnd.oci.empty.v1+json"
    assert (store.blobs / manifest["config"]["digest"].removeprefix("sha256:")).read_bytes() \
        == b"{}"
    assert [la["mediaType"] for la in manifest["layers"]] == [OUTPUTS_LAYER]
    # the digest names the bytes: the key is in the index, not in the manifest
    assert KEY not in manifest["annotations"]
    assert manifest["annotations"]["dev.ottodeploy.component"] == "ottochain"
    index = json.loads((store.path / "index.json").read_text())
    assert json.loads((store.path / "oci-layout").read_text()) == {"imageLayoutVersion": "1.0.0"}
    [entry] = index["manifests"]
    assert entry["digest"] == digest
    assert entry["annotations"]["org.opencontainers.image.ref.name"] == cache_tag(KEY_A)
    assert entry["annotations"][KEY] == KEY_A
    assert store.lookup(KEY_A) == digest
    # looked up by the full key: same 16-hex prefix, other key, is not this artifact
    assert store.lookup(KEY_A[:16] + "f" * 48) is None
    assert store.has(digest)
    assert not store.has("sha256:" + "0" * 64)


def test_an_artifact_without_outputs_is_stored_too(tmp_path: Path) -> None:
    store = Store(tmp_path / "store")
    digest = store.put_outputs(KEY_A, tmp_path, [], component="tessellation",
                               artifact="publish")
    assert store.lookup(KEY_A) == digest
    assert list(store.unpack(digest).iterdir()) == []
    # the digest names the bytes: another build key that makes the same (no) bytes is the
    # same artifact, found under both keys
    assert store.put_outputs(KEY_B, tmp_path, [], component="tessellation",
                             artifact="publish") == digest
    assert store.lookup(KEY_A) == store.lookup(KEY_B) == digest


def test_unpack_is_read_only_and_stable(tmp_path: Path) -> None:
    checkout = make_checkout(tmp_path / "c")
    store = Store(tmp_path / "store")
    digest = store.put_outputs(KEY_A, checkout, OUTPUTS, component="c", artifact="a")
    folder = store.unpack(digest)
    assert folder == store.path / "unpacked" / digest.removeprefix("sha256:")
    jar = folder / "modules/app/target/app-assembly-1.0.jar"
    assert jar.read_bytes() == JAR
    assert (folder / "modules/app/target/app.jar").readlink() == Path("app-assembly-1.0.jar")
    assert not (folder / "README.md").exists()
    for path in [folder, *folder.rglob("*")]:
        mode = stat.S_IMODE(path.lstat().st_mode)
        if path.is_symlink():
            continue
        assert mode & 0o222 == 0, f"{path} is writable ({oct(mode)})"
    assert stat.S_IMODE((folder / "bin/run.sh").stat().st_mode) == 0o555
    before = {p: p.lstat().st_mtime_ns for p in folder.rglob("*")}
    # stable: again, from another Store object and after a rebuild of the same bytes
    assert store.unpack(digest) == folder
    assert Store(store.path).unpack(digest) == folder
    store.put_outputs(KEY_A, checkout, OUTPUTS, component="c", artifact="a")
    assert {p: p.lstat().st_mtime_ns for p in folder.rglob("*")} == before


def _put_behind_barrier(store_path: str, checkout: str, key: str, barrier: Any,
                        results: Any) -> None:
    store = Store(Path(store_path))
    barrier.wait()
    digest = store.put_outputs(key, Path(checkout), OUTPUTS, component="c", artifact="a")
    folder = store.unpack(digest)
    results.put((key, digest, str(folder),
                 hashlib.sha256((folder / "modules/app/target/app-assembly-1.0.jar")
                                .read_bytes()).hexdigest()))


def test_concurrent_processes_keep_one_consistent_index(tmp_path: Path) -> None:
    checkout = make_checkout(tmp_path / "c")
    other = make_checkout(tmp_path / "d", jar=b"other bytes")
    store_path = tmp_path / "store"
    ctx = multiprocessing.get_context("fork")
    jobs = [(KEY_A, checkout)] * 3 + [(f"{i:02d}" * 32, other) for i in range(3)]
    barrier, results = ctx.Barrier(len(jobs)), ctx.Queue()
    procs = [ctx.Process(target=_put_behind_barrier,
                         args=(str(store_path), str(src), key, barrier, results))
             for key, src in jobs]
    for p in procs:
        p.start()
    for p in procs:
        p.join(timeout=120)
        assert p.exitcode == 0
    done = [results.get(timeout=5) for _ in jobs]
    store = Store(store_path)
    same = {(digest, folder, jar) for key, digest, folder, jar in done if key == KEY_A}
    assert len(same) == 1, "the same outputs gave one digest and one unpacked folder"
    index = json.loads((store_path / "index.json").read_text())
    assert sorted(e["annotations"][KEY] for e in index["manifests"]) == sorted(
        {key for key, _ in jobs})
    for key, digest, _folder, _jar in done:
        assert store.lookup(key) == digest
    assert not list((store_path / "tmp").iterdir())


def test_concurrent_threads_lose_no_entry(tmp_path: Path) -> None:
    checkout = make_checkout(tmp_path / "c")
    store = Store(tmp_path / "store")
    keys = [f"{i:02x}" * 32 for i in range(8)]
    barrier = threading.Barrier(len(keys))
    errors: list[BaseException] = []

    def put(key: str) -> None:
        barrier.wait()
        try:
            store.put_outputs(key, checkout, OUTPUTS, component="c", artifact=f"a{key[:2]}")
        except BaseException as exc:  # reported by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=put, args=(k,)) for k in keys]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert all(store.lookup(k) is not None for k in keys)


def test_a_corrupt_blob_is_detected_and_moved_aside(tmp_path: Path,
                                                   caplog: pytest.LogCaptureFixture) -> None:
    checkout = make_checkout(tmp_path / "c")
    store = Store(tmp_path / "store")
    digest = store.put_outputs(KEY_A, checkout, OUTPUTS, component="c", artifact="a")
    layer = store.blobs / store.manifest(digest)["layers"][0]["digest"].removeprefix("sha256:")
    data = bytearray(layer.read_bytes())
    data[len(data) // 2] ^= 0xFF
    layer.chmod(0o644)
    layer.write_bytes(bytes(data))
    with caplog.at_level(logging.WARNING, logger="ottodeploy.store"), \
            pytest.raises(StoreError, match="corrupt"):
        store.unpack(digest)
    assert "corrupt" in caplog.text
    assert not layer.exists() and list((store.path / "corrupt").iterdir())
    assert not (store.path / "unpacked" / digest.removeprefix("sha256:")).exists()
    assert store.lookup(KEY_A) is None  # missing now: the next build puts it back
    assert store.put_outputs(KEY_A, checkout, OUTPUTS, component="c", artifact="a") == digest
    assert (store.unpack(digest) / "proto/types.proto").is_file()


@pytest.mark.parametrize("garbage", [b"{not json", b'{"manifests": "nope"}', b"[]", b""])
def test_a_corrupt_index_is_moved_aside(tmp_path: Path, garbage: bytes,
                                        caplog: pytest.LogCaptureFixture) -> None:
    checkout = make_checkout(tmp_path / "c")
    store = Store(tmp_path / "store")
    digest = store.put_outputs(KEY_A, checkout, OUTPUTS, component="c", artifact="a")
    (store.path / "index.json").write_bytes(garbage)
    with caplog.at_level(logging.WARNING, logger="ottodeploy.store"):
        assert store.lookup(KEY_A) is None
    assert "index.json" in caplog.text and "moved it to" in caplog.text
    [aside] = store.path.glob("index.json.corrupt-*")
    assert aside.read_bytes() == garbage
    assert store.put_outputs(KEY_A, checkout, OUTPUTS, component="c", artifact="a") == digest
    assert store.lookup(KEY_A) == digest


def _age(store: Store, days: float) -> None:
    """Make everything in the store look ``days`` old."""
    then = time.time() - days * 86400
    index = json.loads((store.path / "index.json").read_text())
    for entry in index["manifests"]:
        entry["annotations"][CREATED] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(then))
    (store.path / "index.json").write_text(json.dumps(index))
    for blob in store.blobs.iterdir():
        os.utime(blob, (then, then))


def test_gc_keeps_referenced_and_recent_entries(tmp_path: Path) -> None:
    store = Store(tmp_path / "store")
    put: Callable[[str, bytes], str] = lambda key, jar: store.put_outputs(  # noqa: E731
        key, make_checkout(tmp_path / key[:4], jar=jar), OUTPUTS, component="c", artifact="a")
    old, kept = put(KEY_A, b"old"), put(KEY_B, b"kept")
    store.unpack(old)
    by_key = put("d4" * 32, b"kept by key")
    _age(store, 30)
    recent = put(KEY_C, b"recent")
    old_layer = store.manifest(old)["layers"][0]["digest"]

    freed = dict(store.gc({kept, "d4" * 32}))
    assert set(freed) == {old, old_layer}
    assert all(size > 0 for size in freed.values())
    assert store.lookup(KEY_A) is None and not store.has(old)
    assert not (store.path / "unpacked" / old.removeprefix("sha256:")).exists()
    assert store.lookup(KEY_B) == kept and store.lookup("d4" * 32) == by_key
    assert store.lookup(KEY_C) == recent
    assert (store.unpack(kept) / "modules/app/target/app-assembly-1.0.jar").read_bytes() == \
        b"kept"
    assert store.gc({kept, "d4" * 32}) == []  # nothing more to free


# -- a recipe's image layout ------------------------------------------------------------


def _gz_tar(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return gzip.compress(buf.getvalue(), mtime=0)


def _add_layer(layout: Path, layer: bytes) -> str:
    """Append ``layer`` to the layout's one image; returns the new manifest digest."""
    index = json.loads((layout / "index.json").read_text())
    old = index["manifests"][0]
    manifest = json.loads((layout / "blobs/sha256" / old["digest"][7:]).read_bytes())
    manifest["layers"].append({"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                               "digest": digest_of(layer), "size": len(layer)})
    body = canonical(manifest)
    for blob in (layer, body):
        (layout / "blobs/sha256" / digest_of(blob)[7:]).write_bytes(blob)
    index["manifests"][0] = {**old, "digest": digest_of(body), "size": len(body)}
    (layout / "index.json").write_text(json.dumps(index))
    return digest_of(body)


def test_put_layout_keeps_the_image_digest_and_unpacks_its_layers(tmp_path: Path) -> None:
    layout = tmp_path / "image"
    written = write_layout(layout, {"app/server.py": b"print(1)\n", "app/old.txt": b"x"},
                           tag="develop-1234567")
    store = Store(tmp_path / "store")
    assert store.put_layout(KEY_A, layout, component="ottochain", artifact="image") == written
    assert store.lookup(KEY_A) == written

    digest = _add_layer(layout, _gz_tar({"app/.wh.old.txt": b"", "app/new.txt": b"2"}))
    assert store.put_layout(KEY_B, layout) == digest
    root = store.unpack(digest)
    assert (root / "app/server.py").read_bytes() == b"print(1)\n"
    assert (root / "app/new.txt").read_bytes() == b"2"
    assert not (root / "app/old.txt").exists()  # whited out by the second layer


@pytest.mark.parametrize(
    "members",
    [
        {"../escaped.txt": b"x"},
        {"/abs/../../escaped.txt": b"x"},
    ],
)
def test_unpack_refuses_names_outside_the_folder(tmp_path: Path,
                                                 members: dict[str, bytes]) -> None:
    layout = tmp_path / "image"
    write_layout(layout, {"a": b"a"}, tag="t")
    digest = _add_layer(layout, _gz_tar(members))
    store = Store(tmp_path / "store")
    store.put_layout(KEY_A, layout)
    with pytest.raises(StoreError, match="not a relative path"):
        store.unpack(digest)
    assert not (tmp_path / "escaped.txt").exists()
    assert not list((store.path / "tmp").iterdir())


def test_unpack_never_writes_through_a_symlink(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        link = tarfile.TarInfo("evil")
        link.type, link.linkname = tarfile.SYMTYPE, str(outside)
        tar.addfile(link)
        pwn = tarfile.TarInfo("evil/pwned")
        pwn.size = 1
        tar.addfile(pwn, io.BytesIO(b"!"))
    layout = tmp_path / "image"
    write_layout(layout, {"a": b"a"}, tag="t")
    digest = _add_layer(layout, gzip.compress(buf.getvalue()))
    store = Store(tmp_path / "store")
    store.put_layout(KEY_A, layout)
    with pytest.raises(StoreError, match="through the symlink"):
        store.unpack(digest)
    assert list(outside.iterdir()) == []


@pytest.mark.parametrize(
    ("index", "manifest"),
    [
        (b"{", None),  # index.json is not JSON
        (b'{"manifests": ["x"]}', None),  # a descriptor that is no object
        (None, b"[1, 2]"),  # the manifest is not an object
        (None, b'{"layers": [{"digest": "md5:00"}]}'),  # a layer that is no sha256 blob
    ],
)
def test_a_malformed_layout_is_a_store_error(tmp_path: Path, index: bytes | None,
                                             manifest: bytes | None) -> None:
    layout = tmp_path / "image"
    write_layout(layout, {"a": b"a"}, tag="t")
    if manifest is not None:
        (layout / "blobs/sha256" / digest_of(manifest)[7:]).write_bytes(manifest)
        index = json.dumps({"manifests": [{"digest": digest_of(manifest)}]}).encode()
    assert index is not None
    (layout / "index.json").write_bytes(index)
    store = Store(tmp_path / "store")
    with pytest.raises(StoreError):
        store.put_layout(KEY_A, layout)
    assert store.lookup(KEY_A) is None


def test_a_layout_with_a_tampered_blob_is_refused(tmp_path: Path) -> None:
    layout = tmp_path / "image"
    digest = write_layout(layout, {"a": b"a"}, tag="t")
    layer = json.loads((layout / "blobs/sha256" / digest[7:]).read_bytes())["layers"][0]
    (layout / "blobs/sha256" / layer["digest"][7:]).write_bytes(b"tampered")
    store = Store(tmp_path / "store")
    with pytest.raises(StoreError, match="other bytes"):
        store.put_layout(KEY_A, layout)
    assert store.lookup(KEY_A) is None


# -- the registry as remote store -------------------------------------------------------


def test_push_then_a_second_root_pulls_the_identical_artifact(tmp_path: Path,
                                                              registry: str) -> None:
    first = Store.of_root(tmp_path / "machine-1")
    digest = first.put_outputs(KEY_A, make_checkout(tmp_path / "c"), OUTPUTS,
                               component="ottochain", artifact="assembly")
    ref = f"{registry}/ottodeploy-store/ottochain:{cache_tag(KEY_A)}"
    with RegistryClient(env={}) as client:
        assert first.push(KEY_A, digest, client, ref) == digest
        # the real registry kept our artifact manifest byte for byte
        stored = client.get_manifest(parse_image_ref(ref))
        assert stored.body == (first.blobs / digest[7:]).read_bytes()
        assert stored.media_type == OCI_MANIFEST
        assert json.loads(stored.body)["artifactType"] == ARTIFACT_TYPE

        second = Store.of_root(tmp_path / "machine-2")
        assert second.lookup(KEY_A) is None
        assert second.pull(client, ref, key=KEY_A) == digest
        # a replay knows the locked digest: pulled by digest, whatever the tag says now
        third = Store.of_root(tmp_path / "machine-3")
        pinned = parse_image_ref(ref).with_digest(digest)
        assert third.pull(client, pinned, key=KEY_A) == digest
        assert third.lookup(KEY_A) == digest
    assert second.lookup(KEY_A) == digest
    for blob in first.blobs.iterdir():
        assert (second.blobs / blob.name).read_bytes() == blob.read_bytes()
    a, b = first.unpack(digest), second.unpack(digest)
    files = sorted(p.relative_to(a) for p in a.rglob("*"))
    assert files == sorted(p.relative_to(b) for p in b.rglob("*"))
    for rel in files:
        if (a / rel).is_file() and not (a / rel).is_symlink():
            assert (a / rel).read_bytes() == (b / rel).read_bytes()
            assert (a / rel).stat().st_mode == (b / rel).stat().st_mode


def test_pull_of_a_missing_tag_is_none(tmp_path: Path, registry: str) -> None:
    store = Store(tmp_path / "store")
    with RegistryClient(env={}) as client:
        assert store.pull(client, f"{registry}/ottodeploy-store/nothing:{cache_tag(KEY_A)}") \
            is None
        digest = store.put_outputs(KEY_A, make_checkout(tmp_path / "c"), OUTPUTS,
                                   component="c", artifact="a")
        ref = f"{registry}/ottodeploy-store/c:{cache_tag(KEY_A)}"
        store.push(KEY_A, digest, client, ref)
        assert store.pull(client, f"{registry}/ottodeploy-store/c:bk-absent") is None


def test_pull_from_an_unreachable_registry_is_a_registry_error(tmp_path: Path) -> None:
    store = Store(tmp_path / "store")
    with RegistryClient(timeout=2, env={}) as client, pytest.raises(RegistryError,
                                                                    match="cannot reach"):
        store.pull(client, f"127.0.0.1:{free_port()}/store/c:{cache_tag(KEY_A)}")
    assert store.lookup(KEY_A) is None


def test_pull_refuses_a_blob_with_other_bytes(tmp_path: Path,
                                              http_recorder: HttpRecorder) -> None:
    source = Store(tmp_path / "source")
    digest = source.put_outputs(KEY_A, make_checkout(tmp_path / "c"), OUTPUTS,
                                component="c", artifact="a")
    body = (source.blobs / digest[7:]).read_bytes()
    manifest = json.loads(body)
    http_recorder.add_route("GET", f"/v2/store/c/manifests/{cache_tag(KEY_A)}", Response(
        200, {"Content-Type": OCI_MANIFEST, "Docker-Content-Digest": digest}, body))
    for blob in (manifest["config"], *manifest["layers"]):
        http_recorder.add_route("GET", f"/v2/store/c/blobs/{blob['digest']}",
                                Response(200, body=b"evil bytes"))
    store = Store(tmp_path / "store")
    with RegistryClient(env={}) as client, pytest.raises(IntegrityError, match="other bytes"):
        store.pull(client, f"{http_recorder.host_port}/store/c:{cache_tag(KEY_A)}")
    assert store.lookup(KEY_A) is None and not store.has(digest)
    assert not store.blobs.exists() or not list(store.blobs.iterdir())
    assert not list((store.path / "tmp").iterdir())


def test_a_manifest_that_is_not_what_the_registry_calls_it_is_refused(
        tmp_path: Path, http_recorder: HttpRecorder) -> None:
    """A registry whose stored manifest changed answers with the digest it filed it under
    and other bytes: the pull stops instead of storing (and deploying) those bytes."""
    source = Store(tmp_path / "source")
    digest = source.put_outputs(KEY_A, make_checkout(tmp_path / "c"), OUTPUTS,
                                component="c", artifact="a")
    body = (source.blobs / digest[7:]).read_bytes().replace(b'"c"', b'"x"')
    http_recorder.add_route("GET", f"/v2/store/c/manifests/{cache_tag(KEY_A)}", Response(
        200, {"Content-Type": OCI_MANIFEST, "Docker-Content-Digest": digest}, body))
    store = Store(tmp_path / "store")
    with RegistryClient(env={}) as client, pytest.raises(IntegrityError, match="has digest"):
        store.pull(client, f"{http_recorder.host_port}/store/c:{cache_tag(KEY_A)}")
    assert store.lookup(KEY_A) is None


def test_a_push_the_registry_files_under_another_digest_is_refused(
        tmp_path: Path, http_recorder: HttpRecorder) -> None:
    store = Store(tmp_path / "store")
    digest = store.put_outputs(KEY_A, make_checkout(tmp_path / "c"), OUTPUTS,
                               component="c", artifact="a")
    manifest = json.loads((store.blobs / digest[7:]).read_bytes())
    for blob in (manifest["config"], *manifest["layers"]):   # "there already"
        http_recorder.add_route("HEAD", f"/v2/store/c/blobs/{blob['digest']}", Response(200))
    http_recorder.add_route("PUT", f"/v2/store/c/manifests/{cache_tag(KEY_A)}", Response(
        201, {"Docker-Content-Digest": "sha256:" + "0" * 64}))
    with RegistryClient(env={}) as client, pytest.raises(IntegrityError, match="says it stored"):
        store.push(KEY_A, digest, client, f"{http_recorder.host_port}/store/c")


def test_image_digest_reads_the_registry(registry: str) -> None:
    with RegistryClient(env={}) as client:
        ref = f"{registry}/team/app:develop-1234567"
        pushed = client.push_image(parse_image_ref(ref), {"app/x": b"1"})
        assert image_digest(client, ref) == pushed
        assert image_digest(client, f"{registry}/team/app:absent") is None
