"""The local chart repository: each vendored chart packaged with the product's values.yaml (stored once),
the same bytes every time, served as a Helm repository serves it."""

from __future__ import annotations

import hashlib
import io
import shutil
import tarfile
import urllib.error
import urllib.request
from pathlib import Path

import pytest
import yaml

from config.addons import CHARTS
from sandbox import chart_repo

SHARED_HELM_REPO = Path(__file__).resolve().parents[3] / "shared" / "ocm" / "helm-repo"


def _members(archive: bytes) -> dict[str, bytes]:
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        return {m.name: tar.extractfile(m).read() for m in tar.getmembers() if m.isfile()}  # type: ignore[union-attr]


def test_every_addon_chart_is_served_at_its_default_version() -> None:
    archives, index = chart_repo.build()
    wanted = {f"{chart.chart}-{chart.default_version}.tgz" for chart in CHARTS.values()}
    assert set(archives) == wanted
    assert {name: [e["version"] for e in entries] for name, entries in index["entries"].items()} == {
        chart.chart: [chart.default_version] for chart in CHARTS.values()
    }


def test_archives_and_index_are_the_same_bytes_every_build() -> None:
    first, second = chart_repo.build(), chart_repo.build()
    assert first == second
    archives, index = first
    for entries in index["entries"].values():
        (entry,) = entries
        assert entry["digest"] == hashlib.sha256(archives[entry["urls"][0]]).hexdigest()


@pytest.mark.parametrize("key", sorted(CHARTS))
def test_a_package_holds_the_product_values_and_exactly_the_published_files(key: str) -> None:
    chart = CHARTS[key]
    archives, _ = chart_repo.build()
    members = _members(archives[f"{chart.chart}-{chart.default_version}.tgz"])
    assert members[f"{chart.chart}/values.yaml"] == chart.values_file.read_bytes()
    published = SHARED_HELM_REPO / f"{chart.chart}-{chart.default_version}"
    assert members == {p.relative_to(published).as_posix(): p.read_bytes() for p in published.rglob("*") if p.is_file()}


def test_values_yaml_is_stored_once() -> None:
    assert not list(chart_repo.CHARTS_DIR.glob("*/*/values.yaml")), "config/charts/ holds each chart's values.yaml"


def _vendored_copy(tmp_path: Path) -> Path:
    charts = tmp_path / "charts"
    source = chart_repo.CHARTS_DIR / "managed-serviceaccount-0.10.0"
    shutil.copytree(source, charts / source.name)
    return charts / source.name / "managed-serviceaccount"


def test_a_second_values_yaml_beside_the_chart_is_refused(tmp_path: Path) -> None:
    chart = _vendored_copy(tmp_path)
    (chart / "values.yaml").write_text("replicas: 2\n")
    with pytest.raises(ValueError, match=r"managed-serviceaccount/values.yaml: .* stored in .*config/charts only"):
        chart_repo.build(chart.parents[1])


def test_a_chart_without_its_values_file_names_the_file_it_needs(tmp_path: Path) -> None:
    chart = _vendored_copy(tmp_path)
    with pytest.raises(ValueError, match=r"no values file .*managed-serviceaccount-0.10.0.values.yaml"):
        chart_repo.build(chart.parents[1], tmp_path / "no-values")


def test_package_is_a_helm_archive_of_the_given_files() -> None:
    files = {"demo/Chart.yaml": b"name: demo\nversion: 1.0.0\n", "demo/templates/a.yaml": b"kind: A\n"}
    archive = chart_repo.package(files)
    assert archive == chart_repo.package(dict(reversed(files.items())))
    assert _members(archive) == files
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        assert {(m.uid, m.gid, m.mtime, m.mode) for m in tar.getmembers()} == {
            (0, 0, int(chart_repo.PUBLISHED.timestamp()), 0o644)
        }


def test_the_repository_serves_its_index_and_archives_on_loopback() -> None:
    repo = chart_repo.ChartRepo()
    try:
        assert repo.url.startswith("http://127.0.0.1:")
        archives, index = chart_repo.build()
        with urllib.request.urlopen(f"{repo.url}/index.yaml", timeout=10) as response:
            assert yaml.safe_load(response.read()) == index
        name = sorted(archives)[0]
        with urllib.request.urlopen(f"{repo.url}/{name}", timeout=10) as response:
            assert response.read() == archives[name]
        with pytest.raises(urllib.error.HTTPError) as missing:
            urllib.request.urlopen(f"{repo.url}/nothing-1.0.0.tgz", timeout=10)
        assert missing.value.code == 404
    finally:
        repo.close()
