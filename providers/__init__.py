"""The ManagedClusterRegistration dynamic provider and what it needs: the Kubernetes API layer,
vela's cluster Secrets, the klusterlet objects and the join protocol."""
