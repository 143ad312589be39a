"""`make conformance`: OCM's own e2e suite (open-cluster-management.io/ocm test/e2e, at the release the
local clusters run) against the hub ocm-hub installs, and side by side against the same hub installed
with OCM's own Helm charts, each on fresh local clusters of its own.

    python -m sandbox.conformance [--labels FILTER] [--installs ocm-hub,helm] [--dir DIR] [--keep]

- sandbox/conformance/suite.py: the suite's command line, the deselected specs (one list, with reasons),
  its reports read by label, the table and the JUnit file;
- sandbox/conformance/installs.py: the two installs and the observer that times them;
- sandbox/conformance/__main__.py: one process per install (each with its own OCM_HUB_E2E_DIR, which
  the sandbox reads at import), then the table, the times, the ratio and the summary line.
"""
