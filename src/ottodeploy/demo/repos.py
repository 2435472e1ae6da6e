"""What the demo's seven repos hold: small build scripts that make real files.

Each stands in for its real counterpart (ECOSYSTEM.md): the sbt projects write
jar archives named like sbt's, ottochain also ships the protobuf types the
SDK must match, the SDK generates TypeScript from them and refuses to build
when its own copy differs, and the image artifacts are OCI image layouts
written with ``ottodeploy.ocilayout``. The services are real HTTP servers
(``server.py`` answers ``/health`` and ``/version`` with the deployed commit;
``node.py`` plays a metagraph node with ``/node/info``, ``/cluster/info`` and
``/cluster/join``).
"""

from __future__ import annotations

JAR_PY = r'''#!/usr/bin/env python3
"""Stands in for `sbt publishLocal` / `sbt assembly`: writes jar archives named like sbt's."""
import os, sys, zipfile
from pathlib import Path

version = os.environ["OTTO_VERSION"]
component = os.environ["OTTO_COMPONENT"]
for target in sys.argv[1:]:
    path = Path(target.replace("VERSION", version))
    path.parent.mkdir(parents=True, exist_ok=True)
    deps = {k: v for k, v in os.environ.items() if k.startswith(("OTTO_DEP_", "OTTO_BUILD_WITH_"))
            and k.endswith(("_VERSION", "_SHA")) or k.startswith("OTTO_BUILD_WITH_")}
    # fixed entry times, as a reproducible build has them: the same inputs, the same bytes
    entry = lambda name: zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))  # noqa: E731
    with zipfile.ZipFile(path, "w") as jar:
        jar.writestr(entry("META-INF/MANIFEST.MF"),
                     f"Manifest-Version: 1.0\nImplementation-Title: {component}\n"
                     f"Implementation-Version: {version}\nBuild-Commit: {os.environ['OTTO_SHA']}\n")
        jar.writestr(entry("META-INF/dependencies.txt"),
                     "".join(f"{k}={v}\n" for k, v in sorted(deps.items())))
    print(f"wrote {path} ({path.stat().st_size} bytes)")
'''

IMAGE_SH = r'''#!/usr/bin/env bash
# Stands in for `docker build && docker push`: an OCI image layout of app/ in ./image.
set -euo pipefail
rm -rf image && mkdir -p app
"${OTTO_DEMO_PYTHON:-python3}" -m ottodeploy.ocilayout image "${OTTO_IMAGE##*:}" app
'''

PROTO = """syntax = "proto3";
package ottochain.v1;

message StateMachine {
  string id = 1;
  string state = 2;
  uint64 sequence = 3;
}
"""

SDK_BUILD_PY = r'''#!/usr/bin/env python3
"""Stands in for `buf generate && npm run build`: TypeScript types from ottochain's protobuf."""
import json, os, re, sys
from pathlib import Path

theirs = Path(os.environ["OTTO_DEP_OTTOCHAIN_OUT_ASSEMBLY"]) / "proto/ottochain/v1/types.proto"
ours = Path("proto/ottochain/v1/types.proto")
if theirs.read_text() != ours.read_text():
    print(f"types do not match ottochain {os.environ['OTTO_DEP_OTTOCHAIN_VERSION']}: "
          f"update {ours}", file=sys.stderr)
    sys.exit(1)
lines = ["// generated from ottochain/v1/types.proto; do not edit"]
for name, body in re.findall(r"message (\w+) \{(.*?)\}", ours.read_text(), re.S):
    fields = re.findall(r"(\w+) (\w+) = \d+;", body)
    ts = {"string": "string", "uint64": "bigint"}
    lines.append(f"export interface {name} {{")
    lines += [f"  {field}: {ts.get(kind, 'unknown')};" for kind, field in fields]
    lines.append("}")
Path("dist").mkdir(exist_ok=True)
Path("dist/types.ts").write_text("\n".join(lines) + "\n")
Path("dist/package.json").write_text(json.dumps(
    {"name": "@ottochain/sdk", "version": os.environ["OTTO_VERSION"]}, indent=2))
print("generated dist/types.ts")
'''

SERVER_PY = r'''#!/usr/bin/env python3
"""A services stand-in: /health and /version with the deployed commit."""
import argparse, json
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

parser = argparse.ArgumentParser()
parser.add_argument("--port", type=int, required=True)
parser.add_argument("--commit", required=True)
parser.add_argument("--version", required=True)
args = parser.parse_args()


class Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        routes = {"/health": {"status": "ok"},
                  "/version": {"version": args.version, "commit": args.commit}}
        body = routes.get(self.path)
        self.send_response(200 if body else 404)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(json.dumps(body or {"error": "not found"}).encode())

    def log_message(self, *a):
        pass


ThreadingHTTPServer(("127.0.0.1", args.port), Handler).serve_forever()
'''

NODE_PY = r'''#!/usr/bin/env python3
"""A metagraph node stand-in: /node/info, /cluster/info, POST /cluster/join.

Node 1 (no --join) holds the cluster's members; another node joins node 1 when it
starts and answers /cluster/info with what node 1 says.
"""
import argparse, json, urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

parser = argparse.ArgumentParser()
parser.add_argument("--port", type=int, required=True)
parser.add_argument("--node", default="node1")
parser.add_argument("--join", default=None)
parser.add_argument("--version", required=True)
args = parser.parse_args()
members = [{"id": args.node, "ip": "127.0.0.1", "p2pPort": args.port + 1}]
opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def call(path, body=None):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(args.join + path, data, {"Content-Type": "application/json"})
    with opener.open(req, timeout=5) as response:
        return json.load(response)


if args.join:
    print("joined; cluster size", len(call("/cluster/join", members[0])), flush=True)


class Handler(BaseHTTPRequestHandler):
    def reply(self, body, status=200):
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(json.dumps(body).encode())

    def do_GET(self):
        if self.path == "/node/info":
            self.reply({"state": "Ready", "version": args.version, "id": args.node})
        elif self.path == "/cluster/info":
            self.reply(call("/cluster/info") if args.join else members)
        else:
            self.reply({"error": "not found"}, 404)

    def do_POST(self):
        if self.path != "/cluster/join" or args.join:
            return self.reply({"error": "not found"}, 404)
        peer = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        if peer["id"] not in [m["id"] for m in members]:
            members.append(peer)
        self.reply(members)

    def log_message(self, *a):
        pass


ThreadingHTTPServer(("127.0.0.1", args.port), Handler).serve_forever()
'''

EXPLORER_HTML = """<!doctype html>
<title>OttoChain explorer (demo)</title>
<h1>OttoChain explorer</h1>
<p>API: <code>/api</code></p>
"""

REPOS: dict[str, dict[str, str]] = {
    "tessellation": {"build.py": JAR_PY, "README.md": "# tessellation (demo)\n"},
    "metakit": {"build.py": JAR_PY, "README.md": "# metakit (demo)\n"},
    "ottochain": {"build.py": JAR_PY, "image.sh": IMAGE_SH, "app/node.py": NODE_PY,
                  "proto/ottochain/v1/types.proto": PROTO, "README.md": "# ottochain (demo)\n"},
    "sdk": {"build.py": SDK_BUILD_PY, "proto/ottochain/v1/types.proto": PROTO,
            "README.md": "# ottochain-sdk (demo)\n"},
    "services": {"image.sh": IMAGE_SH, "app/server.py": SERVER_PY,
                 "README.md": "# ottochain-services (demo)\n"},
    "explorer": {"image.sh": IMAGE_SH, "app/index.html": EXPLORER_HTML,
                 "README.md": "# ottochain-explorer (demo)\n"},
    "monitoring": {"prometheus.yml": "scrape_configs: []\n",
                   "README.md": "# ottochain-monitoring (demo)\n"},
}

# name -> release tags on the first commit of main
RELEASES = {
    "tessellation": ["v4.0.0-rc.10", "v4.0.0"],
    "metakit": ["v0.2.0"],
    "ottochain": ["v0.6.1"],
    "sdk": ["v0.3.0"],
    "services": ["v1.0.0"],
    "explorer": ["v1.0.0"],
    "monitoring": ["v0.1.0"],
}
