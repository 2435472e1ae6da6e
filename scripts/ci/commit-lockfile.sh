#!/usr/bin/env bash
# Commit and push the lockfile a deploy job's `inv deploy` wrote (a failed deploy writes a
# `status: failed` one: it is the record too, so the step runs unless cancelled).
# ENVIRONMENT and BRANCH from the environment. Manifests edited on the runner (a dispatch's
# ottochain override) are put back, never committed. Another environment's deploy may have
# pushed meanwhile: rebase and retry. With branch protection on the branch, let
# github-actions push lockfile commits (or bypass): the lockfile is the record of what runs.
set -euo pipefail

if [ -z "$(git status --porcelain --untracked-files=all -- lockfiles/)" ]; then
  echo "no new lockfile"
  exit 0
fi
git config user.name "github-actions[bot]"
git config user.email "41898282+github-actions[bot]@users.noreply.github.com"
git add -- lockfiles/
git commit -m "chore(lock): $ENVIRONMENT deploy" \
  -m "Run: $GITHUB_SERVER_URL/$GITHUB_REPOSITORY/actions/runs/$GITHUB_RUN_ID"
git checkout -- manifests/
for attempt in 1 2 3 4 5; do
  if git push origin "HEAD:refs/heads/$BRANCH"; then
    exit 0
  fi
  sleep $((attempt * 5))
  git pull --rebase origin "$BRANCH"
done
echo "::error::could not push the lockfile commit to $BRANCH"
exit 1
