"""Secrets by their contract name: the environment wins, else SSM Parameter Store ``/<app>/<stage>/<NAME>``.

SSM values are decrypted and cached for five minutes by Powertools Parameters, so a warm Lambda makes no call
per request and a rotated secret is picked up without a deploy. Values never reach a log line.
"""

from __future__ import annotations

import os

from chalicelib.services.errors import SecretUnavailable
from chalicelib.settings import secret_parameter_name

SECRET_NAMES = (
    "META_APP_SECRET",
    "META_VERIFY_TOKEN",
    "X_CONSUMER_SECRET",
    "YOUTUBE_HUB_SECRET",
    "TRUSTPILOT_WEBHOOK_SECRET",
    "GENERIC_WEBHOOK_SECRET",
    "LINK_SIGNING_KEY",
    "OPS_ADMIN_TOKEN",
)
CACHE_SECONDS = 300


def get_secret(name: str) -> str:
    if name not in SECRET_NAMES:
        raise KeyError(f"unknown secret {name}")
    value = os.environ.get(name)
    if value:
        return value
    from aws_lambda_powertools.utilities import parameters

    try:
        return parameters.get_parameter(secret_parameter_name(name), decrypt=True, max_age=CACHE_SECONDS)
    except parameters.exceptions.GetParameterError as error:
        raise SecretUnavailable(f"secret {name} is not configured") from error


def clear_cache() -> None:
    from aws_lambda_powertools.utilities import parameters

    parameters.clear_caches()
