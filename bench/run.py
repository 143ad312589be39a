"""`make bench`: what ocm-hub costs as the fleet grows. Prints a table, writes bench/results/bench.json.

Each program evaluation runs in its own process (peak RSS is its own) three times; the median is
reported. The bare program registers the same resource types and count with no logic, in the same
run, so the ratio shows what our code adds over the SDK's own cost. With the Pulumi CLI built
(sandbox/tools.py), the registration also runs under the real engine (bench/engine.py).
"""

from __future__ import annotations

import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench import engine, provider

PROJECT_DIR = Path(__file__).resolve().parent.parent
RESULTS = PROJECT_DIR / "bench" / "results" / "bench.json"
SIZES = (1, 10, 100, 1000)
RUNS = 3
TARGETS = {
    "wall_s_1000": 3.0,
    "peak_rss_mib_1000": 200.0,
    "ratio_max": 1.2,
    "render_ratio_max": 1.2,
    "up_100_to_1_max": 3.0,
    "preview_ratio_max": 1.3,
}


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


def imports() -> dict[str, Any]:
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
    render_check = (
        "import contextlib, io, sys; from render.__main__ import main\n"
        "with contextlib.redirect_stdout(io.StringIO()): main(['--stack', 'dev'])\n"
        "print('kubernetes' in sys.modules)"
    )
    return {
        "render_imports_kubernetes_client": _python("-c", render_check).stdout.strip() == "True",
        "sdk_imports_s": round(statistics.median(p[0] for p in pairs), 3),
        "own_modules_s": round(statistics.median(p[1] for p in pairs), 3),
        "provider_module_s": round(statistics.median(provider_start), 3),
    }


def _timed(*args: str) -> tuple[float, float]:
    """Wall and CPU seconds (user + system) of one `python ARGS` run."""
    before, started = resource.getrusage(resource.RUSAGE_CHILDREN), time.perf_counter()
    _python(*args)
    wall, after = time.perf_counter() - started, resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime


def renders(workdir: Path) -> dict[str, float]:
    """`make render` of the dev stack beside its floor (bench/render_bare.py: the same objects, no logic), and of a
    1,000-cluster stack; taken in turn, RUNS times, medians (both include interpreter start)."""
    big = workdir / "Pulumi.fleet1000.yaml"
    clusters = [{"name": f"cluster-{i:05d}"} for i in range(1000)]
    big.write_text(json.dumps({"config": {"ocm-hub:registration": {"clusters": clusters}}}))
    objects = workdir / "dev-objects.json"
    _python("-m", "bench.render_bare", "--dump", "dev", str(objects))
    commands = {
        "render_dev": ("-m", "render", "--stack", "dev"),
        "bare_dev": ("-m", "bench.render_bare", str(objects)),
        "render_1000_clusters": ("-m", "render", "--config", str(big)),
    }
    samples: dict[str, list[tuple[float, float]]] = {label: [] for label in commands}
    for _ in range(RUNS):
        for label, args in commands.items():
            samples[label].append(_timed(*args))
    timings: dict[str, float] = {}
    for label, runs in samples.items():
        timings[f"{label}_s"] = round(statistics.median(wall for wall, _ in runs), 3)
        timings[f"{label}_cpu_s"] = round(statistics.median(cpu for _, cpu in runs), 3)
    timings["render_dev_ratio"] = round(timings["render_dev_s"] / timings["bare_dev_s"], 2)
    timings["render_dev_cpu_ratio"] = round(timings["render_dev_cpu_s"] / timings["bare_dev_cpu_s"], 2)
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
            "engine": engine.run(workdir) if engine.available() else None,
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
        f"{imports['own_modules_s']:.2f} s, provider module alone {imports['provider_module_s']:.2f} s; make render "
        f"{'imports' if imports['render_imports_kubernetes_client'] else 'never imports'} the Kubernetes client",
        f"render: dev stack {render['render_dev_s']:.2f} s, a bare program printing the same objects "
        f"{render['bare_dev_s']:.2f} s (ratio {render['render_dev_ratio']:.2f}; CPU {render['render_dev_cpu_s']:.2f} s "
        f"against {render['bare_dev_cpu_s']:.2f} s, ratio {render['render_dev_cpu_ratio']:.2f}); 1000-cluster stack "
        f"{render['render_1000_clusters_s']:.2f} s",
        "",
        "dynamic provider through `python -m pulumi.dynamic` (fake API servers, fake agent)",
        f"- process start to first answer: {prov['start_to_first_answer_s']:.2f} s",
        f"- Diff: {prov['diff_ms_per_call']:.1f} ms per call, {prov['diff_api_calls']} API calls",
        "- imported by the time Check and Diff answered: "
        + ", ".join(
            f"{name} {seconds:.2f} s" if seconds else f"{name} not imported"
            for name, seconds in prov["check_diff_imports_s"].items()
        ),
        f"- Read: {prov['read_ms_per_call']:.1f} ms per call",
        f"- Create: {prov['create_s_per_cluster_median']:.2f} s per cluster (median), "
        f"{prov['create_api_calls_per_cluster']:.1f} API calls (minimum for a join: {prov['min_api_calls_per_join']})",
        f"- {prov['parallel_creates']} creates in parallel: {prov['parallel_total_s']:.1f} s in all "
        f"({prov['parallel_speedup']:.1f} times one at a time), {prov['parallel_api_calls_per_cluster']:.1f} API calls "
        f"per cluster; the hub's rate limit alone takes {prov['rate_limit_floor_s']:.1f} s for its "
        f"{prov['parallel_hub_calls']} calls",
    ]
    return "\n".join(lines + _engine_lines(result["engine"]))


def _engine_lines(eng: dict[str, Any] | None) -> list[str]:
    if eng is None:
        return ["", "real engine: skipped (the Pulumi CLI is not built: make e2e-tools)"]
    lines = [
        "",
        f"`pulumi up` under the real engine ({eng['cli']}; --parallel {eng['parallel']}, maxConcurrentJoins "
        f"{eng['parallel']}), fake agents taking {eng['join_seconds']:.0f} s to join",
        "| clusters | wall s | ratio to 1 | joins at once (peak) | API calls per cluster | to the hub |",
        "|---:|---:|---:|---:|---:|---:|",
    ]
    one = eng["up"][0]["wall_s"]
    for row in eng["up"]:
        lines.append(
            f"| {row['clusters']} | {row['wall_s']:.1f} | {row['wall_s'] / one:.2f} | {row['peak_joins_at_once']} | "
            f"{row['api_calls_per_cluster']:.1f} | {row['hub_calls_per_cluster']:.1f} |"
        )
    pre = eng["preview"]
    lines += [
        "",
        f"`pulumi preview` of {pre['clusters']} registrations in state (Check and Diff of each; median of "
        f"{pre['runs']}): {pre['wall_s']:.2f} s; bare program {pre['bare_wall_s']:.2f} s (ratio {pre['ratio']:.2f}); "
        f"bare program with our inputs {pre['bare_same_inputs_wall_s']:.2f} s (ratio {pre['ratio_same_inputs']:.2f}); "
        f"API calls {pre['api_calls']}",
    ]
    return lines


if __name__ == "__main__":
    sys.exit(main())
