"""Test doubles for ocm-hub, public for the tests and the benchmarks alike (as kopf has `kopf.testing`).

- `ocmhub_testing.fakekube.FakeKube`: an in-process Kubernetes API server (server-side apply, watches,
  faults to inject), one per hub or managed cluster;
- `ocmhub_testing.fake_agent.FakeAgent`: plays the klusterlet agents and the operators' finalizers;
- `ocmhub_testing.fake_operator.FakeHubOperator`: plays the cluster-manager operator's status and the hub
  Deployments' rollout, for the hub's readiness;
- `ocmhub_testing.pki`: a CA, server and client certificates, and vela cluster Secrets made with them;
- `ocmhub_testing.dynamic_server.dynamic_server`: the registration provider in the SDK's own gRPC server,
  driven as the engine drives it;
- `ocmhub_testing.registrations`: a registration's inputs and the vela Secret it refers to;
- `ocmhub_testing.deploy_fakes`: `make up`'s parts faked (a Pulumi whose stacks record what they were
  asked, local clusters that are flags, a pulumi process that takes signals as pulumi does);
- `ocmhub_testing.cases`: bad inputs ocm-hub must reject, with the message each rejection carries.

Nothing here imports from `tests`, and nothing outside `tests` may (ruff TID251).
"""
