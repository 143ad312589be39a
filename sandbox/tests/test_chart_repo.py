"""The local chart repository: each addon's chart packaged from the module its binaries are built from,
the same bytes every time, served as a Helm repository serves it."""

from __future__ import annotations

import hashlib
import io
import re
import tarfile
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest
import yaml

from config.addons import CHARTS
from sandbox import chart_repo, tools
from sandbox.chart_repo import MODULE_CHARTS, ModuleChart

Built = tuple[dict[str, bytes], dict[str, Any]]
PROVENANCE = Path(chart_repo.__file__).resolve().parents[1] / "hack" / "charts" / "PROVENANCE.md"


def _members(archive: bytes) -> dict[str, bytes]:
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        return {m.name: tar.extractfile(m).read() for m in tar.getmembers() if m.isfile()}  # type: ignore[union-attr]


@pytest.fixture(scope="module")
def built() -> Built:
    return chart_repo.build()


def test_every_addon_is_served_once_at_the_version_its_module_says(built: Built) -> None:
    archives, index = built
    assert set(MODULE_CHARTS) == set(CHARTS), "every addon ocm-hub installs has a chart here"
    versions = chart_repo.served_versions()
    assert versions == {"clusterProxy": "0.10.0", "managedServiceAccount": "0.10.0", "clusterGateway": "0.1.0"}
    assert set(archives) == {f"{CHARTS[key].chart}-{version}.tgz" for key, version in versions.items()}
    assert {name: [e["version"] for e in entries] for name, entries in index["entries"].items()} == {
        CHARTS[key].chart: [version] for key, version in versions.items()
    }


@pytest.mark.parametrize("key", sorted(MODULE_CHARTS))
def test_a_package_holds_exactly_the_module_folder_under_the_chart_name(key: str, built: Built) -> None:
    archives, _ = built
    chart = MODULE_CHARTS[key]
    folder = chart.directory()
    module = chart.module()
    assert folder.parent.parent.name == f"{module.module.rsplit('/', 1)[-1]}@{module.version()}", (
        "the chart comes from the module version the wrapper pins"
    )
    name, version = CHARTS[key].chart, chart_repo.served_versions()[key]
    members = _members(archives[f"{name}-{version}.tgz"])
    assert members == {
        f"{name}/{p.relative_to(folder).as_posix()}": p.read_bytes() for p in folder.rglob("*") if p.is_file()
    }
    assert {f"{name}/values.yaml", f"{name}/Chart.yaml"} <= set(members)


@pytest.mark.parametrize("key", sorted(MODULE_CHARTS))
def test_each_index_entry_names_its_module_folder_and_go_sum_hash(key: str, built: Built) -> None:
    archives, index = built
    chart = MODULE_CHARTS[key]
    (entry,) = index["entries"][CHARTS[key].chart]
    module = chart.module()
    go_sum = (module.wrapper_dir / "go.sum").read_text(encoding="utf-8").splitlines()
    assert f"{module.module} {module.version()} {entry['annotations'][chart_repo.SUM_ANNOTATION]}" in go_sum
    assert entry["annotations"][chart_repo.SOURCE_ANNOTATION] == f"{module.module}@{module.version()} {chart.folder}"
    assert entry["digest"] == hashlib.sha256(archives[entry["urls"][0]]).hexdigest()


def test_provenance_names_each_module_folder_and_chart_version() -> None:
    text = PROVENANCE.read_text(encoding="utf-8")
    for key, chart in MODULE_CHARTS.items():
        module = chart.module()
        row = f"| `{CHARTS[key].chart}` {chart_repo.served_versions()[key]} | `{module.module}@{module.version()}` `{chart.folder}` |"
        assert row in text, f"{PROVENANCE.name} lacks: {row}"
        assert f"`hack/tools/{module.wrapper}/go.{{mod,sum}}`" in text


def test_nothing_of_a_chart_is_committed_beside_its_provenance() -> None:
    assert [p.name for p in PROVENANCE.parent.iterdir()] == [PROVENANCE.name]


def test_archives_and_index_are_the_same_bytes_every_build(built: Built) -> None:
    assert chart_repo.build() == built


def test_a_folder_whose_chart_is_not_the_addons_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = tmp_path / "charts" / "other"
    folder.mkdir(parents=True)
    (folder / "Chart.yaml").write_text("name: other\nversion: 1.0.0\n")
    monkeypatch.setattr(ModuleChart, "directory", lambda self: folder)
    with pytest.raises(ValueError, match=r"chart 'other', where addon clusterProxy installs 'cluster-proxy'"):
        chart_repo.build({"clusterProxy": MODULE_CHARTS["clusterProxy"]})


def test_a_chart_yaml_without_a_version_is_refused(tmp_path: Path) -> None:
    (tmp_path / "Chart.yaml").write_text("name: cluster-proxy\n")
    with pytest.raises(ValueError, match=r"Chart.yaml: not a chart's metadata"):
        chart_repo.metadata(tmp_path)


def test_a_wrapper_whose_go_sum_lacks_the_module_is_an_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    wrapper = tmp_path / "cluster-proxy"
    wrapper.mkdir()
    gomod = (tools.TOOLS_DIR / "cluster-proxy" / "go.mod").read_text(encoding="utf-8")
    (wrapper / "go.mod").write_text(gomod)
    (wrapper / "go.sum").write_text("")
    monkeypatch.setattr(tools, "TOOLS_DIR", tmp_path)
    with pytest.raises(ValueError, match=re.escape("has no hash of open-cluster-management.io/cluster-proxy v0.10.0")):
        MODULE_CHARTS["clusterProxy"].go_sum()


def test_package_is_a_helm_archive_of_the_given_files() -> None:
    files = {"demo/Chart.yaml": b"name: demo\nversion: 1.0.0\n", "demo/templates/a.yaml": b"kind: A\n"}
    archive = chart_repo.package(files)
    assert archive == chart_repo.package(dict(reversed(files.items())))
    assert _members(archive) == files
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        assert {(m.uid, m.gid, m.mtime, m.mode) for m in tar.getmembers()} == {
            (0, 0, int(chart_repo.PUBLISHED.timestamp()), 0o644)
        }


def test_the_repository_serves_its_index_and_archives_on_loopback(built: Built) -> None:
    repo = chart_repo.ChartRepo()
    try:
        assert repo.url.startswith("http://127.0.0.1:")
        archives, index = built
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


def test_the_repository_keeps_its_port_when_started_again() -> None:
    """The kubelet starts again for another cluster: the stacks' chart URL stays, or a free port when taken."""
    first = chart_repo.ChartRepo({})
    port = int(first.url.rsplit(":", 1)[1])
    taken = chart_repo.ChartRepo({}, port=port)
    try:
        assert taken.url != first.url
    finally:
        taken.close()
        first.close()
    again = chart_repo.ChartRepo({}, port=port)
    try:
        assert again.url == first.url
    finally:
        again.close()
