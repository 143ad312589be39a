# End-to-end harness targets; included from the Makefile, which defines VENV and `venv`.
# hack/build_tools.py builds the tools from the pinned wrapper modules in hack/tools/ into
# $OCM_HUB_CACHE/e2e (default ~/.cache/ocm-hub/e2e), the Pulumi CLI with its Python language host
# laid out as an install root there (pulumi/<versions>/bin, own PULUMI_HOME beside it), and OCM's
# operator and agents, which tests/e2e/ocm_runtime.py runs as processes in place of kwok's pods;
# hack/localcluster.py owns the clusters, whose state lives in .e2e/.

E2E_PYTHON ?= $(VENV)/bin/python
# Per-test timeout in seconds: later stages run the Pulumi engine and OCM against live servers.
E2E_TIMEOUT ?= 900
E2E_PYTEST_ARGS ?=

.PHONY: e2e-tools cluster-up cluster-down cluster-status e2e

e2e-tools: venv ## build the missing e2e binaries (Kubernetes, etcd, kwok, Pulumi CLI + Python host, OCM) from Go modules
	$(E2E_PYTHON) hack/build_tools.py

cluster-up: e2e-tools ## start (or reuse) local clusters hub and managed-1; kubeconfigs in .e2e/
	$(E2E_PYTHON) hack/localcluster.py up

cluster-down: venv ## stop the local clusters and remove their data
	$(E2E_PYTHON) hack/localcluster.py down

cluster-status: venv ## show whether the local clusters run, where, and for how long
	$(E2E_PYTHON) hack/localcluster.py status

e2e: e2e-tools ## run tests/e2e against the local clusters, always tearing them down afterwards
	@trap '$(E2E_PYTHON) hack/localcluster.py down' EXIT; trap 'exit 130' INT TERM; \
	$(E2E_PYTHON) hack/localcluster.py up && \
	$(E2E_PYTHON) -m pytest tests/e2e tests/test_policy.py -m e2e -p no:cacheprovider --timeout=$(E2E_TIMEOUT) $(E2E_PYTEST_ARGS)
