"""``make lint-infra`` (and ``make test``, through tests/integration/test_package.py): package dev and prod, lint both.

* ``cfn-lint`` with the serverless rules (``cfn-lint-serverless``): zero errors (warnings are listed, and fail too
  unless named in ``CFN_LINT_IGNORED`` with a reason).
* ``checkov`` (CloudFormation framework) on the same templates: zero failed checks; every exception is a
  ``Metadata.checkov.skip`` with its reason (``infra/exceptions.py``), and is listed here as skipped.

checkov pins a boto3 older than the app's, so it lives in its own virtualenv (``.venv/checkov``, made by
``make lint-infra`` from ``infra/requirements-checkov.txt``); ``CHECKOV`` overrides its path.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
STAGES = ("dev", "prod")
CHECKOV = Path(os.environ.get("CHECKOV", ROOT / ".venv" / "checkov" / "bin" / "checkov"))

# cfn-lint rules switched off, with why (none at present: add one only with its reason).
CFN_LINT_IGNORED: dict[str, str] = {}


@dataclass
class Findings:
    stage: str
    cfn_lint: list[str] = field(default_factory=list)
    checkov_failed: list[str] = field(default_factory=list)
    checkov_skipped: list[str] = field(default_factory=list)
    checkov_passed: int = 0

    @property
    def ok(self) -> bool:
        return not self.cfn_lint and not self.checkov_failed


def cfn_lint(template: Path) -> list[str]:
    """cfn-lint's findings (every level), serverless rules included."""
    linter = Path(sys.executable).parent / "cfn-lint"
    command = [str(linter), "--format", "parseable", "--append-rules", "cfn_lint_serverless.rules"]
    for rule in CFN_LINT_IGNORED:
        command += ["--ignore-checks", rule]
    done = subprocess.run(command + ["--", str(template)], capture_output=True, text=True, cwd=ROOT)
    lines = [line for line in (done.stdout + done.stderr).splitlines() if line.strip()]
    if done.returncode not in (0, 2, 4, 6, 8, 10, 12, 14) and not lines:
        lines = [f"cfn-lint exited {done.returncode}"]
    return lines


def checkov(template: Path) -> tuple[list[str], list[str], int]:
    """(failed, skipped, passed count) of checkov's CloudFormation checks on ``template``."""
    if not CHECKOV.exists():
        raise FileNotFoundError(f"{CHECKOV} is missing: run `make lint-infra` (it installs checkov in its own venv)")
    done = subprocess.run(
        [
            str(CHECKOV),
            "--framework",
            "cloudformation",
            "--output",
            "json",
            "--compact",
            "--skip-download",
            "--file",
            str(template),
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**os.environ, "LOG_LEVEL": "ERROR"},
    )
    try:
        report = json.loads(done.stdout)
    except json.JSONDecodeError as error:
        raise RuntimeError(f"checkov gave no JSON report (exit {done.returncode}): {done.stderr[-2000:]}") from error
    if isinstance(report, list):
        report = next(r for r in report if r.get("check_type") == "cloudformation")
    results = report.get("results", {})

    def describe(check: dict) -> str:
        reason = (check.get("check_result") or {}).get("suppress_comment")
        text = f"{check['check_id']} {check['resource']}: {check['check_name']}"
        return f"{text} -- {reason}" if reason else text

    failed = [describe(c) for c in results.get("failed_checks", [])]
    skipped = [describe(c) for c in results.get("skipped_checks", [])]
    if report.get("summary", {}).get("parsing_errors"):
        failed.append(f"checkov could not parse {template}")
    return failed, skipped, len(results.get("passed_checks", []))


def check_stage(stage: str, build: Path) -> Findings:
    from infra.package import package

    template = package(stage, build)
    findings = Findings(stage, cfn_lint=cfn_lint(template))
    findings.checkov_failed, findings.checkov_skipped, findings.checkov_passed = checkov(template)
    return findings


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--stage", action="append", choices=STAGES, help="default: dev and prod")
    parser.add_argument("--build", default=str(ROOT / "build"))
    args = parser.parse_args()
    ok = True
    for stage in args.stage or STAGES:
        findings = check_stage(stage, Path(args.build))
        print(
            f"{stage}: cfn-lint (+ serverless rules) {len(findings.cfn_lint)} findings; checkov "
            f"{findings.checkov_passed} passed, {len(findings.checkov_failed)} failed, "
            f"{len(findings.checkov_skipped)} skipped with a reason"
        )
        for line in findings.cfn_lint:
            print(f"  cfn-lint: {line}")
        for line in findings.checkov_failed:
            print(f"  checkov FAILED: {line}")
        for line in sorted(set(findings.checkov_skipped)):
            print(f"  checkov skipped: {line}")
        ok = ok and findings.ok
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
