# End-to-end harness targets; included from the Makefile, which defines VENV and `venv`.
# The sandbox package (sandbox/) does the work: sandbox/tools.py builds the tools from the pinned
# wrapper modules in hack/tools/ into $OCM_HUB_CACHE/e2e (default ~/.cache/ocm-hub/e2e), the Pulumi
# CLI with its Python language host laid out as an install root there (pulumi/<versions>/bin, own
# PULUMI_HOME beside it), and OCM's operator and agents, which sandbox/kubelet.py runs as processes in
# place of kwok's pods; sandbox/clusters.py owns the clusters, whose state lives in .e2e/.

E2E_PYTHON ?= $(VENV)/bin/python
# Per-test timeout in seconds: later stages run the Pulumi engine and OCM against live servers.
E2E_TIMEOUT ?= 900
# Parallel lanes (tests/e2e/conftest.py LANES), each a worker with clusters of its own; 0 runs the
# suite in one process on the clusters in .e2e/.
E2E_WORKERS ?= 4
# Further pytest arguments; test paths among them (tests/...) run in place of the whole suite.
E2E_PYTEST_ARGS ?=
E2E_TESTS = $(if $(filter tests/%,$(E2E_PYTEST_ARGS)),,tests/e2e tests/test_policy.py)
E2E_LANES = $(if $(filter 0,$(E2E_WORKERS)),,-n $(E2E_WORKERS) --dist loadscope)

.PHONY: e2e-tools cluster-up cluster-down cluster-status e2e conformance

e2e-tools: venv ## build the missing e2e binaries (Kubernetes, etcd, kwok, Pulumi, OCM, addons, KubeVela; not make conformance's own) from Go modules
	$(E2E_PYTHON) -m sandbox.tools

cluster-up: e2e-tools ## start (or reuse) local clusters hub and managed-1; kubeconfigs in .e2e/
	$(E2E_PYTHON) -m sandbox up

cluster-down: venv ## stop the local clusters and remove their data
	$(E2E_PYTHON) -m sandbox down

cluster-status: venv ## show whether the local clusters run, where, and for how long
	$(E2E_PYTHON) -m sandbox status

# Each worker starts its lane's clusters and stops them at its end; the trap stops what a killed
# worker left.
e2e: e2e-tools ## run tests/e2e in parallel lanes, each on local clusters of its own, always torn down afterwards
	@trap 'for dir in .e2e/lanes/*/; do [ -d "$$dir" ] && OCM_HUB_E2E_DIR=$$dir $(E2E_PYTHON) -m sandbox down; done; \
	  rm -rf .e2e/lanes' EXIT; trap 'exit 130' INT TERM; \
	$(E2E_PYTHON) -m pytest $(E2E_TESTS) -m e2e -p no:cacheprovider --timeout=$(E2E_TIMEOUT) \
	  $(E2E_LANES) $(E2E_PYTEST_ARGS)

# OCM's own e2e suite (open-cluster-management.io/ocm test/e2e, the release the clusters run) against
# the dev stack, then against the same hub installed with OCM's own Helm charts, each on fresh local
# clusters of its own under $(CONFORMANCE_DIR); sandbox/conformance/ says how.
CONFORMANCE_DIR ?= .e2e/conformance
# A Ginkgo label filter (e.g. `sanity-check || klusterlet`); empty runs every label.
CONFORMANCE_LABELS ?=
CONFORMANCE_INSTALLS ?= ocm-hub,helm

conformance: venv ## OCM's e2e suite against the dev stack and against OCM's Helm charts: table, times, JUnit (about 45 min)
	$(E2E_PYTHON) -m sandbox.conformance --dir $(CONFORMANCE_DIR) --installs $(CONFORMANCE_INSTALLS) \
	  --labels '$(CONFORMANCE_LABELS)' $(if $(KEEP),--keep)
