#!/usr/bin/env bash
# Proves that floodwatch works the first time on a new machine: a fresh clone of this
# repository's HEAD, with empty corepack, npm and pnpm caches, an empty HOME and no pnpm on PATH,
# runs `CI=true bash .ci/run` (install everything, then the whole test suite) in one go.
#
#   bash scripts/first-run-check.sh          # prints PASS or FAIL with the elapsed time
#   KEEP=1 bash scripts/first-run-check.sh   # keep the temporary folder (kept anyway on failure)
#
# Uncommitted changes are not tested: the clone is of HEAD, as a new user would get it.
#
# Why each piece (a machine that has run floodwatch before hides every one of these):
# - HOME, COREPACK_HOME, XDG_* and the npm cache point at empty folders, and pnpm's store is set
#   to an empty folder, so nothing downloaded before can help.
# - pnpm is hidden, not uninstalled: PATH is rebuilt from "shadow" folders holding a symlink to
#   every program of the real PATH except pnpm, pnpx and corepack. `.ci/run` therefore really
#   takes its `npm install -g pnpm@<packageManager version>` path, into a temporary npm prefix
#   that comes first on PATH, and the machine's own pnpm (and corepack shims, which
#   `corepack disable` would delete when run as root) are left exactly as they were.
# - `../shared` (the real data) is linked beside the clone when it exists, as it sits beside a
#   checkout; without it the real-data tests skip with a message.
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
head=$(git -C "$repo" rev-parse HEAD)
work=$(mktemp -d "${TMPDIR:-/tmp}/floodwatch-first-run.XXXXXX")
log="$work/ci-run.log"
started=$(date +%s)

finish() {
  local status=$1 elapsed=$(($(date +%s) - started))
  local took
  took=$(printf '%dm%02ds' $((elapsed / 60)) $((elapsed % 60)))
  if [ "$status" = 0 ]; then
    echo "first-run-check: PASS in $took (HEAD $head)"
    [ "${KEEP:-0}" = 1 ] && echo "first-run-check: kept $work" || rm -rf "$work"
  else
    echo "first-run-check: FAIL after $took (HEAD $head); log: $log (folder kept: $work)"
  fi
  exit "$status"
}

echo "first-run-check: cloning $head into $work/floodwatch"
git clone --quiet --no-hardlinks "$repo" "$work/floodwatch"
git -C "$work/floodwatch" checkout --quiet --detach "$head"
if [ -d "$repo/../shared" ]; then
  ln -s "$(cd "$repo/../shared" && pwd)" "$work/shared"
fi

# The shadow PATH: one folder per PATH entry (same order), every program but pnpm/pnpx/corepack.
shadow_path="$work/npm-prefix/bin"
mkdir -p "$work/npm-prefix/bin" "$work/shadow"
i=0
IFS=: read -r -a path_dirs <<<"$PATH"
for dir in "${path_dirs[@]}"; do
  [ -d "$dir" ] || continue
  i=$((i + 1))
  mkdir "$work/shadow/$i"
  for program in "$dir"/*; do
    name=${program##*/}
    case "$name" in pnpm | pnpx | corepack) continue ;; esac
    [ -x "$program" ] && [ ! -d "$program" ] && ln -s "$program" "$work/shadow/$i/$name"
  done
  shadow_path="$shadow_path:$work/shadow/$i"
done

mkdir -p "$work/home" "$work/corepack" "$work/npm-cache" "$work/pnpm-store"
# The rest of the environment is kept (proxy and CA settings the network may need), except
# anything that would point npm, pnpm or corepack at state from earlier runs.
run_env=(env)
for variable in $(compgen -e); do
  case "$variable" in
    PNPM_HOME | npm_config_* | NPM_CONFIG_* | pnpm_config_* | COREPACK_*) run_env+=(-u "$variable") ;;
  esac
done
run_env+=(
  PATH="$shadow_path"
  HOME="$work/home"
  XDG_CONFIG_HOME="$work/home/.config"
  XDG_CACHE_HOME="$work/home/.cache"
  XDG_DATA_HOME="$work/home/.local/share"
  XDG_STATE_HOME="$work/home/.local/state"
  COREPACK_HOME="$work/corepack"
  npm_config_cache="$work/npm-cache"
  npm_config_prefix="$work/npm-prefix"
  npm_config_store_dir="$work/pnpm-store"
  CI=true
)
if "${run_env[@]}" bash -c 'command -v pnpm' >/dev/null; then
  echo "first-run-check: pnpm is still on the shadow PATH; this would not test a new machine" >&2
  finish 1
fi

echo "first-run-check: running CI=true bash .ci/run (install + every test; several minutes)"
echo "first-run-check: output in $log"
set +e
(cd "$work/floodwatch" && "${run_env[@]}" bash .ci/run) >"$log" 2>&1
status=$?
set -e
tail -n 25 "$log"
if [ "$status" = 0 ] && [ ! -x "$work/npm-prefix/bin/pnpm" ]; then
  echo "first-run-check: .ci/run passed without installing pnpm into the temporary prefix" >&2
  status=1
fi
finish "$status"
