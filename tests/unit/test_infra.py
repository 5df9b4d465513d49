"""infra/ is the single source of truth: the template, the names the code uses and the IAM policy agree."""

import json
from pathlib import Path

from chalicelib.settings import Resources
from infra.policy import DEPLOYED_STAGES, policy_path, render
from infra.template import build_template

ROOT = Path(__file__).resolve().parents[2]


def test_template_names_are_the_names_the_code_uses():
    names = Resources.for_stage("prod")
    resources = build_template("prod")["Resources"]
    assert resources["MentionsTable"]["Properties"]["TableName"] == names.mentions_table
    assert resources["IngestQueue"]["Properties"]["QueueName"] == names.ingest_queue
    redrive = resources["IngestQueue"]["Properties"]["RedrivePolicy"]
    assert redrive["deadLetterTargetArn"] == {"Fn::GetAtt": ["IngestDeadLetterQueue", "Arn"]}


def test_committed_iam_policies_match_the_generator():
    for stage in DEPLOYED_STAGES:
        assert policy_path(stage).read_text() == render(stage), f"run: python -m infra.policy --write ({stage})"


def test_policy_grants_no_wildcard_actions_and_scopes_every_data_resource_to_its_stage():
    for stage in DEPLOYED_STAGES:
        for statement in json.loads(render(stage))["Statement"]:
            assert all("*" not in action for action in statement["Action"])
            resources = statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
            # KMS is scoped by the service using it, SES by the sender address: both by condition. X-Ray trace
            # segments have no resource (AWS documents "*" for them).
            if statement["Sid"] not in ("DecryptSecretsThroughSsmOnly", "ApprovalEmails", "Tracing"):
                assert all(f"-{stage}" in r or f"/{stage}/" in r for r in resources), statement


def test_template_passes_cfn_lint(tmp_path):
    import subprocess
    import sys
    from pathlib import Path

    from infra.template import build_template

    path = tmp_path / "template.json"
    path.write_text(json.dumps(build_template("prod")))
    lint = Path(sys.executable).parent / "cfn-lint"
    done = subprocess.run([str(lint), str(path)], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr


def test_api_gateways_own_answers_are_json_naming_the_problem():
    """What API Gateway answers before any handler (an unknown route or method, throttling, a body too large) has
    the same shape as the handlers' refusals: JSON with ``error``."""
    from infra.template import build_merge_template

    responses = build_merge_template("dev")["Resources"]["RestAPI"]["Properties"]["GatewayResponses"]
    assert set(responses) == {"DEFAULT_4XX", "DEFAULT_5XX", "MISSING_AUTHENTICATION_TOKEN"}
    for response in responses.values():
        assert response["ResponseParameters"]["Headers"]["Content-Type"] == "'application/json'"
        # API Gateway's $context.error.messageString is a quoted JSON string: substituted, the body is JSON
        body = response["ResponseTemplates"]["application/json"].replace("$context.error.messageString", '"Too Many"')
        assert json.loads(body)["error"]
    assert responses["MISSING_AUTHENTICATION_TOKEN"]["StatusCode"] == "404"  # not API Gateway's puzzling 403


def test_make_deploy_hands_cloudformation_the_bucket_its_large_template_needs():
    """The stage's template is far over the 51,200 bytes `aws cloudformation deploy` takes inline: without
    --s3-bucket the CLI refuses every deploy."""
    import subprocess

    dry = subprocess.run(
        ["make", "-n", "deploy", "STAGE=dev", "DEPLOY_BUCKET=code-bucket"], capture_output=True, text=True, cwd=ROOT
    )
    deploy = " ".join(
        dry.stdout.split("aws cloudformation deploy", 1)[1].split("aws cloudformation describe")[0].split()
    )
    assert "--s3-bucket code-bucket" in deploy and "--s3-prefix social-response-dev" in deploy
