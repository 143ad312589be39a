"""The ocm-hub guardrails as a CrossGuard policy pack, for `pulumi preview|up --policy-pack policy`.

Each rule of `rules.py` becomes a resource validation policy with its enforcement level, severity
and config schema, so a stack tunes it with `--policy-pack-config policy/config/<stack>.json`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from pulumi_policy import (
    EnforcementLevel,
    Policy,
    PolicyConfigSchema,
    PolicyPack,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    Severity,
)
from pulumi_policy import proxy as _proxy
from pulumi_policy.deserialize import serialize_properties

if TYPE_CHECKING or __package__:
    from policy import rules
else:  # the Pulumi CLI runs this folder as a script, so its modules are top-level
    import rules

PACK_NAME = "ocm-hub-guardrails"
_UNKNOWNS = frozenset(
    {
        _proxy.UNKNOWN_BOOLEAN_VALUE,
        _proxy.UNKNOWN_NUMBER_VALUE,
        _proxy.UNKNOWN_STRING_VALUE,
        _proxy.UNKNOWN_ARRAY_VALUE,
        _proxy.UNKNOWN_ASSET_VALUE,
        _proxy.UNKNOWN_ARCHIVE_VALUE,
        _proxy.UNKNOWN_OBJECT_VALUE,
    }
)


def plain(value: Any) -> Any:
    """Inputs as plain data, preview-time unknowns as `rules.UNKNOWN`: the SDK's proxies raise on
    reading an unknown, which would turn a whole policy into a "cannot run during preview" note."""
    if isinstance(value, str) and value in _UNKNOWNS:
        return rules.UNKNOWN
    if isinstance(value, dict):
        return {key: plain(item) for key, item in value.items()}
    if isinstance(value, list):
        return [plain(item) for item in value]
    return value


def _validation(rule: rules.Rule) -> Callable[[ResourceValidationArgs, ReportViolation], None]:
    def validate(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
        resource = rules.Resource(
            type=args.resource_type,
            name=args.name,
            urn=args.urn,
            props=plain(serialize_properties(args.props)),
            protect=bool(args.opts.protect),
        )
        for message in rule.check(resource, rule.settings(args.get_config())):
            report_violation(message, None)

    return validate


def policies() -> list[Policy]:
    return [
        ResourceValidationPolicy(
            name=rule.name,
            description=rule.description,
            validate=_validation(rule),
            enforcement_level=EnforcementLevel(rule.enforcement),
            severity=Severity(rule.severity),
            config_schema=PolicyConfigSchema(properties={k: dict(v) for k, v in rule.config.items()})
            if rule.config
            else None,
        )
        for rule in rules.RULES
    ]


if __name__ == "__main__":
    PolicyPack(name=PACK_NAME, policies=policies())
