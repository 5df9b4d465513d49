"""What the local stack creates on moto's server before any process of the app starts.

1. Step Functions execution switched on (moto then runs the protocols' state machines);
2. the stage's packaged template deployed (``deploy.deploy_stack``) and kept in a file: the worker reads its event
   source settings from it (``event_sources.packaged_template``);
3. the contract secrets in Parameter Store (``deploy.seed_secrets``: an environment value wins, else a fresh random
   one), and in a file only its owner can read;
4. an ops subscriber's queue on the alerts topic, which the console reads;
5. optionally, the consumed queues' visibility timeout shortened (tests), before anything polls them;
6. the bundled response plan, uploaded through the CLI as an operator would.
"""

from __future__ import annotations

import json
import subprocess
import sys
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from infra.local.common import ROOT, StackError
from infra.local.event_sources import PACKAGED_TEMPLATE_ENV

if TYPE_CHECKING:
    from infra.local.deploy import LocalDeployment

BUNDLED_PLAN = ROOT / "chalicelib" / "plans" / "default.yaml"
ALERTS_READER = "social-response-local-ops-alerts"

ClientFor = Callable[[str], Any]


def switch_on_step_functions(moto_url: str) -> None:
    request = urllib.request.Request(
        f"{moto_url}/moto-api/config",
        method="POST",
        data=json.dumps({"stepfunctions": {"execute_state_machine": True}}).encode(),
        headers={"Content-Type": "application/json"},
    )
    urllib.request.urlopen(request, timeout=5).close()  # noqa: S310 (loopback)


@dataclass
class Provisioned:
    deployment: LocalDeployment
    secrets: dict[str, str]
    # The packaged template's functions' environment, resolved on moto: what every function sees.
    function_environment: dict[str, str]


def provision(
    stage: str, client: ClientFor, environ: Mapping[str, str], template_file: Path, secrets_file: Path
) -> Provisioned:
    """Steps 2 to 4: the stack deployed, its template and secrets written, the alerts subscriber in place."""
    from infra.local.deploy import deploy_stack, seed_secrets

    deployment = deploy_stack(stage, client)
    template_file.parent.mkdir(parents=True, exist_ok=True)
    template_file.write_text(json.dumps(deployment.template), encoding="utf-8")
    secrets = seed_secrets(stage, environ, client)
    subscribe_to_alerts(stage, client)
    secrets_file.parent.mkdir(parents=True, exist_ok=True)
    secrets_file.touch(mode=0o600)
    secrets_file.write_text("".join(f"{k}={v}\n" for k, v in secrets.items()), encoding="utf-8")
    return Provisioned(deployment, secrets, {**deployment.environment, PACKAGED_TEMPLATE_ENV: str(template_file)})


def subscribe_to_alerts(stage: str, client: ClientFor) -> str:
    """What an ops subscriber does: an SQS queue on the alerts topic (raw delivery, attributes kept)."""
    from chalicelib.settings import Resources

    sqs, sns = client("sqs"), client("sns")
    url = sqs.create_queue(QueueName=ALERTS_READER)["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    topic = sns.create_topic(Name=Resources.for_stage(stage).alerts_topic)["TopicArn"]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=arn, Attributes={"RawMessageDelivery": "true"})
    return url


def set_queue_visibility(client: ClientFor, template: dict[str, Any], seconds: int) -> None:
    """The visibility timeout of every queue the template gives one (the consumed queues).

    Only before the worker starts: a receive gives its messages the visibility the queue had when its long poll
    began, so a value changed while the worker polls misses the messages that poll takes (they stay in flight for
    the template's timeout).
    """
    sqs = client("sqs")
    for resource in template["Resources"].values():
        if resource["Type"] == "AWS::SQS::Queue" and "VisibilityTimeout" in resource["Properties"]:
            url = sqs.get_queue_url(QueueName=resource["Properties"]["QueueName"])["QueueUrl"]
            sqs.set_queue_attributes(QueueUrl=url, Attributes={"VisibilityTimeout": str(seconds)})


def upload_plan(environment: Mapping[str, str], path: Path = BUNDLED_PLAN) -> str:
    """Upload a plan as an operator would, through the CLI; answers what the CLI said."""
    done = subprocess.run(
        [sys.executable, "-m", "chalicelib.cli", "plan", "upload", str(path), "--by", "make-run@localhost"],
        cwd=ROOT,
        env=dict(environment),
        capture_output=True,
        text=True,
        timeout=60,
    )
    if done.returncode != 0:
        raise StackError(f"plan upload failed: {done.stdout}{done.stderr}")
    return done.stdout.strip().splitlines()[-1]
