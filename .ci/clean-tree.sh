#!/usr/bin/env bash
# After the test suite: the work tree is as the commit left it. Tests write
# their results, logs and scratch files under the system's temp folder (and
# Python venvs under target/); anything else they leave — tracked files
# changed, files added, even ones .gitignore hides (experiments/results/ is
# ignored wherever it is, so a stray results folder would not show in a
# plain `git status`) — fails here, named.
set -euo pipefail
cd "$(dirname "$0")/.."
left=$(git status --porcelain --ignored --untracked-files=all -- . ':(exclude)target')
if [ -n "$left" ]; then
  echo "the test suite left the work tree changed:" >&2
  echo "$left" >&2
  exit 1
fi
echo "work tree clean after the tests"
