"""`make bench`: what ocm-hub costs as the fleet grows. Prints a table, writes bench/results/bench.json.

Each program evaluation runs in its own process (peak RSS is its own) three times; the median is
reported. The bare program registers the same resource types and count with no logic, in the same
run, so the ratio shows what our code adds over the SDK's own cost.
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench import provider

PROJECT_DIR = Path(__file__).resolve().parent.parent
RESULTS = PROJECT_DIR / "bench" / "results" / "bench.json"
SIZES = (1, 10, 100, 1000)
RUNS = 3
TARGETS = {"wall_s_1000": 3.0, "peak_rss_mib_1000": 400.0, "ratio_max": 1.2}


def _python(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, *args],
        cwd=PROJECT_DIR,
        capture_output=True,
        text=True,
        timeout=600,
        check=True,
        env={**os.environ, **(env or {})},
    )


def _evaluate(clusters: int, program: str, pki: Path, kinds: str = "[]") -> dict[str, Any]:
    runs = [
        json.loads(
            _python(
                "-m",
                "bench.evaluate",
                "--clusters",
                str(clusters),
                "--program",
                program,
                "--pki",
                str(pki),
                "--kinds",
                kinds,
            )
            .stdout.strip()
            .splitlines()[-1]
        )
        for _ in range(RUNS)
    ]
    median = statistics.median(r["wall_s"] for r in runs)
    return {**min(runs, key=lambda r: abs(r["wall_s"] - median)), "wall_s": median}


def programs(pki: Path) -> list[dict[str, Any]]:
    rows = []
    for clusters in SIZES:
        real = _evaluate(clusters, "real", pki)
        bare = _evaluate(clusters, "bare", pki, json.dumps(real["types"]))
        rows.append(
            {
                "clusters": clusters,
                "resources": real["resources"],
                "wall_s": real["wall_s"],
                "peak_rss_mib": real["peak_rss_mib"],
                "bare_wall_s": bare["wall_s"],
                "bare_resources": bare["resources"],
                "ratio": round(real["wall_s"] / bare["wall_s"], 2),
            }
        )
    return rows


def imports() -> dict[str, float]:
    """SDK imports apart from ours: what `pulumi up` pays before the program's first line runs."""
    script = (
        "import time; t0 = time.perf_counter(); import pulumi, pulumi_kubernetes; t1 = time.perf_counter(); "
        "import config, components, providers.managed_cluster; t2 = time.perf_counter(); "
        "print(t1 - t0, t2 - t1)"
    )
    pairs = [tuple(map(float, _python("-c", script).stdout.split())) for _ in range(RUNS)]
    provider_start = [
        float(
            _python(
                "-c",
                "import time; t = time.perf_counter(); import providers.managed_cluster; print(time.perf_counter() - t)",
            ).stdout
        )
        for _ in range(RUNS)
    ]
    return {
        "sdk_imports_s": round(statistics.median(p[0] for p in pairs), 3),
        "own_modules_s": round(statistics.median(p[1] for p in pairs), 3),
        "provider_module_s": round(statistics.median(provider_start), 3),
    }


def renders(workdir: Path) -> dict[str, float]:
    big = workdir / "Pulumi.fleet1000.yaml"
    clusters = [{"name": f"cluster-{i:05d}"} for i in range(1000)]
    big.write_text(json.dumps({"config": {"ocm-hub:registration": {"clusters": clusters}}}))
    timings: dict[str, float] = {}
    for label, args in (("render_dev_s", ["--stack", "dev"]), ("render_1000_clusters_s", ["--config", str(big)])):
        samples = []
        for _ in range(RUNS):
            start = time.perf_counter()
            _python("-m", "render", *args)
            samples.append(time.perf_counter() - start)
        timings[label] = round(statistics.median(samples), 3)
    return timings


def main() -> int:
    with tempfile.TemporaryDirectory() as directory:
        workdir = Path(directory)
        started = time.perf_counter()
        result: dict[str, Any] = {
            "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}",
            "programs": programs(workdir / "pki"),
            "imports": imports(),
            "render": renders(workdir),
            "provider": provider.run(workdir),
            "targets": TARGETS,
        }
        result["bench_s"] = round(time.perf_counter() - started, 1)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    print(table(result))
    print(f"\n(written to {RESULTS.relative_to(PROJECT_DIR)})")
    return 0


def table(result: dict[str, Any]) -> str:
    lines = [
        f"machine: {result['machine']}",
        "",
        "program evaluation under the recording mocks (median of 3; all addons on)",
    ]
    lines.append("| clusters | resources | wall s | peak RSS MiB | bare wall s | ratio |")
    lines.append("|---:|---:|---:|---:|---:|---:|")
    for row in result["programs"]:
        lines.append(
            f"| {row['clusters']} | {row['resources']} | {row['wall_s']:.2f} | {row['peak_rss_mib']:.0f} | "
            f"{row['bare_wall_s']:.2f} | {row['ratio']:.2f} |"
        )
    imports, render, prov = result["imports"], result["render"], result["provider"]
    lines += [
        "",
        f"imports: pulumi + pulumi_kubernetes {imports['sdk_imports_s']:.2f} s, ocm-hub's own modules "
        f"{imports['own_modules_s']:.2f} s, provider module alone {imports['provider_module_s']:.2f} s",
        f"render: dev stack {render['render_dev_s']:.2f} s, 1000-cluster stack {render['render_1000_clusters_s']:.2f} s",
        "",
        "dynamic provider through `python -m pulumi.dynamic` (fake API servers, fake agent)",
        f"- process start to first answer: {prov['start_to_first_answer_s']:.2f} s",
        f"- Diff: {prov['diff_ms_per_call']:.1f} ms per call, {prov['diff_api_calls']} API calls",
        f"- Read: {prov['read_ms_per_call']:.1f} ms per call",
        f"- Create: {prov['create_s_per_cluster_median']:.2f} s per cluster (median), "
        f"{prov['create_api_calls_per_cluster']:.1f} API calls (minimum for a join: {prov['min_api_calls_per_join']})",
        f"- {prov['parallel_creates']} creates in parallel: {prov['parallel_total_s']:.1f} s in all, "
        f"{prov['parallel_api_calls_per_cluster']:.1f} API calls per cluster",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
