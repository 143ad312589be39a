"""kwok's stages on the local clusters: its own defaults, with a pod's readiness and completion left
to kwok only for the pods the local kubelet does not run.

kwokctl plays every pod bound to its fake node through its stages; by default `pod-ready` marks a
pod Running and Ready as soon as it is bound, and `pod-complete` a Job's pod Succeeded. The kubelet
(sandbox/kubelet.py) decides first, per pod: the pods it leaves to kwok get the annotation
`e2e.ocm-hub.io/runtime: kwok`, and kwok_stages.yaml (kwok v0.8.0's own stages, provenance in its
header) makes both stages select it. The gate is that annotation rather than one on the pods the
kubelet runs because only it is race-free: kwok acts on no pod before the kubelet has looked at it,
whereas a pod the kubelet runs could be marked Ready by kwok before the kubelet marked it as its own.
The price is that kwok's pods turn Ready once the kubelet has seen them (it watches pods), not at
once. sandbox/clusters.py hands these stages to kwokctl with each cluster's configuration (a
configuration that names any Stage replaces all of kwokctl's defaults, hence the node stages too).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

STAGES_FILE = Path(__file__).with_name("kwok_stages.yaml")
# On the pods the kubelet leaves to kwok (and only those).
RUNTIME_ANNOTATION = "e2e.ocm-hub.io/runtime"
KWOK_RUNTIME = "kwok"
GATE = {"key": f'.metadata.annotations["{RUNTIME_ANNOTATION}"]', "operator": "In", "values": [KWOK_RUNTIME]}
GATED = ("pod-ready", "pod-complete")


def kwok_stages() -> list[dict[str, Any]]:
    """The Stage documents for kwokctl's configuration file."""
    return [doc for doc in yaml.safe_load_all(STAGES_FILE.read_text(encoding="utf-8")) if doc]


def in_use(config: Path) -> bool:
    """Whether the configuration kwokctl saved for a cluster (its kwok.yaml) plays these stages: a
    cluster made before them would mark the kubelet's pods Ready (and its Jobs' pods Succeeded).
    Asked on every health check (several per `make up`): parsed with libyaml where it is built in, 40 ms
    less each than pure Python for the 25 KB file."""
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    try:
        documents = list(yaml.load_all(config.read_text(encoding="utf-8"), Loader=loader))
    except (OSError, yaml.YAMLError):
        return False
    gated = set()
    for doc in documents:
        if isinstance(doc, dict) and doc.get("kind") == "Stage":
            expressions = ((doc.get("spec") or {}).get("selector") or {}).get("matchExpressions") or []
            # kwokctl saves each expression wrapped as its kind (`jq:`), as kwok's internal API has it
            if any(GATE in (e, e.get("jq")) for e in expressions):
                gated.add(doc["metadata"]["name"])
    return gated >= set(GATED)
