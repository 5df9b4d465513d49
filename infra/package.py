"""``make package STAGE=...``: the stage's one deployable template, Chalice's SAM output merged with ``infra/``.

1. refuses a stage whose ``.chalice/config.json`` lacks a setting a deployment needs (``StageConfig``);
2. writes the merge template (``infra.template.build_merge_template``) to ``build/infra-<stage>.json``;
3. runs ``chalice package --merge-template`` into ``build/<stage>/`` (``sam.json`` + ``deployment.zip``), with
   ``STAGE`` set so the app names the stage's queues;
4. names, on each resource, the checkov checks it is exempt from and why (``infra.exceptions``).

Deploy the result with ``make deploy`` (``aws cloudformation package`` + ``deploy``), never ``chalice deploy``:
that would create the functions without their tables, queues, alarms and bucket.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

from infra.exceptions import annotate
from infra.stage_config import StageConfig
from infra.template import build_merge_template

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
    done = subprocess.run([str(chalice), "package", "--stage", stage, "--merge-template", str(merge), str(out)],
                          cwd=ROOT, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"chalice package --stage {stage} failed:\n{done.stdout}{done.stderr}")
    template_path = out / "sam.json"
    template = annotate(json.loads(template_path.read_text(encoding="utf-8")))
    template_path.write_text(json.dumps(template, indent=2) + "\n", encoding="utf-8")
    return template_path


def packaging_environment(stage: str) -> dict[str, str]:
    """What ``chalice package`` imports the app with: the stage's own variables, and a stand-in for each one the
    template gives the functions (their values exist only once CloudFormation has created the resources; the
    template replaces what the app derives from them), so the app's cold-start check passes while packaging."""
    from infra.template import FUNCTION_ENVIRONMENT

    region = os.environ.get("AWS_DEFAULT_REGION", "us-east-1")
    stand_ins = {name: f"arn:aws:packaging:{region}:000000000000:{name.lower()}/stand-in"
                 for name in FUNCTION_ENVIRONMENT}
    return {**os.environ, **stand_ins, **StageConfig.load(stage).environment, "STAGE": stage,
            "AWS_DEFAULT_REGION": region}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--stage", default="dev")
    parser.add_argument("--build", default=str(ROOT / "build"), help="output folder (default: build/)")
    args = parser.parse_args()
    path = package(args.stage, Path(args.build))
    print(f"wrote {path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}")


if __name__ == "__main__":
    main()
