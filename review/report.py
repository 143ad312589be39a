"""The change report as Markdown for a PR comment: dangers first, then guardrails, then each stack."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import yaml

from policy.rules import Finding
from review.diff import Obj, StackDiff
from review.preview import Preview

MAX_OBJECT_LINES = 200  # a new CRD is thousands of lines: `make render` shows it whole


@dataclass(frozen=True)
class StackReport:
    diff: StackDiff
    status: str  # "changed" (file on both sides), "added" or "removed" (the stack file itself)
    note: str | None
    findings: Sequence[tuple[Finding, bool]]  # each violation at the working tree, and whether it is new
    preview: Preview | None
    ocm_versions: tuple[str | None, str | None] = (None, None)  # the stack's ocmVersion at base and head

    @property
    def ocm_upgrade(self) -> tuple[str, str] | None:
        before, after = self.ocm_versions
        return (before, after) if before and after and before != after else None


def markdown(base: str, head: str, stacks: Sequence[StackReport]) -> str:
    lines = ["## ocm-hub change report", "", f"Base {base} → {head}.", ""]
    lines += _summary(stacks)
    lines += _attention(stacks)
    lines += _guardrails(stacks)
    for stack in stacks:
        lines += _stack(stack)
    lines += _previews(stacks)
    return "\n".join(lines).rstrip() + "\n"


def _summary(stacks: Sequence[StackReport]) -> list[str]:
    lines = [
        "| stack | added | removed | changed | needs attention | guardrail violations |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for s in stacks:
        name = f"`{s.diff.stack}`" + {"added": " (new stack file)", "removed": " (stack file removed)"}.get(
            s.status, ""
        )
        attention = len(s.diff.dangers) + (s.status == "removed")
        counts = (len(s.diff.added), len(s.diff.removed), len(s.diff.changed), attention, len(s.findings))
        lines.append(f"| {name} | " + " | ".join(str(c) for c in counts) + " |")
    return [*lines, ""]


def _attention(stacks: Sequence[StackReport]) -> list[str]:
    lines = ["### Needs attention", ""]
    dangers = [(s.diff.stack, d) for s in stacks for d in s.diff.dangers]
    removed = [s.diff.stack for s in stacks if s.status == "removed"]
    for stack, danger in dangers:
        lines.append(f"- **{stack}** · {danger.label} · **{danger.action}**: {danger.why}")
    for report in stacks:
        if report.ocm_upgrade:
            before, after = report.ocm_upgrade
            lines.append(
                f"- **{report.diff.stack}** · OCM release {before} → {after} · **upgrade**: the operator, the "
                f"ClusterManager CRD and images change in place, and every cluster registration moves its klusterlet "
                f"to {after} in place; read the changed objects below and upgrade a staging hub first"
            )
    for stack in removed:
        lines.append(
            f"- **{stack}** · `Pulumi.{stack}.yaml` removed: nothing on the cluster changes by itself, but the "
            "stack can no longer be previewed or updated from this branch; `pulumi destroy` is a separate decision"
        )
    if not dangers and not removed:
        lines.append("Nothing is deleted or replaced on the cluster, and no protection is removed.")
    return [*lines, ""]


def _guardrails(stacks: Sequence[StackReport]) -> list[str]:
    lines = ["### Guardrails (policy pack `policy/`, on the offline render)", ""]
    found = False
    for s in stacks:
        for finding, new in s.findings:
            found = True
            mark = " (new)" if new else ""
            lines.append(
                f"- **{s.diff.stack}** · `{finding.policy}` ({finding.enforcement}){mark} · "
                f"`{finding.resource.name}`: {finding.message}"
            )
    if not found:
        lines.append("Every resource passes every policy, with each stack's `policy/config/<stack>.json`.")
    return [*lines, ""]


def _stack(report: StackReport) -> list[str]:
    diff = report.diff
    if report.status == "removed":
        return [f"### Stack `{diff.stack}`: stack file removed", ""]
    if diff.empty:
        return [f"### Stack `{diff.stack}`: no changes", ""]
    lines = [f"### Stack `{diff.stack}`", ""]
    if report.note:
        lines += [f"> note: {report.note}", ""]
    if diff.added:
        lines += ["**Added**", ""]
        for obj in diff.added:
            lines += [f"- {obj.label}", *_object_yaml(obj), ""]
    if diff.removed:
        lines += ["**Removed**", ""]
        lines += [f"- {obj.label}" for obj in diff.removed]
        lines.append("")
    if diff.changed:
        lines += ["**Changed** (changed fields only)", ""]
        for change in diff.changed:
            body = [f"  {line}" for line in change.diff.splitlines()]
            lines += [f"- {change.after.label}", "", "  ```diff", *body, "  ```", ""]
    return lines


def _object_yaml(obj: Obj) -> list[str]:
    text = yaml.safe_dump(dict(obj.doc), sort_keys=True, default_flow_style=False).rstrip("\n")
    count = text.count("\n") + 1
    if count > MAX_OBJECT_LINES:
        return [f"  ({count} lines of YAML: see `make render`)"]
    body = [f"  {line}" for line in text.splitlines()]
    return ["", "  <details><summary>YAML</summary>", "", "  ```yaml", *body, "  ```", "", "  </details>"]


def _previews(stacks: Sequence[StackReport]) -> list[str]:
    lines = ["### `pulumi preview --diff --policy-pack policy`", ""]
    if all(s.preview is None for s in stacks):
        return [*lines, "Not run (`--no-preview`).", ""]
    for s in stacks:
        if s.preview is None:
            continue
        if not s.preview.ran:
            lines.append(f"- **{s.diff.stack}**: {s.preview.text}")
            continue
        verdict = "passed" if s.preview.ok else "**failed**"
        lines += [
            f"- **{s.diff.stack}**: {verdict}",
            "",
            "  <details><summary>output</summary>",
            "",
            "  ```diff",
            *(f"  {line}" for line in s.preview.text.splitlines()),
            "  ```",
            "",
            "  </details>",
            "",
        ]
    return [*lines, ""]
