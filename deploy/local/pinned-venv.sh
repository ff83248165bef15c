#!/usr/bin/env bash
# Sourced: pinned_venv DIR PACKAGE==VERSION... makes DIR a Python venv with exactly those
# packages from PyPI, unless it already has them (DIR/.pinned records what was installed).
pinned_venv() {
  local venv=$1; shift
  local want="$*"
  if [ "$(cat "$venv/.pinned" 2>/dev/null)" != "$want" ]; then
    echo "== installing $want into $venv"
    rm -rf "$venv"
    python3 -m venv "$venv"
    "$venv/bin/pip" install -q "$@"
    echo "$want" > "$venv/.pinned"
  fi
}
