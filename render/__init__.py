"""Offline render: the program under a recording mock, printed as Kubernetes YAML (no cluster, no CLI)."""
