"""The weekly reports in their private S3 bucket (``REPORT_BUCKET``: encrypted by default with SSE-S3, versioned,
public access blocked, TLS only; see ``infra/template.py``). Writing a key again replaces it (the bucket keeps the
previous version for 30 days), so a re-run of a week never leaves two reports."""

from __future__ import annotations

import os
from functools import lru_cache
from typing import Any

from chalicelib.adapters.aws import client


class S3ReportStore:
    def __init__(self, bucket: str) -> None:
        self.bucket = bucket

    def put(self, key: str, body: bytes, content_type: str) -> None:
        client("s3").put_object(
            Bucket=self.bucket,
            Key=key,
            Body=body,
            ContentType=content_type,
            ServerSideEncryption="AES256",
            CacheControl="private, no-store",
        )

    def exists(self, key: str) -> bool:
        s3 = client("s3")
        try:
            s3.head_object(Bucket=self.bucket, Key=key)
        except s3.exceptions.ClientError as error:
            if error.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
                return False
            raise
        return True

    def files(self, prefix: str) -> list[str]:
        keys: list[str] = []
        for page in client("s3").get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=prefix):
            keys += [item["Key"] for item in page.get("Contents", [])]
        return keys

    def link(self, key: str, seconds: int) -> str:
        """A presigned GET. Signed with the caller's credentials: a Lambda role's session credentials end before 7
        days, and the link with them (README, Weekly report)."""
        signer = _signer(os.environ.get("AWS_ENDPOINT_URL", ""), os.environ.get("AWS_DEFAULT_REGION", ""))
        return signer.generate_presigned_url(
            "get_object", Params={"Bucket": self.bucket, "Key": key}, ExpiresIn=seconds
        )


@lru_cache(maxsize=4)
def _signer(endpoint: str, region: str) -> Any:
    """An S3 client that presigns with SigV4, whose links S3 refuses after at most 7 days (SigV2 links, which
    botocore may make for us-east-1, carry any expiry). One per endpoint and region (the CLI's --endpoint-url)."""
    import boto3
    from botocore.config import Config

    return boto3.client("s3", config=Config(signature_version="s3v4"))
