#!/usr/bin/env bash
# make up STACK=<name>: validate, find or build the Pulumi CLI, pick a cluster (the current kube
# context, or the local clusters when there is none or LOCAL=1), then pulumi up the stack.
set -euo pipefail

stack=${1:?usage: hack/up.sh STACK}
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
source hack/lib.sh

if [[ ! -f "Pulumi.$stack.yaml" ]]; then
  die "there is no Pulumi.$stack.yaml; stacks here: $(ls Pulumi.*.yaml | sed 's/Pulumi\.\(.*\)\.yaml/\1/' | tr '\n' ' ')"
fi
say "validating Pulumi.$stack.yaml"
# Its notes are about the offline render (no hub to list vela's Secrets): shown only when it fails;
# the run below prints the config's warnings itself.
if ! problems=$("$py" -m render --stack "$stack" 2>&1 >/dev/null); then
  echo "$problems" >&2
  exit 2
fi

mode=$(confirm_flags)
use_pulumi

pulumi stack select --create --non-interactive "$stack" >/dev/null
# A wrong PULUMI_CONFIG_PASSPHRASE shows here, before any cluster is started: encrypting a value
# makes Pulumi check it against the stack file's salt (in a scratch copy; the stack file is untouched).
scratch=$(mktemp --suffix=.yaml)
trap 'rm -f "$scratch"' EXIT
cp "Pulumi.$stack.yaml" "$scratch"
pulumi config set --secret ocm-hub:passphraseCheck ok --stack "$stack" --config-file "$scratch" >/dev/null

# The cluster: an explicit LOCAL=1 or no kube context at all means the local clusters; a context
# that is configured but unreachable is an error, never silently replaced.
context=$("$py" hack/kube_context.py) || exit 1
if [[ -n "${LOCAL:-}" || $context == none ]]; then
  say "${LOCAL:+LOCAL=1: }starting the local clusters (hub and managed-1, OCM running on them)"
  "$py" hack/localcluster.py up >/dev/null
  export KUBECONFIG="$root/.e2e/hub.kubeconfig"
  mkdir -p "$(dirname "$local_marker")"
  touch "$local_marker"
  say "using the local hub: KUBECONFIG=$KUBECONFIG"
else
  say "using kube context $context"
  rm -f "$local_marker"
fi

args=(--stack "$stack")
if [[ -f $local_marker ]]; then
  # The stack file as written, with addon charts from the local clusters' chart repository.
  "$py" hack/localcluster.py stack-config "Pulumi.$stack.yaml" >"$local_config"
  args+=(--config-file "$local_config")
fi

if [[ $mode == no-terminal ]]; then
  pulumi preview "${args[@]}"
  die "no terminal to confirm on: previewed only; apply with 'make up STACK=$stack YES=1'"
fi
# shellcheck disable=SC2086  # mode is a list of flags or nothing
if ! pulumi up $mode "${args[@]}"; then
  if [[ -f $local_marker ]] && ! "$py" hack/localcluster.py check >/dev/null 2>&1; then
    die "the local clusters stopped during the run ($("$py" hack/localcluster.py status | tr '\n' ' ')); run 'make down STACK=$stack' and then 'make up STACK=$stack' again"
  fi
  exit 1
fi
say "done: 'make status STACK=$stack' shows the hub and its fleet"
