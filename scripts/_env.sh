# Sourced by the scripts: make .venv (Python 3.11) and install a lock file into it, once per lock change.
# usage: . scripts/_env.sh requirements/<name>.lock
set -euo pipefail
lock="$1"
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
python="${PYTHON:-python3.11}"
command -v "$python" >/dev/null 2>&1 || python=python3
if [ ! -x .venv/bin/python ]; then
    "$python" -m venv .venv
fi
stamp=".venv/.installed-$(basename "$lock")-$(sha256sum "$lock" pyproject.toml | sha256sum | cut -c1-16)"
if [ ! -f "$stamp" ]; then
    .venv/bin/python -m pip install --quiet --disable-pip-version-check --require-hashes -r "$lock"
    .venv/bin/python -m pip install --quiet --disable-pip-version-check --no-deps -e .
    rm -f .venv/.installed-"$(basename "$lock")"-*
    touch "$stamp"
fi
export PATH="$root/.venv/bin:$PATH"
