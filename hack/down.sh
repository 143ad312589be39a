#!/usr/bin/env bash
# make down STACK=<name>: destroy the stack, then stop the local clusters. Safe to run again.
set -euo pipefail

stack=${1:?usage: hack/down.sh STACK}
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
source hack/lib.sh

mode=$(confirm_flags)
[[ $mode == no-terminal ]] && die "no terminal to confirm on: destroy with 'make down STACK=$stack YES=1'"
use_pulumi

if ! pulumi stack select --non-interactive "$stack" >/dev/null 2>&1; then
  say "stack $stack does not exist in $PULUMI_BACKEND_URL: nothing to destroy"
elif [[ -f $local_marker ]]; then
  if "$py" hack/localcluster.py check >/dev/null 2>&1; then
    export KUBECONFIG="$root/.e2e/hub.kubeconfig"
    "$py" hack/localcluster.py stack-config "Pulumi.$stack.yaml" >"$local_config"
    # shellcheck disable=SC2086
    pulumi destroy $mode --stack "$stack" --config-file "$local_config"
  else
    say "the local clusters are gone, and with them everything stack $stack created: forgetting its state"
    pulumi stack rm --yes --force --preserve-config --non-interactive "$stack" >/dev/null
  fi
else
  # shellcheck disable=SC2086
  pulumi destroy $mode --stack "$stack"
fi
rm -f "$local_marker" "$local_config"
say "stopping the local clusters"
"$py" hack/localcluster.py down
