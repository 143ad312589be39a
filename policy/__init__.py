"""ocm-hub guardrails: a Pulumi CrossGuard policy pack (`pulumi preview --policy-pack policy`).

The rules live in `rules.py` as pure functions, so `make review` and the tests run them without the CLI.
"""
