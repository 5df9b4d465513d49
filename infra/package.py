"""``make package STAGE=...``: the stage's one deployable template, Chalice's SAM output merged with ``infra/``.

1. refuses a stage whose ``.chalice/config.json`` lacks a setting a deployment needs (``StageConfig``);
2. writes the merge template (``infra.template.build_merge_template``) to ``build/infra-<stage>.json``;
3. runs ``chalice package --merge-template`` into ``build/<stage>/`` (``sam.json`` + ``deployment.zip``), with
   ``STAGE`` set so the app names the stage's queues;
4. names, on each resource, the checkov checks it is exempt from and why (``infra.exceptions``);
5. ships compiled bytecode in ``deployment.zip`` (:func:`compile_bytecode`): Lambda's disk is read-only, so a
   package of sources alone is compiled again on every cold start (issue 14: ``import app`` 1.21× ``import boto3``
   that way, against ~0.9× from bytecode);
6. builds the charting layer (:func:`build_layer`: ``requirements-report.txt``, matplotlib and numpy under it) for the
   functions' runtime and architecture, and attaches it to the weekly report's function alone
   (:func:`attach_charting_layer`): Chalice ships one ``deployment.zip`` for every function, and the charts would
   otherwise add ~170 MB unzipped (55 MB zipped) to each of them (issue 11).

Deploy the result with ``make deploy`` (``aws cloudformation package`` + ``deploy``), never ``chalice deploy``:
that would create the functions without their tables, queues, alarms and bucket.
"""

from __future__ import annotations

import argparse
import compileall
import hashlib
import json
import os
import py_compile
import shutil
import subprocess
import sys
import tempfile
import zipfile
from functools import lru_cache
from pathlib import Path
from typing import Any

from infra.exceptions import annotate
from infra.stage_config import StageConfig
from infra.template import build_merge_template, function_logical_ids

ROOT = Path(__file__).resolve().parents[1]


def package(stage: str, build: Path = ROOT / "build") -> Path:
    """Build ``build/<stage>/sam.json`` and return its path."""
    StageConfig.load(stage).check_deployable()
    build.mkdir(parents=True, exist_ok=True)
    merge = build / f"infra-{stage}.json"
    merge.write_text(json.dumps(build_merge_template(stage), indent=2) + "\n", encoding="utf-8")
    out = build / stage
    chalice = Path(sys.executable).parent / "chalice"
    env = packaging_environment(stage)
    done = subprocess.run(
        [str(chalice), "package", "--stage", stage, "--merge-template", str(merge), str(out)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        raise RuntimeError(f"chalice package --stage {stage} failed:\n{done.stdout}{done.stderr}")
    template_path = out / "sam.json"
    template = annotate(json.loads(template_path.read_text(encoding="utf-8")))
    template_path.write_text(json.dumps(template, indent=2) + "\n", encoding="utf-8")
    check_runtime_matches(template)
    compile_bytecode(out / "deployment.zip")
    report = template["Resources"][function_logical_ids()[REPORT_FUNCTION]]["Properties"]
    layer = build_layer(REPORT_REQUIREMENTS, report["Runtime"], report.get("Architectures", ["x86_64"])[0])
    shutil.copyfile(layer, out / CHARTING_LAYER_ZIP)
    attach_charting_layer(template, f"./{CHARTING_LAYER_ZIP}")
    template_path.write_text(json.dumps(template, indent=2) + "\n", encoding="utf-8")
    return template_path


LAMBDA_TASK_ROOT = "/var/task"  # where Lambda unpacks the zip: the paths tracebacks name


def check_runtime_matches(template: dict[str, Any]) -> None:
    """Bytecode is only read by the Python version that wrote it: the functions' runtime must be this one."""
    here = f"python{sys.version_info.major}.{sys.version_info.minor}"
    runtimes = {
        r["Properties"].get("Runtime")
        for r in template["Resources"].values()
        if r["Type"] == "AWS::Serverless::Function"
    }
    if runtimes - {here}:
        raise RuntimeError(
            f"the functions run {sorted(runtimes)} but the package is compiled by {here}: "
            "package with the runtime's Python"
        )


def compile_bytecode(archive: Path, unpacked_in: str = LAMBDA_TASK_ROOT) -> int:
    """Rewrite ``archive`` with an unchecked-hash ``.pyc`` beside every ``.py``; the number compiled.
    ``unpacked_in``: where Lambda unpacks it (``/var/task`` for the code, ``/opt`` for a layer).

    Unchecked-hash bytecode is used without looking at the source's timestamp or hash (the zip's times are
    all 1980), so a cold start reads it and compiles nothing; the package is immutable, so it cannot be stale.
    Any ``__pycache__`` Chalice copied from the working tree (timestamp-checked, maybe stale) is replaced. The
    zip stays reproducible: entries sorted, fixed times, the sources' own modes.
    """
    with tempfile.TemporaryDirectory(prefix="package-") as folder:
        root = Path(folder)
        with zipfile.ZipFile(archive) as source:
            kept = [
                info
                for info in source.infolist()
                if "__pycache__/" not in info.filename and not info.filename.endswith(".pyc")
            ]
            entries = {info.filename: (info, source.read(info)) for info in kept}
        for name, (info, data) in entries.items():
            if not info.is_dir():
                (root / name).parent.mkdir(parents=True, exist_ok=True)
                (root / name).write_bytes(data)
        # Some third-party files are not valid Python 3 (templates, tests): compileall skips them, as pip does.
        compileall.compile_dir(
            str(root),
            quiet=2,
            stripdir=str(root),
            prependdir=unpacked_in,
            invalidation_mode=py_compile.PycInvalidationMode.UNCHECKED_HASH,
            workers=1,
        )
        compiled = sorted(str(p.relative_to(root)) for p in root.rglob("*.pyc"))
        temporary = archive.with_suffix(".zip.tmp")
        with zipfile.ZipFile(temporary, "w", zipfile.ZIP_DEFLATED) as target:
            for name in sorted([*entries, *compiled]):
                if name in entries:
                    info, data = entries[name]
                else:
                    info, data = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0)), (root / name).read_bytes()
                    info.external_attr = 0o100644 << 16
                    info.compress_type = zipfile.ZIP_DEFLATED
                target.writestr(info, data)
        temporary.replace(archive)
    return len(compiled)


REPORT_FUNCTION = "weekly_report"  # the one function that draws charts (chalicelib/api/reports.py)
REPORT_REQUIREMENTS = ROOT / "requirements-report.txt"
CHARTING_LAYER = "ChartingLayer"  # the layer's logical id
CHARTING_LAYER_ZIP = "charting-layer.zip"  # beside deployment.zip in build/<stage>/
LAYER_CACHE = ROOT / "build" / "layers"  # one zip per requirements file, runtime and architecture
LAMBDA_LAYER_ROOT = "/opt"  # where Lambda unpacks a layer; its python/ folder is on sys.path
WHEEL_PLATFORMS = {"x86_64": "manylinux2014_x86_64", "arm64": "manylinux2014_aarch64"}  # glibc 2.17 <= AL2's 2.26


def build_layer(requirements: Path, runtime: str, architecture: str, cache: Path = LAYER_CACHE) -> Path:
    """The zip of a Lambda layer holding ``requirements`` under ``python/``, for ``runtime`` (``python3.11``) on
    ``architecture`` (``x86_64``/``arm64``): binary wheels only, for Lambda's platform rather than this machine's,
    with unchecked-hash bytecode (:func:`compile_bytecode`; a layer's disk is read-only too).

    Built once per content of ``requirements``, runtime and architecture, and kept in ``cache``: packaging again
    (``make package``, ``make lint-infra``, the tests: dev and prod) reuses it without downloading anything. The zip's
    layout is reproducible (sorted entries, fixed times, files' modes; a fresh build may still differ in a .pyc
    or two, as marshal flags shared objects by reference count), and it is moved into place whole, so a concurrent
    build sees it or not.
    """
    python_version = runtime.removeprefix("python")
    platform = WHEEL_PLATFORMS[architecture]
    layer = layer_cache_path(requirements, runtime, architecture, cache)
    if layer.exists():
        return layer
    cache.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="layer-", dir=cache) as folder:
        root = Path(folder)
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "pip",
                "install",
                "--quiet",
                "--disable-pip-version-check",
                "--no-compile",
                "--platform",
                platform,
                "--implementation",
                "cp",
                "--python-version",
                python_version,
                "--only-binary=:all:",
                "-r",
                str(requirements),
                "--target",
                str(root / "python"),
            ],
            capture_output=True,
            text=True,
        )
        if done.returncode != 0:
            raise RuntimeError(
                f"the layer of {requirements.name} for {runtime}/{architecture} failed to install:\n"
                f"{done.stdout}{done.stderr}"
            )
        archive = root / "layer.zip"
        _zip_folder(root / "python", archive)
        compile_bytecode(archive, unpacked_in=LAMBDA_LAYER_ROOT)
        archive.replace(layer)
    return layer


def layer_cache_path(requirements: Path, runtime: str, architecture: str, cache: Path = LAYER_CACHE) -> Path:
    """Where :func:`build_layer` keeps the layer of ``requirements`` as it reads now, for that runtime and machine."""
    key = hashlib.sha256(f"{requirements.read_text()}\n{runtime} {WHEEL_PLATFORMS[architecture]}".encode())
    return cache / f"{requirements.stem}-{runtime}-{architecture}-{key.hexdigest()[:16]}.zip"


def _zip_folder(folder: Path, archive: Path) -> None:
    """``folder`` zipped under its own name, entries sorted, times fixed, files' modes kept (shared libraries)."""
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as target:
        for path in sorted(p for p in folder.rglob("*") if p.is_file()):
            info = zipfile.ZipInfo(str(path.relative_to(folder.parent)), date_time=(1980, 1, 1, 0, 0, 0))
            info.external_attr = (0o100755 if path.stat().st_mode & 0o111 else 0o100644) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            target.writestr(info, path.read_bytes())


def attach_charting_layer(template: dict[str, Any], content_uri: str) -> None:
    """Add the charting layer (zip at ``content_uri``) to ``template`` and to the report's function, only there."""
    function = template["Resources"][function_logical_ids()[REPORT_FUNCTION]]["Properties"]
    template["Resources"][CHARTING_LAYER] = {
        "Type": "AWS::Serverless::LayerVersion",
        "Properties": {
            "Description": "matplotlib and its dependencies (requirements-report.txt): the weekly report's charts",
            "ContentUri": content_uri,
            "CompatibleRuntimes": [function["Runtime"]],
            "CompatibleArchitectures": function.get("Architectures", ["x86_64"]),
            "RetentionPolicy": "Delete",
        },
    }
    function["Layers"] = [*function.get("Layers", []), {"Ref": CHARTING_LAYER}]


DEPLOYMENT_ZIP = "./deployment.zip"


def write_template_only(stage: str, out: Path) -> Path:
    """The same SAM template as :func:`package`, without building the code's zip (no pip, no network): Chalice's
    packager with its deployment-package step replaced by the name the real one gives the zip. Run in a process
    whose ``STAGE`` is ``stage`` (the app names its queues for the stage it is imported in): see :func:`sam_template`.
    """
    from chalice.cli.factory import CLIFactory
    from chalice.deploy.deployer import BaseDeployStep, DeploymentPackager
    from chalice.deploy.models import DeploymentPackage, Placeholder

    class NamedZip(BaseDeployStep):
        def handle_deploymentpackage(self, config, resource: DeploymentPackage) -> None:
            if isinstance(resource.filename, Placeholder):
                resource.filename = DEPLOYMENT_ZIP

    out.mkdir(parents=True, exist_ok=True)
    merge = out / f"infra-{stage}.json"
    merge.write_text(json.dumps(build_merge_template(stage)), encoding="utf-8")
    factory = CLIFactory(project_dir=str(ROOT), environ=dict(os.environ))
    config = factory.create_config_obj(chalice_stage_name=stage)
    packager = factory.create_app_packager(
        config, factory.create_package_options(), "cloudformation", "json", str(merge)
    )
    steps = packager._resource_builder._build_stage._steps  # noqa: SLF001 - Chalice has no option for this
    steps[:] = [NamedZip() if isinstance(step, DeploymentPackager) else step for step in steps]
    post = packager._template_post_processor._processors  # noqa: SLF001 - drop only the zip's copying
    post[:] = [p for p in post if type(p).__name__ != "SAMCodeLocationPostProcessor"]
    packager.package_app(config, str(out), stage)
    path = out / "sam.json"
    path.write_text(
        json.dumps(annotate(json.loads(path.read_text(encoding="utf-8"))), indent=2) + "\n", encoding="utf-8"
    )
    return path


@lru_cache(maxsize=8)
def _sam_template_text(stage: str, time_scale: float | None) -> str:
    env = packaging_environment(stage)
    if time_scale is not None:
        env["PROTOCOL_TIME_SCALE"] = str(time_scale)
    with tempfile.TemporaryDirectory(prefix=f"sam-{stage}-") as folder:
        done = subprocess.run(
            [sys.executable, "-m", "infra.package", "--stage", stage, "--template-only", "--build", folder],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        if done.returncode != 0:
            raise RuntimeError(f"packaging the {stage} template failed:\n{done.stdout}{done.stderr}")
        return (Path(folder) / stage / "sam.json").read_text(encoding="utf-8")


def sam_template(stage: str, time_scale: float | None = None) -> dict[str, Any]:
    """The stage's packaged SAM template, as ``make package`` writes it (the code's zip aside); made once per
    process (a few seconds) in a child process whose ``STAGE`` is ``stage``. ``time_scale``: seconds per plan minute
    in the state machines (tests shorten it)."""
    return json.loads(_sam_template_text(stage, time_scale))


def packaging_environment(stage: str) -> dict[str, str]:
    """What ``chalice package`` imports the app with: the stage's own variables, and a stand-in for each one the
    template gives the functions (their values exist only once CloudFormation has created the resources; the
    template replaces what the app derives from them), so the app's cold-start check passes while packaging."""
    from infra.template import FUNCTION_ENVIRONMENT

    region = os.environ.get("AWS_DEFAULT_REGION", "us-east-1")
    stand_ins = {
        name: f"arn:aws:packaging:{region}:000000000000:{name.lower()}/stand-in" for name in FUNCTION_ENVIRONMENT
    }
    return {
        **os.environ,
        **stand_ins,
        **StageConfig.load(stage).environment,
        "STAGE": stage,
        "AWS_DEFAULT_REGION": region,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--stage", default="dev")
    parser.add_argument("--build", default=str(ROOT / "build"), help="output folder (default: build/)")
    parser.add_argument(
        "--template-only",
        action="store_true",
        help="write build/<stage>/sam.json without the code's zip (any stage, local ones too)",
    )
    args = parser.parse_args()
    if args.template_only:
        path = write_template_only(args.stage, Path(args.build) / args.stage)
    else:
        path = package(args.stage, Path(args.build))
    print(f"wrote {path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}")


if __name__ == "__main__":
    main()
