#!/usr/bin/env bash
# make up STACK=<name>: validate, find the Pulumi CLI, pick a cluster, select the stack, pulumi up.
set -euo pipefail

stack=${1:?usage: hack/up.sh STACK}
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
py=.venv/bin/python

if [[ ! -f "Pulumi.$stack.yaml" ]]; then
  echo "error: there is no Pulumi.$stack.yaml; stacks here: $(ls Pulumi.*.yaml | sed 's/Pulumi\.\(.*\)\.yaml/\1/' | grep -v '^Pulumi$' | tr '\n' ' ')" >&2
  exit 2
fi

echo "==> validating Pulumi.$stack.yaml"
"$py" -m render --stack "$stack" >/dev/null

pulumi_version=$(sed -n 's/^pulumi==//p' requirements.txt)
find_pulumi() {
  command -v pulumi 2>/dev/null && return
  [[ -x "$HOME/.pulumi/bin/pulumi" ]] && { echo "$HOME/.pulumi/bin/pulumi"; return; }
  return 1
}
# The CLI `make e2e-tools` builds: its bin/ (CLI, language host, exec script) on PATH, its own
# PULUMI_HOME, PULUMI_PYTHON_CMD (that language host ignores Pulumi.yaml's virtualenv), no downloads.
pulumi_bin=""
if ! pulumi_bin=$(find_pulumi) && built_env=$("$py" hack/build_tools.py --print-env 2>/dev/null); then
  eval "$built_env"
  pulumi_bin=$(command -v pulumi)
fi
if [[ -z "$pulumi_bin" ]]; then
  echo "==> Pulumi CLI not found: trying the official installer (pulumi $pulumi_version)"
  if curl -fsSL --max-time 20 https://get.pulumi.com | sh -s -- --version "$pulumi_version" --no-edit-path; then
    pulumi_bin="$HOME/.pulumi/bin/pulumi"
  else
    echo "error: no Pulumi CLI and the official installer cannot be reached; 'make e2e-tools' builds one from Go modules" >&2
    exit 1
  fi
fi
export PATH="$(dirname "$pulumi_bin"):$PATH"
echo "==> using $pulumi_bin ($("$pulumi_bin" version))"
k8s_version=$(sed -n 's/^pulumi-kubernetes==//p' requirements.txt)
if [[ -n "${built_env:-}" ]] && ! pulumi plugin ls 2>/dev/null | grep -qE "^kubernetes +resource +$k8s_version\b"; then
  echo "error: the pulumi-kubernetes provider plugin $k8s_version is not installed for the CLI built here, and that" >&2
  echo "       CLI never downloads plugins; install it with" >&2
  echo "       pulumi plugin install resource kubernetes $k8s_version --file <pulumi-resource-kubernetes binary>" >&2
  echo "       (README, End-to-end: the Go module proxy here does not serve the provider's source)" >&2
  exit 1
fi

if ! "$py" - <<'EOF'
import sys
from kubernetes import client, config
try:
    config.load_kube_config()
    client.VersionApi().get_code(_request_timeout=5)
except Exception as err:  # any failure means: no usable context
    print(f"==> no reachable kube context ({type(err).__name__})")
    sys.exit(1)
EOF
then
  echo "==> starting the local cluster (hack/localcluster.py)"
  "$py" hack/localcluster.py up
  export KUBECONFIG="$root/.e2e/hub.kubeconfig"
  echo "==> using the local cluster: KUBECONFIG=$KUBECONFIG"
fi

export PULUMI_BACKEND_URL=${PULUMI_BACKEND_URL:-file://$root/.pulumi-state}
export PULUMI_CONFIG_PASSPHRASE=${PULUMI_CONFIG_PASSPHRASE-}
export PULUMI_SKIP_UPDATE_CHECK=true
mkdir -p "$root/.pulumi-state"
echo "==> state backend: $PULUMI_BACKEND_URL"
pulumi stack select --create --non-interactive "$stack"
pulumi up --yes --non-interactive --stack "$stack"
