"""``make package`` for dev and prod passes cfn-lint (with the serverless rules) and checkov, and the packaged
template carries each stage's own settings (``infra/check.py``, the same run as ``make lint-infra``); the charting
layer goes to the weekly report's function alone. The layer is built once per content of requirements-report.txt and
kept in build/layers/: ~60 s on a clean clone (an 11 s download, the rest zipping and compiling), 0 s after."""

from __future__ import annotations

import json

import pytest

from infra.check import STAGES, check_stage
from infra.stage_config import StageConfig


@pytest.fixture(scope="module")
def build(tmp_path_factory):
    return tmp_path_factory.mktemp("build")


@pytest.fixture(scope="module")
def packaged(build):
    return {
        stage: (check_stage(stage, build), json.loads((build / stage / "sam.json").read_text())) for stage in STAGES
    }


@pytest.mark.parametrize("stage", STAGES)
def test_packaged_template_passes_cfn_lint_and_checkov_with_every_exception_named(packaged, stage):
    findings, _ = packaged[stage]
    assert findings.cfn_lint == [], "\n".join(findings.cfn_lint)
    assert findings.checkov_failed == [], "\n".join(findings.checkov_failed)
    assert findings.checkov_passed > 100
    assert findings.checkov_skipped and all(" -- " in skip for skip in findings.checkov_skipped)  # with a reason


@pytest.mark.parametrize("stage", STAGES)
def test_packaged_functions_trace_keep_logs_and_carry_the_stage_s_settings(packaged, stage):
    _, template = packaged[stage]
    config = StageConfig.load(stage)
    functions = {
        k: v["Properties"] for k, v in template["Resources"].items() if v["Type"] == "AWS::Serverless::Function"
    }
    assert len(functions) >= 8
    for name, function in functions.items():
        assert function["Tracing"] == "Active", name
        variables = function["Environment"]["Variables"]
        assert variables["PUBLIC_BASE_URL"] == config.public_base_url, name
        assert variables["APPROVALS_FROM_EMAIL"] == config.sender_email, name
        assert variables["REPORT_BUCKET"] == {"Ref": "ReportBucket"}
        assert function["Tags"]["stage"] == stage
    log_groups = [v["Properties"] for v in template["Resources"].values() if v["Type"] == "AWS::Logs::LogGroup"]
    assert log_groups and all(g["RetentionInDays"] == config.log_retention_days for g in log_groups)
    # every function's log group names a function of the template (Chalice 1.34 misnames the API's)
    for group in log_groups:
        if "LogGroupName" in group:
            assert group["LogGroupName"]["Fn::Sub"].removeprefix("/aws/lambda/${").rstrip("}") in functions


def _zip_with(entries: dict[str, bytes], path):
    import zipfile

    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in entries.items():
            info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
            info.external_attr = 0o100755 << 16 if name.endswith(".sh") else 0o100644 << 16
            archive.writestr(info, data)
    return path


def test_the_package_ships_unchecked_hash_bytecode_for_every_module_and_drops_the_working_tree_s(tmp_path):
    import importlib.util
    import zipfile

    from infra.package import compile_bytecode

    tag = importlib.util.cache_from_source("m.py").split("/")[-1]  # m.cpython-3XX.pyc
    archive = _zip_with(
        {
            "app.py": b"X = 1\n",
            "pkg/__init__.py": b"",
            "pkg/mod.py": b"def f():\n    return 2\n",
            "pkg/__pycache__/mod.cpython-311.pyc": b"stale",
            "pkg/model.bin": b"\x00\x01",
            "pkg/run.sh": b"#!/bin/sh\n",
            "pkg/py2_only.py": b"print 'old'\n",
        },
        tmp_path / "d.zip",
    )
    assert compile_bytecode(archive) == 3
    with zipfile.ZipFile(archive) as opened:
        names = opened.namelist()
        assert names == sorted(names)
        expected = {
            "__pycache__/" + tag.replace("m.", "app."),
            "pkg/__pycache__/" + tag.replace("m.", "__init__."),
            "pkg/__pycache__/" + tag.replace("m.", "mod."),
        }
        assert {n for n in names if n.endswith(".pyc")} == expected  # the stale one is gone, py2 skipped
        for name in expected:
            flags = int.from_bytes(opened.read(name)[4:8], "little")
            assert flags == 0b01, name  # hash-based (bit 0), check_source off (bit 1): never stat'ed or re-hashed
        assert opened.read("pkg/model.bin") == b"\x00\x01"
        assert opened.getinfo("pkg/run.sh").external_attr >> 16 == 0o100755  # modes kept
        code = opened.read("pkg/__pycache__/" + tag.replace("m.", "mod."))
        assert b"/var/task/pkg/mod.py" in code  # tracebacks name the path Lambda runs it from
    first = archive.read_bytes()
    assert compile_bytecode(archive) == 3 and archive.read_bytes() == first  # reproducible, and idempotent


def test_packaging_refuses_bytecode_for_another_python_than_the_functions_run():
    import sys

    from infra.package import check_runtime_matches

    here = f"python{sys.version_info.major}.{sys.version_info.minor}"
    check_runtime_matches({"Resources": {"F": {"Type": "AWS::Serverless::Function", "Properties": {"Runtime": here}}}})
    with pytest.raises(RuntimeError, match="python3.99"):
        check_runtime_matches(
            {"Resources": {"F": {"Type": "AWS::Serverless::Function", "Properties": {"Runtime": "python3.99"}}}}
        )


# The charting layer (issue 11): matplotlib ships to the weekly report's function alone, as a Lambda layer.
CHARTING = ("matplotlib", "mpl_toolkits", "numpy", "PIL", "contourpy", "kiwisolver", "fontTools")
LAMBDA_UNZIPPED_LIMIT = 250 * 1024 * 1024  # a function's code and its layers, unzipped
AMAZON_LINUX_2_GLIBC = (2, 26)  # the python3.11 runtime's: a wheel needing a newer glibc fails to import there


def _functions(template):
    return {k: v["Properties"] for k, v in template["Resources"].items() if v["Type"] == "AWS::Serverless::Function"}


@pytest.mark.parametrize("stage", STAGES)
def test_the_charting_layer_is_attached_to_the_weekly_report_alone_with_its_memory_and_time(packaged, stage):
    from infra.package import CHARTING_LAYER, CHARTING_LAYER_ZIP, REPORT_FUNCTION
    from infra.template import function_logical_ids

    _, template = packaged[stage]
    layer = template["Resources"][CHARTING_LAYER]
    assert layer["Type"] == "AWS::Serverless::LayerVersion"
    assert layer["Properties"]["ContentUri"] == f"./{CHARTING_LAYER_ZIP}"
    report = function_logical_ids()[REPORT_FUNCTION]
    functions = _functions(template)
    assert layer["Properties"]["CompatibleRuntimes"] == [functions[report]["Runtime"]]
    assert {name for name, f in functions.items() if f.get("Layers")} == {report}
    assert functions[report]["Layers"] == [{"Ref": CHARTING_LAYER}]
    assert (functions[report]["MemorySize"], functions[report]["Timeout"]) == (1024, 300)
    others = [f for name, f in functions.items() if name != report]
    assert all(f["CodeUri"] == functions[report]["CodeUri"] for f in others)  # one deployment.zip for all


def _top_level(names):
    return {name.split("/")[0] for name in names}


@pytest.mark.parametrize("stage", STAGES)
def test_the_layer_holds_matplotlib_under_python_and_the_functions_package_none_of_it(packaged, build, stage):
    import re
    import zipfile

    from infra.package import CHARTING_LAYER_ZIP

    out = build / stage
    with zipfile.ZipFile(out / CHARTING_LAYER_ZIP) as layer, zipfile.ZipFile(out / "deployment.zip") as code:
        names = layer.namelist()
        assert _top_level(names) == {"python"}  # Lambda puts a layer's python/ on sys.path
        assert {"python/matplotlib/__init__.py", "python/numpy/__init__.py", "python/PIL/Image.py"} <= set(names)
        pyc = next(n for n in names if n.startswith("python/matplotlib/__pycache__/__init__.cpython-"))
        assert b"/opt/python/matplotlib/__init__.py" in layer.read(pyc)  # compiled for where Lambda unpacks it
        assert int.from_bytes(layer.read(pyc)[4:8], "little") == 0b01  # unchecked hash: never recompiled
        for wheel in (n for n in names if re.fullmatch(r"python/[^/]+\.dist-info/WHEEL", n)):
            for tag in re.findall(r"^Tag: (\S+)$", layer.read(wheel).decode(), re.M):
                platform = tag.split("-")[2]
                needed = re.match(r"manylinux_(\d+)_(\d+)_x86_64$", platform)
                assert (
                    platform == "any"
                    or platform in ("manylinux2014_x86_64", "manylinux1_x86_64", "manylinux2010_x86_64")
                    or (needed and (int(needed[1]), int(needed[2])) <= AMAZON_LINUX_2_GLIBC)
                ), f"{wheel}: {tag}"
        assert not _top_level(code.namelist()) & set(CHARTING), "deployment.zip carries the charting libraries"
        unzipped = sum(i.file_size for i in layer.infolist()) + sum(i.file_size for i in code.infolist())
        assert unzipped < LAMBDA_UNZIPPED_LIMIT


def test_a_layer_is_built_once_per_requirements_reproducibly_and_compiled_for_opt(tmp_path):
    import importlib.util
    import zipfile

    from infra.package import build_layer, layer_cache_path

    requirements = tmp_path / "requirements-small.txt"
    requirements.write_text("six==1.17.0\n")
    first = build_layer(requirements, "python3.11", "x86_64", cache=tmp_path / "a")
    made = first.stat().st_mtime_ns
    assert build_layer(requirements, "python3.11", "x86_64", cache=tmp_path / "a") == first  # from the cache
    assert first.stat().st_mtime_ns == made
    again = build_layer(requirements, "python3.11", "x86_64", cache=tmp_path / "b")  # a fresh build: same bytes
    assert again.read_bytes() == first.read_bytes()
    with zipfile.ZipFile(first) as layer:
        tag = importlib.util.cache_from_source("six.py").split("/")[-1]
        assert {"python/six.py", f"python/__pycache__/{tag}"} <= set(layer.namelist())
        assert b"/opt/python/six.py" in layer.read(f"python/__pycache__/{tag}")
    assert layer_cache_path(requirements, "python3.11", "arm64", cache=tmp_path / "a") != first
    requirements.write_text("six==1.16.0\n")  # another content, another layer
    assert layer_cache_path(requirements, "python3.11", "x86_64", cache=tmp_path / "a") != first
