"""The SDKs a user gets from the component package build: `pulumi package gen-sdk` of package/ for
TypeScript and Python with the built CLI; the TypeScript SDK compiles with tsc against @pulumi/pulumi
from npm, the Python SDK imports and type-checks with mypy; and the example consumers
(examples/sdk-typescript, examples/sdk-python) compile against them, so a schema change that renames or
retypes an argument or output they use fails here.

The CLI delegates generation to the language host's GeneratePackage; tools.install_sdkgen_root()
puts pkg/v3's own generators behind that RPC (hack/tools/pulumi-sdkgen/go.mod says why). npm packages
come at the pins of tests/e2e/sdk/package-lock.json, installed once per lock into the cache.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from sandbox import tools

from .pulumi_cli import REPO_ROOT, VENV_PYTHON, base_env
from .test_composition import package_launcher

NPM_PINS = Path(__file__).resolve().parent / "sdk"
TS_CONSUMER = REPO_ROOT / "examples" / "sdk-typescript" / "index.ts"
PY_CONSUMER = REPO_ROOT / "examples" / "sdk-python" / "__main__.py"
TIMEOUT = 600


def _run(cmd: list[str], cwd: Path, env: dict[str, str] | None = None) -> str:
    """Run a build step; its output is the failure message."""
    done = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=TIMEOUT, check=False)
    assert done.returncode == 0, (
        f"{' '.join(cmd)} (exit {done.returncode}):\n{done.stdout[-6000:]}\n{done.stderr[-6000:]}"
    )
    return done.stdout


@pytest.fixture(scope="module")
def sdks(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if missing := tools.missing(["pulumi", tools.SDKGEN]):
        pytest.fail(f"missing {missing}: run `make e2e-tools`", pytrace=False)
    bin_dir = tools.install_sdkgen_root() / "bin"
    work = tmp_path_factory.mktemp("sdks")
    launcher = package_launcher(work / "plugin")
    env = {**base_env(), "PATH": os.pathsep.join([str(bin_dir), os.environ.get("PATH", "")])}
    for language in ("nodejs", "python"):
        _run(
            [str(bin_dir / "pulumi"), "package", "gen-sdk", str(launcher), "--language", language, "--out", "sdk"],
            work,
            env,
        )
    return work / "sdk"


@pytest.fixture(scope="module")
def node_modules() -> Path:
    """@pulumi/pulumi, typescript and @types/node at the locked versions, from the npm registry."""
    pins = [NPM_PINS / "package.json", NPM_PINS / "package-lock.json"]
    digest = hashlib.sha256(b"".join(path.read_bytes() for path in pins)).hexdigest()[:16]
    target = tools.cache_dir() / "npm" / digest
    if not (target / "node_modules" / ".bin" / "tsc").exists():
        partial = target.with_name(f"{digest}.partial")
        shutil.rmtree(partial, ignore_errors=True)
        partial.mkdir(parents=True)
        for path in pins:
            shutil.copy2(path, partial / path.name)
        _run(["npm", "ci", "--ignore-scripts", "--no-audit", "--no-fund"], partial)
        shutil.rmtree(target, ignore_errors=True)
        partial.replace(target)
    return target / "node_modules"


def _node_modules_with(directory: Path, installed: Path, sdk: Path) -> None:
    """directory/node_modules: the installed packages, and the generated SDK as @pulumi/ocm-hub."""
    modules = directory / "node_modules"
    (modules / "@pulumi").mkdir(parents=True)
    for entry in installed.iterdir():
        if entry.name != "@pulumi":
            (modules / entry.name).symlink_to(entry)
    for entry in (installed / "@pulumi").iterdir():
        (modules / "@pulumi" / entry.name).symlink_to(entry)
    (modules / "@pulumi" / "ocm-hub").symlink_to(sdk)


def test_typescript_sdk_compiles_and_the_example_compiles_against_it(
    sdks: Path, node_modules: Path, tmp_path: Path
) -> None:
    sdk, tsc = sdks / "nodejs", str(node_modules / ".bin" / "tsc")
    (sdk / "node_modules").symlink_to(node_modules)
    _run([tsc, "-p", "."], sdk)
    assert (sdk / "bin" / "ocmHub.d.ts").is_file()

    shutil.copy2(TS_CONSUMER, tmp_path / "index.ts")
    _node_modules_with(tmp_path, node_modules, sdk)
    options = ["--strict", "--noEmit", "--target", "es2020", "--module", "commonjs", "--moduleResolution", "node"]
    _run([tsc, *options, "--skipLibCheck", "--types", "node", "index.ts"], tmp_path)  # the SDK was checked above


def test_python_sdk_installs_imports_and_type_checks_with_the_example(sdks: Path, tmp_path: Path) -> None:
    site = tmp_path / "site"
    pip = [str(VENV_PYTHON), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--no-deps"]
    _run([*pip, "--target", str(site), str(sdks / "python")], tmp_path)
    env = {**os.environ, "PYTHONPATH": str(site), "MYPYPATH": str(site)}
    imported = _run([str(VENV_PYTHON), "-c", "import pulumi_ocm_hub as m; print(m.OcmHub.__name__)"], tmp_path, env)
    assert imported.strip() == "OcmHub"
    # _utilities.py is the generator's template, the same in every package; it has two errors of its own
    # (lift_output_func's decorator types). Everything generated from the schema must be clean.
    config = tmp_path / "mypy.ini"
    config.write_text("[mypy]\n[mypy-pulumi_ocm_hub._utilities]\nignore_errors = True\n", encoding="utf-8")
    mypy = [
        str(VENV_PYTHON),
        "-m",
        "mypy",
        "--config-file",
        str(config),
        "--no-incremental",
        "--python-version",
        "3.11",
    ]
    _run([*mypy, "-p", "pulumi_ocm_hub"], tmp_path, env)
    shutil.copy2(PY_CONSUMER, tmp_path / "consumer.py")
    _run([*mypy, "--strict", "consumer.py"], tmp_path, env)
