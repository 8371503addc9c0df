# Sourced by scripts/serve and scripts/test: make .venv (with the given pip extras) when missing or stale.
ensure_venv() {
  local extras="${1:-}" spec="." stamp
  [ -n "$extras" ] && spec=".[$extras]"
  stamp=".venv/.dexpy-$(sha256sum pyproject.toml | cut -c1-16)-${extras:-base}"
  if [ ! -x .venv/bin/python ]; then
    echo "dexpy: creating .venv" >&2
    python3 -m venv .venv
  fi
  if [ ! -f "$stamp" ]; then
    echo "dexpy: installing dependencies into .venv" >&2
    .venv/bin/python -m pip install --quiet --upgrade pip
    .venv/bin/python -m pip install --quiet -e "$spec"
    touch "$stamp"
  fi
}
