"""The local clusters' Helm chart repository: each addon's chart from the very module its binaries are
built from, served from 127.0.0.1 the way a Helm repository serves them (`index.yaml` plus one `.tgz`
per chart).

The charts are not copied into this repository: `build` packages them when the repository starts, from
the Go module cache, out of the module that sandbox/tools.py builds the addon's binaries from (the
version pinned by the wrapper in hack/tools/<wrapper>/go.mod, the module verified against its go.sum
by `go mod download`). So the chart a local cluster installs and the process that runs behind its
images are the same release; hack/charts/PROVENANCE.md says which module and folder each comes from.
Each index entry records that source too (`annotations`: module, folder, go.sum hash).

The kubelet process (sandbox/kubelet.py) runs it beside the clusters and writes its URL to
.e2e/charts.url; sandbox/local_stack.py pins each addon to the version served here.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import re
import tarfile
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import MappingProxyType
from typing import Any

import yaml

from config.addons import CHARTS
from sandbox import tools

# A fixed time in every archive and index: the same module gives the same bytes on every start.
PUBLISHED = datetime(2025, 6, 1, tzinfo=UTC)
SOURCE_ANNOTATION = "ocm-hub.io/source"
SUM_ANNOTATION = "ocm-hub.io/go-sum"


@dataclass(frozen=True)
class ModuleChart:
    """An addon's chart as a folder of the module its binaries are built from."""

    tool: str  # a tool of sandbox/tools.py built from that module: its wrapper pins and verifies the module
    folder: str  # the chart's folder in the module

    def module(self) -> tools.Tool:
        return tools.select([self.tool])[0]

    def source(self) -> str:
        module = self.module()
        return f"{module.module}@{module.version()} {self.folder}"

    def go_sum(self) -> str:
        """The module's hash in its wrapper's go.sum, which `go mod download` checked the module against."""
        module = self.module()
        go_sum = (module.wrapper_dir / "go.sum").read_text(encoding="utf-8")
        found = re.search(rf"^{re.escape(module.module)} {re.escape(module.version())} (h1:\S+)$", go_sum, re.MULTILINE)
        if found is None:
            raise ValueError(f"{module.wrapper_dir / 'go.sum'} has no hash of {module.module} {module.version()}")
        return found.group(1)

    def directory(self) -> Path:
        return tools.module_dir(self.module()) / self.folder


# By the addon's key in config/addons.py CHARTS: cluster-proxy's chart is in cluster-proxy's module,
# managed-serviceaccount's in its own, the gateway's addon-manager chart in cluster-gateway's.
MODULE_CHARTS: Mapping[str, ModuleChart] = MappingProxyType(
    {
        "clusterProxy": ModuleChart("cluster-proxy", "charts/cluster-proxy"),
        "managedServiceAccount": ModuleChart("managed-serviceaccount", "charts/managed-serviceaccount"),
        "clusterGateway": ModuleChart("cluster-gateway", "charts/addon-manager"),
    }
)


def metadata(chart: Path) -> dict[str, Any]:
    meta = yaml.safe_load((chart / "Chart.yaml").read_text(encoding="utf-8"))
    if not isinstance(meta, dict) or not {"name", "version"} <= set(meta):
        raise ValueError(f"{chart / 'Chart.yaml'}: not a chart's metadata (no name or version)")
    return meta


def chart_files(chart: Path) -> dict[str, bytes]:
    """The chart's files by their path in its package: under a folder named after the chart, as `helm
    package` lays it out whatever the source folder is called."""
    name = metadata(chart)["name"]
    return {
        f"{name}/{path.relative_to(chart).as_posix()}": path.read_bytes() for path in chart.rglob("*") if path.is_file()
    }


def package(files: Mapping[str, bytes]) -> bytes:
    """`helm package` of a chart's files (paths under the chart's folder): a gzipped tar, the same bytes
    for the same files (fixed times and owners, sorted)."""
    buffer = io.BytesIO()
    with (
        gzip.GzipFile(fileobj=buffer, mode="wb", mtime=int(PUBLISHED.timestamp())) as compressed,
        tarfile.open(fileobj=compressed, mode="w", format=tarfile.PAX_FORMAT) as archive,
    ):
        for name in sorted(files):
            info = tarfile.TarInfo(name)
            info.size, info.mode, info.mtime = len(files[name]), 0o644, int(PUBLISHED.timestamp())
            archive.addfile(info, io.BytesIO(files[name]))
    return buffer.getvalue()


def served_versions(charts: Mapping[str, ModuleChart] = MODULE_CHARTS) -> dict[str, str]:
    """The chart version served for each addon key: its Chart.yaml in the pinned module."""
    return {key: str(metadata(chart.directory())["version"]) for key, chart in charts.items()}


def build(charts: Mapping[str, ModuleChart] = MODULE_CHARTS) -> tuple[dict[str, bytes], dict[str, Any]]:
    """Every addon chart from its module: the archives by file name, and the index."""
    archives: dict[str, bytes] = {}
    entries: dict[str, list[dict[str, Any]]] = {}
    for key, chart in sorted(charts.items()):
        directory = chart.directory()
        meta = metadata(directory)
        if meta["name"] != CHARTS[key].chart:
            raise ValueError(f"{directory}: chart {meta['name']!r}, where addon {key} installs {CHARTS[key].chart!r}")
        filename = f"{meta['name']}-{meta['version']}.tgz"
        archives[filename] = package(chart_files(directory))
        annotations = {
            **(meta.get("annotations") or {}),
            SOURCE_ANNOTATION: chart.source(),
            SUM_ANNOTATION: chart.go_sum(),
        }
        entry = {
            **meta,
            "annotations": annotations,
            "urls": [filename],
            "digest": hashlib.sha256(archives[filename]).hexdigest(),
            "created": PUBLISHED.isoformat(),
        }
        entries.setdefault(meta["name"], []).append(entry)
    index = {"apiVersion": "v1", "entries": entries, "generated": PUBLISHED.isoformat()}
    return archives, index


class ChartRepo:
    """A Helm repository on 127.0.0.1 (`port` when it is free, else a free one); `close` stops it."""

    def __init__(self, charts: Mapping[str, ModuleChart] = MODULE_CHARTS, port: int = 0) -> None:
        archives, index = build(charts)
        files = {"index.yaml": yaml.safe_dump(index, sort_keys=False).encode(), **archives}

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                body = files.get(self.path.lstrip("/").split("?", 1)[0])
                if body is None:
                    self.send_error(HTTPStatus.NOT_FOUND)
                    return
                self.send_response(HTTPStatus.OK)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                """Quiet: Helm's fetches are not news."""

        try:
            self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        except OSError:
            if not port:
                raise
            self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, name="chart-repo", daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
