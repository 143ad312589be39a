"""The local clusters' Helm chart repository: the vendored addon charts, served from 127.0.0.1 the way
a Helm repository serves them (`index.yaml` plus one `.tgz` per chart version).

Each chart is stored once: hack/charts/<name>-<version>/<name>/ holds the published package's files
but its values.yaml, which is the product's copy, config/charts/<name>-<version>.values.yaml (ocm-hub
checks addon values against it). `chart_files` puts the two together; `package` packs any chart's
files, wherever they come from.

The OCM kubelet process (sandbox/kubelet.py) runs it beside the clusters and writes its URL to
.e2e/charts.url, so `make up` on the local cluster and `make e2e` install the addon releases with no
internet; a stack names it as its `addons.repository`.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import tarfile
import threading
from collections.abc import Mapping
from datetime import UTC, datetime
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import yaml

from config.addons import CHARTS_DIR as VALUES_DIR

CHARTS_DIR = Path(__file__).resolve().parents[1] / "hack" / "charts"
# The release time of the charts' gh-pages commit: archives and index stay byte-identical run to run.
PUBLISHED = datetime(2025, 6, 1, tzinfo=UTC)
VALUES = "values.yaml"


def chart_files(chart: Path, values_dir: Path = VALUES_DIR) -> dict[str, bytes]:
    """The files of the vendored chart in `chart` (a folder named after it) by their path in the package,
    its values.yaml the product's copy in values_dir."""
    meta = yaml.safe_load((chart / "Chart.yaml").read_text(encoding="utf-8"))
    if (chart / VALUES).exists():
        raise ValueError(f"{chart / VALUES}: the chart's values.yaml is stored in {values_dir} only")
    values = values_dir / f"{meta['name']}-{meta['version']}.values.yaml"
    if not values.is_file():
        raise ValueError(f"{chart}: no values file {values} for chart {meta['name']} {meta['version']}")
    files = {
        path.relative_to(chart.parent).as_posix(): path.read_bytes() for path in chart.rglob("*") if path.is_file()
    }
    return {**files, f"{chart.name}/{VALUES}": values.read_bytes()}


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


def build(charts_dir: Path = CHARTS_DIR, values_dir: Path = VALUES_DIR) -> tuple[dict[str, bytes], dict[str, Any]]:
    """Every chart under charts_dir/<name>-<version>/<name>/: the archives by file name, and the index."""
    archives: dict[str, bytes] = {}
    entries: dict[str, list[dict[str, Any]]] = {}
    for chart_yaml in sorted(charts_dir.glob("*/*/Chart.yaml")):
        meta = yaml.safe_load(chart_yaml.read_text(encoding="utf-8"))
        filename = f"{meta['name']}-{meta['version']}.tgz"
        archives[filename] = package(chart_files(chart_yaml.parent, values_dir))
        entry = {
            **meta,
            "urls": [filename],
            "digest": hashlib.sha256(archives[filename]).hexdigest(),
            "created": PUBLISHED.isoformat(),
        }
        entries.setdefault(meta["name"], []).append(entry)
    index = {"apiVersion": "v1", "entries": entries, "generated": PUBLISHED.isoformat()}
    return archives, index


class ChartRepo:
    """A Helm repository on 127.0.0.1 (a free port); `close` stops it."""

    def __init__(self, charts_dir: Path = CHARTS_DIR, values_dir: Path = VALUES_DIR) -> None:
        archives, index = build(charts_dir, values_dir)
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

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, name="chart-repo", daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
