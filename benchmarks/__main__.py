"""The speed suite: ``python -m benchmarks [--quick] [--only P1,P3]`` from the repo root.

Every figure is a ratio against a baseline measured in the same run, on the
same machine, as a median of several runs (or a count that must hold):

- P0 resolve: an environment of 7 repos against resolving 1 repo seven times over
  (one ls-remote per repo, all at once). Goal <= 1x; the figure also gives 1 repo.
- P1 no-op: ``doit ottochain_image env=scratch`` with nothing changed (7 local
  repos) against bare doit with as many ``config_changed`` tasks plus
  ``git ls-remote`` of the 7 repos in parallel. Goal <= 1.10x.
- P2 exactness: every single-repo change and 20 random multi-repo changes;
  rebuilt set == downstream closure. Goal 100 %.
- P3 parallel: 1 s recipes, ``doit -n 4 env=beta`` against the critical
  path computed from the graph. Goal <= 1.08x.
- P4 scale: a generated layered ecosystem of 3,000 (and 300) components, no-op
  against bare doit with the same number of tasks plus parallel ls-remote.
  Goal <= 1.3x at 3,000; the figure gives the cost per component of both.
- P5 replay: ``deploy-from-lockfile`` of an older lockfile whose artifacts are all
  stored runs 0 builds.
- P6 against today's practice: a one-leaf change (explorer) against a serial
  rebuild of every component, 1 s recipes. Goal <= 1/5.
- P7 no-op redeploy: ``inv deploy scratch`` with nothing changed runs 0 deploy
  steps (and 0 builds), in at most 1.5x the time of ``inv check scratch``.
- P8 promotion: scratch promoted into the branch environment beta and deployed,
  twice, builds nothing; ``inv rollback beta`` (1 s deploy steps) builds nothing
  and takes at most 1.2x its own deploy stage.
- P9 the workflows for real: ``deploy-branch.yml`` under act with a loopback registry, 1 s
  recipes, as configured by default (the plan job deploys by itself: no wave is wider than
  one runner's --jobs 2), median of 3 runs, against the critical path of recipe times plus
  one job's fixed steps measured in the same run; the fanned-out run (a job per task in
  waves) beside it. Goal <= 1.3x (benchmarks/p9.py).
"""

from __future__ import annotations

import argparse
import sys
import time

from benchmarks import figures


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks")
    parser.add_argument("--quick", action="store_true", help="fewer repetitions")
    parser.add_argument("--only", default="", help="comma-separated figures, e.g. P1,P4")
    args = parser.parse_args(argv)
    chosen = [f.strip().upper() for f in args.only.split(",") if f.strip()]
    started = time.monotonic()
    results = figures.run_all(chosen or None, quick=args.quick)
    print()
    print(figures.table(results))
    print(f"\n(total {time.monotonic() - started:.0f}s)")
    return 0 if all(r.met for r in results) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
