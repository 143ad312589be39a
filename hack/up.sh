#!/usr/bin/env bash
# make up STACK=<name>: validate, find or build the Pulumi CLI, pick a cluster (the current kube
# context, or the local clusters when there is none or LOCAL=1), then pulumi up the stack.
#
# Ctrl-C (SIGINT to the whole foreground group, as a terminal sends it) reaches the step that runs:
# pulumi cancels as it does (the operations in flight finish; a second Ctrl-C terminates it), local
# clusters being created are removed again. Then this ends with one line saying where things stand.
set -euo pipefail

stack=${1:?usage: hack/up.sh STACK}
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
source hack/lib.sh

pulumi_started=""
interrupted=""

# Once pulumi has started, it got the SIGINT too: what it did is said once it has ended. (No `return`
# here: in a trap it would return the interrupted command's status, which `set -e` ends the script on.)
on_interrupt() {
  interrupted=1
  if [[ -z $pulumi_started ]]; then
    local clusters=""
    [[ -f $local_marker ]] && clusters=", or 'make down STACK=$stack' to stop the local clusters"
    echo "interrupted: nothing was deployed; run 'make up STACK=$stack' again$clusters" >&2
    exit 130
  fi
}

cleanup() {
  stop_guard
  sweep_run
  rm -rf "$tmp"
}

# A Python step with SIGINT ignored: Ctrl-C lets it end (they are short) instead of printing a
# KeyboardInterrupt traceback; the INT trap then says where things stand.
calm() { (trap '' INT && exec "$@"); }

# Whether a process runs (a zombie does not: nothing may reap the clusters' components at once).
alive() {
  local stat
  { read -r stat <"/proc/$1/stat"; } 2>/dev/null || return 1
  stat=${stat##*) }
  [[ ${stat%% *} != Z ]]
}

wait_gone() {  # PID SECONDS
  local i
  for ((i = 0; i < $2 * 5; i++)); do
    alive "$1" || return 0
    sleep 0.2
  done
  return 1
}

# The local clusters' components and their OCM kubelet, as localcluster.py knows them. Its errors are
# not shown: the guard may be stopped before it has read them (a broken pipe), and without them it
# only watches less.
cluster_pids() {
  calm "$py" hack/localcluster.py pids 2>/dev/null
}

# The local clusters may stop while pulumi runs on them (a crash, their lifetime watchdog, `make
# cluster-down` elsewhere); pulumi would retry against the dead API servers for minutes
# (pulumi-kubernetes' awaits, HubReadiness until readinessTimeout). So the guard watches their
# processes (a look at /proc each second), confirms a death with `localcluster.py check`,
# and stops pulumi (stop_pulumi). It ignores the terminal's SIGINT (it keeps watching while pulumi
# cancels); it ends with pulumi or this script.
guard() {
  local pidfile=$1 pulumi="" pid
  local -a pids
  trap '' INT
  until { read -r pulumi <"$pidfile"; } 2>/dev/null && [[ -n $pulumi ]]; do
    alive $$ || return 0
    sleep 0.2
  done
  read -ra pids < <(cluster_pids)
  while alive "$pulumi" && alive $$; do
    for pid in "${pids[@]}"; do
      alive "$pid" && continue
      if "$py" hack/localcluster.py check >/dev/null 2>&1; then  # restarted meanwhile: watch the new ones
        read -ra pids < <(cluster_pids)
        break
      fi
      touch "$tmp/clusters-stopped"
      say "the local clusters stopped during the run: stopping pulumi"
      stop_pulumi "$pulumi"
      return 0
    done
    sleep 1
  done
}

# As gently as pulumi still listens; nothing in flight finishes on dead clusters anyway. SIGKILL comes
# last: killed while it writes the state, pulumi can leave it unreadable.
stop_pulumi() {
  local pid=$1
  kill -s INT "$pid" 2>/dev/null || return 0  # it cancels: the operations in flight may finish
  wait_gone "$pid" 5 && return 0
  kill -s INT "$pid" 2>/dev/null || return 0  # it terminates: records what it has, closes its plugins
  wait_gone "$pid" 10 && return 0
  sweep_run "$pid"  # a plugin it waits for is killed: it ends by itself
  wait_gone "$pid" 5 && return 0
  kill -s KILL "$pid" 2>/dev/null || true
}

stop_guard() {
  if [[ -n $guard_pid ]]; then
    kill "$guard_pid" 2>/dev/null || true
    wait "$guard_pid" 2>/dev/null || true
    guard_pid=""
  fi
}

# SIGKILL to what pulumi started in this run and left running (the language host and program,
# plugins, the dynamic providers' server — each in a process group of its own, maybe reparented by
# now), but PID if given: each carries the run's token in its environment.
sweep_run() {
  local file pid
  for file in $(grep -lzxF "OCM_HUB_RUN=$run_token" /proc/[0-9]*/environ 2>/dev/null || true); do
    pid=${file#/proc/}
    pid=${pid%/environ}
    [[ $pid == "${1:-}" ]] || kill -s KILL "$pid" 2>/dev/null || true
  done
}

# pulumi ARGS in the foreground, so the terminal's questions and Ctrl-C reach it as usual; on the
# local clusters the guard watches them meanwhile. Its status is pulumi's.
run_pulumi() {
  local status=0
  : >"$tmp/pulumi.pid"
  if [[ -f $local_marker ]]; then
    guard "$tmp/pulumi.pid" &
    guard_pid=$!
  fi
  pulumi_started=1
  # The inner shell records its pid, then becomes pulumi. Its stderr is pulumi's; this shell's own
  # (bash's "Killed" with the command line, were it killed) is not shown: the line below says it.
  # shellcheck disable=SC2016  # $$ and $@ are the inner shell's
  { OCM_HUB_RUN=$run_token "$BASH" -c 'echo $$ >"$0" && exec "$@"' "$tmp/pulumi.pid" pulumi "$@" 2>&3; } 3>&2 2>/dev/null \
    || status=$?
  stop_guard
  sweep_run
  # A signal ended pulumi (it exits 255 itself): its lock on the stack stays; `pulumi cancel` releases it.
  if ((status > 128 && status < 160)); then
    pulumi cancel --yes --stack "$stack" >/dev/null 2>&1 || true
  fi
  return "$status"
}

# After a pulumi command that did not succeed (STATUS, WHAT it was doing): the one line that says
# why and the way out.
pulumi_failed() {
  local status=$1 what=$2
  if [[ -f $tmp/clusters-stopped ]] || { [[ -f $local_marker ]] && ! "$py" hack/localcluster.py check >/dev/null 2>&1; }; then
    die "the local clusters stopped during the run ($("$py" hack/localcluster.py status | paste -sd ';' | sed 's/;/; /g')); run 'make down STACK=$stack' and then 'make up STACK=$stack' again"
  fi
  local way_on="what it finished is recorded: run 'make up STACK=$stack' again to finish, or 'make down STACK=$stack' to remove it"
  if [[ -n $interrupted ]]; then
    echo "interrupted: pulumi stopped the $what of stack $stack; $way_on" >&2
    exit 130
  fi
  if ((status > 128 && status < 160)); then  # a signal ended it: it said nothing
    die "pulumi was ended by SIG$(kill -l $((status - 128))) during the $what of stack $stack; $way_on"
  fi
  exit 1
}

tmp=$(mktemp -d)
run_token="$$-$RANDOM-$(date +%s)"  # in the environment of everything pulumi starts in this run
guard_pid=""
trap cleanup EXIT
trap on_interrupt INT

if [[ ! -f "Pulumi.$stack.yaml" ]]; then
  die "there is no Pulumi.$stack.yaml; stacks here: $(ls Pulumi.*.yaml | sed 's/Pulumi\.\(.*\)\.yaml/\1/' | tr '\n' ' ')"
fi
say "validating Pulumi.$stack.yaml"
# Its notes are about the offline render (no hub to list vela's Secrets): shown only when it fails;
# the run below prints the config's warnings itself.
if ! problems=$(calm "$py" -m render --stack "$stack" 2>&1 >/dev/null); then
  echo "$problems" >&2
  exit 2
fi

mode=$(confirm_flags)
use_pulumi

pulumi stack select --create --non-interactive "$stack" >/dev/null
# A wrong PULUMI_CONFIG_PASSPHRASE shows here, before any cluster is started: encrypting a value
# makes Pulumi check it against the stack file's salt (in a scratch copy; the stack file is untouched).
scratch=$tmp/passphrase-check.yaml
cp "Pulumi.$stack.yaml" "$scratch"
pulumi config set --secret ocm-hub:passphraseCheck ok --stack "$stack" --config-file "$scratch" >/dev/null

# The cluster: an explicit LOCAL=1 or no kube context at all means the local clusters; a context
# that is configured but unreachable is an error, never silently replaced.
context=$(calm "$py" hack/kube_context.py) || exit 1
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
  calm "$py" hack/localcluster.py stack-config "Pulumi.$stack.yaml" >"$local_config"
  args+=(--config-file "$local_config")
fi

if [[ $mode == no-terminal ]]; then
  run_pulumi preview "${args[@]}" || pulumi_failed $? preview
  die "no terminal to confirm on: previewed only; apply with 'make up STACK=$stack YES=1'"
fi

# An update stopped hard (a second Ctrl-C, a kill) leaves pending operations in the state: pulumi
# warns about them on every later update and never clears them. A refresh does: it reads what they
# did, and drops unfinished creates, which the update below makes again (pulumi-kubernetes applies
# server-side: creating an object that exists updates it).
pending=$(pulumi stack export --stack "$stack" | calm "$py" -c 'import json, sys
ops = json.load(sys.stdin)["deployment"].get("pending_operations") or []
print(", ".join("%s %s" % (op["type"], op["resource"]["urn"].rsplit("::", 1)[-1]) for op in ops))')
if [[ -n $pending ]]; then
  say "the last update of stack $stack stopped while $pending: refreshing the stack first"
  # shellcheck disable=SC2086  # mode is a list of flags or nothing
  run_pulumi refresh $mode ${mode:+--skip-preview} --clear-pending-creates "${args[@]}" || pulumi_failed $? refresh
fi

# shellcheck disable=SC2086
run_pulumi up $mode "${args[@]}" || pulumi_failed $? update
say "done: 'make status STACK=$stack' shows the hub and its fleet"
