"""Media in an S3-compatible bucket (AWS S3, MinIO, Cloudflare R2, DO Spaces) through boto3."""

from __future__ import annotations

import secrets
from collections.abc import Iterator, Mapping
from typing import Any, BinaryIO
from urllib.parse import quote

from . import is_valid_key, validate_key

# Keys are random per upload and never rewritten with other content, so caches may keep them.
CACHE_CONTROL = "public, max-age=31536000, immutable"


def public_base_url(config: Mapping[str, Any]) -> str:
    """Where browsers read the bucket's objects ("" when no S3_BUCKET is set): S3_PUBLIC_URL (a
    CDN, or nginx proxying the bucket), else the endpoint's path-style bucket URL (MinIO), else
    AWS's virtual-hosted bucket URL. The Content-Security-Policy allows this origin."""
    bucket = config.get("S3_BUCKET") or ""
    if not bucket:
        return ""
    if config.get("S3_PUBLIC_URL"):
        return config["S3_PUBLIC_URL"].rstrip("/") + "/"
    if config.get("S3_ENDPOINT_URL"):
        return f"{config['S3_ENDPOINT_URL'].rstrip('/')}/{bucket}/"
    region = config.get("S3_REGION") or "us-east-1"
    return f"https://{bucket}.s3.{region}.amazonaws.com/"


class S3Store:
    """Objects in `bucket`; public URLs from `public_url` (a CDN) or the endpoint's bucket URL."""

    def __init__(
        self,
        client: Any,
        bucket: str,
        *,
        base_url: str,
        endpoint_url: str = "",
    ) -> None:
        self.client = client
        self.bucket = bucket
        self.base_url = base_url
        self.where = f"bucket {bucket!r}" + (f" at {endpoint_url}" if endpoint_url else "")

    @classmethod
    def from_settings(cls, config: Mapping[str, Any]) -> S3Store:
        import boto3
        from botocore.config import Config

        from ..config import ConfigError

        if not config.get("S3_BUCKET"):
            raise ConfigError(
                "S3 storage needs S3_BUCKET, which is not set: put S3_BUCKET=<bucket name> "
                "(and S3_ENDPOINT_URL for a service other than AWS) in .env"
            )
        endpoint = config.get("S3_ENDPOINT_URL") or None
        options: dict[str, Any] = {
            "signature_version": "s3v4",
            # A slow bucket must fail a request or /readyz quickly, not hang a worker.
            "connect_timeout": 5,
            "read_timeout": 30,
            "retries": {"max_attempts": 3, "mode": "standard"},
        }
        if endpoint:
            # MinIO and most self-hosted services only understand path-style bucket URLs.
            options["s3"] = {"addressing_style": "path"}
        client = boto3.session.Session().client(
            "s3",
            endpoint_url=endpoint,
            region_name=config.get("S3_REGION") or "us-east-1",
            aws_access_key_id=config.get("S3_ACCESS_KEY_ID") or None,
            aws_secret_access_key=config.get("S3_SECRET_ACCESS_KEY") or None,
            config=Config(**options),
        )
        return cls(
            client,
            config["S3_BUCKET"],
            base_url=public_base_url(config),
            endpoint_url=config.get("S3_ENDPOINT_URL") or "",
        )

    def save(self, key: str, data: bytes, content_type: str) -> None:
        self.client.put_object(
            Bucket=self.bucket,
            Key=validate_key(key),
            Body=data,
            ContentType=content_type,
            CacheControl=CACHE_CONTROL,
        )

    def save_file(self, key: str, file: BinaryIO, content_type: str) -> None:
        # boto3 reads the file in parts (a multipart upload when it is large).
        self.client.upload_fileobj(file, self.bucket, validate_key(key), ExtraArgs={
            "ContentType": content_type, "CacheControl": CACHE_CONTROL})

    def read(self, key: str) -> bytes:
        try:
            response = self.client.get_object(Bucket=self.bucket, Key=validate_key(key))
        except self.client.exceptions.NoSuchKey:
            raise FileNotFoundError(f"no media object {key!r} in {self.where}") from None
        return response["Body"].read()

    def size(self, key: str) -> int:
        head = self._head(key)
        if head is None:
            raise FileNotFoundError(f"no media object {key!r} in {self.where}")
        return int(head["ContentLength"])

    def delete(self, key: str) -> None:
        self.client.delete_object(Bucket=self.bucket, Key=validate_key(key))

    def exists(self, key: str) -> bool:
        return self._head(key) is not None

    def url(self, key: str) -> str:
        return self.base_url + quote(validate_key(key))

    def keys(self) -> Iterator[str]:
        for key, _size in self.sizes():
            yield key

    def sizes(self) -> Iterator[tuple[str, int]]:
        paginator = self.client.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=self.bucket):
            for item in page.get("Contents", []):
                if is_valid_key(item["Key"]):
                    yield item["Key"], int(item["Size"])

    def check_writable(self) -> str | None:
        from botocore.exceptions import BotoCoreError, ClientError

        probe = f".readyz/{secrets.token_hex(8)}"
        try:
            self.client.put_object(Bucket=self.bucket, Key=probe, Body=b"ok")
            self.client.delete_object(Bucket=self.bucket, Key=probe)
        except ClientError as e:
            error = e.response.get("Error", {})
            return f"S3 {self.where} is not writable: {error.get('Code')}: {error.get('Message')}"
        except BotoCoreError as e:
            return f"S3 {self.where} is not reachable: {e}"
        return None

    def _head(self, key: str) -> dict | None:
        from botocore.exceptions import ClientError

        try:
            return self.client.head_object(Bucket=self.bucket, Key=validate_key(key))
        except ClientError as e:
            if e.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
                return None
            raise
