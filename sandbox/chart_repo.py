"""The local clusters' Helm chart repository: the vendored addon charts (hack/charts/), served from
127.0.0.1 the way a Helm repository serves them (`index.yaml` plus one `.tgz` per chart version).

The OCM kubelet process (sandbox/kubelet.py) runs it beside the clusters and writes its URL to
.e2e/charts.url, so `make up` on the local cluster and `make e2e` install the addon releases with no
internet; a stack names it as its `addons.repository`.
"""

from __future__ import annotations

import hashlib
import io
import tarfile
import threading
from datetime import UTC, datetime
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import yaml

CHARTS_DIR = Path(__file__).resolve().parents[1] / "hack" / "charts"
# The release time of the charts' gh-pages commit: archives and index stay byte-identical run to run.
PUBLISHED = datetime(2025, 6, 1, tzinfo=UTC)


def package(chart: Path) -> bytes:
    """`helm package` of an unpacked chart: a gzipped tar with the chart's directory on top."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz", format=tarfile.PAX_FORMAT) as archive:
        for path in sorted([chart, *chart.rglob("*")]):
            info = archive.gettarinfo(str(path), arcname=str(path.relative_to(chart.parent)))
            info.uid = info.gid = 0
            info.uname = info.gname = ""
            info.mtime = int(PUBLISHED.timestamp())
            if path.is_file():
                with path.open("rb") as content:
                    archive.addfile(info, content)
            else:
                archive.addfile(info)
    return buffer.getvalue()


def build(charts_dir: Path = CHARTS_DIR) -> tuple[dict[str, bytes], dict[str, Any]]:
    """Every chart under charts_dir/<name>-<version>/<name>/: the archives by file name, and the index."""
    archives: dict[str, bytes] = {}
    entries: dict[str, list[dict[str, Any]]] = {}
    for chart_yaml in sorted(charts_dir.glob("*/*/Chart.yaml")):
        meta = yaml.safe_load(chart_yaml.read_text(encoding="utf-8"))
        filename = f"{meta['name']}-{meta['version']}.tgz"
        archives[filename] = package(chart_yaml.parent)
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

    def __init__(self, charts_dir: Path = CHARTS_DIR) -> None:
        archives, index = build(charts_dir)
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
