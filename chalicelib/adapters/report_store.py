"""The weekly reports in their private S3 bucket (``REPORT_BUCKET``: encrypted by default with SSE-S3, versioned,
public access blocked, TLS only; see ``infra/template.py``). Writing a key again replaces it (the bucket keeps the
previous version for 30 days), so a re-run of a week never leaves two reports."""

from __future__ import annotations

from chalicelib.adapters.aws import client


class S3ReportStore:
    def __init__(self, bucket: str) -> None:
        self.bucket = bucket

    def put(self, key: str, body: bytes, content_type: str) -> None:
        client("s3").put_object(Bucket=self.bucket, Key=key, Body=body, ContentType=content_type,
                                ServerSideEncryption="AES256", CacheControl="private, no-store")

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
        return client("s3").generate_presigned_url("get_object", Params={"Bucket": self.bucket, "Key": key},
                                                   ExpiresIn=seconds)
