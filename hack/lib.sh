# Shared by hack/up.sh and hack/down.sh (sourced): the Pulumi CLI, the state backend, and the
# local cluster a stack may run on. Expects $root (the project) and $stack.
py=.venv/bin/python
local_marker=".e2e/local-stacks/$stack"  # this stack was deployed on the local cluster
local_config=".e2e/local-stacks/Pulumi.$stack.yaml"

say() { echo "==> $*"; }
die() { echo "error: $*" >&2; exit 1; }

# Pulumi: the user's CLI when there is one (it fetches its plugins itself); else the official
# installer; else the CLI, language host and pulumi-kubernetes plugin built from pinned Go modules
# into ~/.cache/ocm-hub (hack/build_tools.py says what it builds and how long it takes).
use_pulumi() {
  if command -v pulumi >/dev/null 2>&1; then
    :
  elif [[ -x "$HOME/.pulumi/bin/pulumi" ]]; then
    export PATH="$HOME/.pulumi/bin:$PATH"
  elif "$py" hack/build_tools.py --print-env >/dev/null 2>&1; then
    "$py" hack/build_tools.py --only pulumi pulumi-language-python pulumi-resource-kubernetes >/dev/null
    eval "$("$py" hack/build_tools.py --print-env)"
  elif curl -fsSL --max-time 20 https://get.pulumi.com 2>/dev/null \
      | sh -s -- --version "$(sed -n 's/^pulumi==//p' requirements.txt)" --no-edit-path >/dev/null 2>&1; then
    export PATH="$HOME/.pulumi/bin:$PATH"
  else
    command -v go >/dev/null 2>&1 \
      || die "no Pulumi CLI, its installer cannot be reached, and no Go to build one: install Pulumi (https://www.pulumi.com/docs/install/)"
    say "no Pulumi CLI and its installer cannot be reached: building one from pinned Go modules"
    "$py" hack/build_tools.py --only pulumi pulumi-language-python pulumi-resource-kubernetes >/dev/null
    eval "$("$py" hack/build_tools.py --print-env)"
  fi
  say "using $(command -v pulumi) ($(pulumi version))"
  export PULUMI_BACKEND_URL=${PULUMI_BACKEND_URL:-file://$root/.pulumi-state}
  export PULUMI_CONFIG_PASSPHRASE=${PULUMI_CONFIG_PASSPHRASE-}
  export PULUMI_SKIP_UPDATE_CHECK=true
  [[ $PULUMI_BACKEND_URL == file://$root/.pulumi-state ]] && mkdir -p "$root/.pulumi-state"
  say "state backend: $PULUMI_BACKEND_URL"
}

# Whether pulumi may act without asking: YES=1 or CI; on a terminal it shows the preview and asks.
confirm_flags() {
  if [[ -n "${YES:-}" || -n "${CI:-}" ]]; then
    echo "--yes --non-interactive"
  elif [[ -t 0 && -t 1 ]]; then
    echo ""
  else
    echo "no-terminal"
  fi
}
