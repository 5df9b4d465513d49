"""A deployed stage's settings as ``.chalice/config.json`` gives them, read the way Chalice reads them.

The template and the IAM policy are computed from these (queue visibility timeouts from each consuming function's
timeout, the SES sender in the policy's condition, the links' base URL), so a stage configured with its own sender
and address gets a policy and an environment that use them, and nothing is taken from the shell that happens to
run ``make package``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
CONFIG_PATH = ROOT / ".chalice" / "config.json"

# Settings a deployed stage cannot run without: where emailed links point, and the verified SES sender.
REQUIRED_SETTINGS = ("PUBLIC_BASE_URL", "APPROVALS_FROM_EMAIL")


class StageNotDeployable(ValueError):
    """The stage's configuration lacks a setting a deployment needs."""


@dataclass(frozen=True)
class StageConfig:
    stage: str
    config: dict[str, Any]

    @classmethod
    def load(cls, stage: str, path: Path = CONFIG_PATH) -> StageConfig:
        config = json.loads(path.read_text(encoding="utf-8"))
        if stage not in config.get("stages", {}):
            raise StageNotDeployable(f"stage {stage!r} is not in {path.name}; stages: {sorted(config['stages'])}")
        return cls(stage, config)

    def _chalice(self, function_name: str = "api_handler"):
        from chalice.config import Config
        from chalice.constants import DEFAULT_LAMBDA_MEMORY_SIZE, DEFAULT_LAMBDA_TIMEOUT

        return Config(
            chalice_stage=self.stage,
            function_name=function_name,
            config_from_disk=self.config,
            default_params={"lambda_timeout": DEFAULT_LAMBDA_TIMEOUT, "lambda_memory_size": DEFAULT_LAMBDA_MEMORY_SIZE},
        )

    def timeout(self, function_name: str) -> int:
        """The function's timeout in seconds (per-function, per-stage or app-wide, as Chalice resolves it)."""
        return int(self._chalice(function_name).lambda_timeout)

    def memory_mb(self, function_name: str) -> int:
        return int(self._chalice(function_name).lambda_memory_size)

    @property
    def log_retention_days(self) -> int:
        days = self._chalice().log_retention_in_days
        if not days:
            raise StageNotDeployable(f"stage {self.stage!r} has no log_retention_in_days in .chalice/config.json")
        return int(days)

    @cached_property
    def environment(self) -> dict[str, str]:
        return dict(self._chalice().environment_variables)

    @cached_property
    def tags(self) -> dict[str, str]:
        return {k: v for k, v in self._chalice().tags.items() if k != "aws-chalice"}

    @property
    def sender_email(self) -> str:
        return self.required("APPROVALS_FROM_EMAIL")

    @property
    def public_base_url(self) -> str:
        return self.required("PUBLIC_BASE_URL").rstrip("/")

    def required(self, name: str) -> str:
        value = self.environment.get(name, "").strip()
        if not value:
            raise StageNotDeployable(
                f"stage {self.stage!r} has no {name} in .chalice/config.json (stages.{self.stage}."
                f"environment_variables): a deployed stage needs {', '.join(REQUIRED_SETTINGS)}"
            )
        return value

    def check_deployable(self) -> None:
        for name in REQUIRED_SETTINGS:
            self.required(name)
        if self.environment.get("STAGE") != self.stage:
            # settings.py names every table, queue and topic from STAGE: without it a deployed function would run
            # as the local stage, against resources that do not exist
            raise StageNotDeployable(
                f"stage {self.stage!r}: STAGE must be set to {self.stage!r} in its environment_variables "
                f"(.chalice/config.json), not {self.environment.get('STAGE')!r}"
            )
        if not self.public_base_url.startswith("https://"):
            raise StageNotDeployable(
                f"stage {self.stage!r}: PUBLIC_BASE_URL must be an https:// address, not {self.public_base_url!r}"
            )
