"""Logger and Metrics take their service and namespace from the stage's POWERTOOLS_* environment."""

import os
import subprocess
import sys

from tests.conftest import ROOT


def _service_and_namespace(env: dict[str, str]) -> list[str]:
    code = "from chalicelib.observability import logger, metrics; print(logger.service, metrics.namespace)"
    clean = {k: v for k, v in os.environ.items() if not k.startswith("POWERTOOLS_")}
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env={**clean, **env}, check=True, capture_output=True, text=True
    ).stdout
    return out.split()


def test_stage_environment_names_service_and_namespace():
    assert _service_and_namespace({"POWERTOOLS_SERVICE_NAME": "brand-a", "POWERTOOLS_METRICS_NAMESPACE": "BrandA"}) == [
        "brand-a",
        "BrandA",
    ]


def test_defaults_without_environment():
    assert _service_and_namespace({}) == ["social-response", "SocialResponse"]
