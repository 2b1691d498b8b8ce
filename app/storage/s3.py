"""The object-storage backend: S3, MinIO, R2… through boto3, with presigned URLs for browsers.

Every boto3 error (endpoint down, timeout, 5xx, throttling) becomes StorageUnavailable, which the worker retries
with backoff and the upload request answers with 503; a missing object becomes FileNotFoundError, as on disk.
"""

import base64
import io
import json
import logging
import os
import shutil
import tempfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cached_property
from typing import Any, BinaryIO
from urllib.parse import quote, urlsplit

import boto3
from flask import Flask, Response

from app.exceptions import StorageUnavailable
from app.storage import check_key, check_prefix
from app.storage.range_reader import RangeReader
from app.storage.s3_client import BucketMissing, client_options, endpoint_url, s3_errors

log = logging.getLogger(__name__)

# Originals larger than this spool to a temporary file instead of memory when opened.
SPOOL_MAX_BYTES = 8 * 1024 * 1024
# Content-Security-Policy directives that must name the storage: variants shown in pages, uploads posted to it.
WIDENED_DIRECTIVES = frozenset({"img-src", "connect-src"})


@dataclass(frozen=True)
class ObjectHead:
    """What a HEAD request tells about a stored object."""

    size: int
    content_type: str | None


@dataclass(frozen=True)
class PresignedPost:
    """A browser form upload the storage itself checks: where to POST, the form fields, and until when."""

    url: str
    fields: dict[str, str]
    expires_at: datetime


class S3Storage:
    """Objects in one bucket of an S3-compatible service."""

    def __init__(
        self,
        bucket: str,
        options: dict[str, Any],
        public_endpoint_url: str | None = None,
        url_ttl: int = 3600,
        base_url: str | None = None,
        max_age: int = 365 * 24 * 3600,
    ):
        self.bucket = bucket
        self.options = options
        self.public_endpoint_url = public_endpoint_url or options.get("endpoint_url")
        self.url_ttl = url_ttl
        self.base_url = base_url.rstrip("/") + "/" if base_url else None
        self.max_age = max_age
        self._clients: dict[tuple[int, str | None], Any] = {}

    @classmethod
    def from_app(cls, app: Flask) -> "S3Storage":
        """Build from the app's config and make sure the bucket is there (or say clearly that it is not)."""
        storage = cls.from_config(app.config)
        # Registered before the security-headers hook, so it runs after it and finds the policy to widen.
        app.after_request(storage.allow_in_content_security_policy)
        return storage

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> "S3Storage":
        """Build from a Pixline settings mapping, checking (or creating) the bucket."""
        options = client_options(config)
        storage = cls(
            config["S3_BUCKET"],
            options,
            public_endpoint_url=endpoint_url(config["S3_PUBLIC_ENDPOINT_URL"], config["S3_SECURE"]),
            url_ttl=config["MEDIA_URL_TTL"],
            base_url=config["MEDIA_BASE_URL"],
            max_age=config["MEDIA_MAX_AGE"],
        )
        storage.ensure_bucket(create=config["S3_CREATE_BUCKET"])
        return storage

    @property
    def client(self):
        """The boto3 client for server-side requests (a fresh one in each forked process)."""
        return self._client_for(self.options.get("endpoint_url"))

    @property
    def signer(self):
        """The boto3 client that signs URLs for browsers, with the endpoint they can reach."""
        return self._client_for(self.public_endpoint_url)

    def _client_for(self, endpoint: str | None):
        """A client per process and endpoint: connection pools must not be shared across a fork."""
        slot = (os.getpid(), endpoint)
        if slot not in self._clients:
            session = boto3.session.Session()
            self._clients[slot] = session.client("s3", **{**self.options, "endpoint_url": endpoint})
        return self._clients[slot]

    def ensure_bucket(self, create: bool) -> None:
        """Create the bucket if asked to; otherwise refuse to start without it. An unreachable endpoint only warns."""
        try:
            with s3_errors(f"find bucket {self.bucket!r}"):
                self.client.head_bucket(Bucket=self.bucket)
            return
        except FileNotFoundError:
            pass
        except StorageUnavailable as error:
            log.warning(
                "cannot check bucket %r at startup (%s); storage calls get 503 until it answers", self.bucket, error
            )
            return
        if not create:
            raise BucketMissing(
                f"S3 bucket {self.bucket!r} does not exist at {self.options.get('endpoint_url') or 'AWS'}: "
                "create it, or set S3_CREATE_BUCKET=1 to have Pixline create it at startup."
            )
        region = self.options["region_name"]
        # us-east-1 is the one region S3 refuses to be named as a location constraint.
        where = {} if region in (None, "us-east-1") else {"CreateBucketConfiguration": {"LocationConstraint": region}}
        with s3_errors(f"create bucket {self.bucket!r}"):
            self.client.create_bucket(Bucket=self.bucket, **where)
        log.info("created bucket %r", self.bucket)

    def cache_control(self, key: str) -> str:
        """Variants cache publicly for long; originals carry the client's metadata, so only privately."""
        if key.startswith("variants/"):
            return f"public, max-age={self.max_age}, immutable"
        return f"private, max-age={self.max_age}"

    def save(self, key: str, source: BinaryIO | bytes, content_type: str) -> int:
        check_key(key)
        if isinstance(source, bytes | bytearray | memoryview):
            body, size = bytes(source), len(source)
        else:
            body, size = source, _remaining(source)
        with s3_errors(f"store {key}"):
            self.client.put_object(
                Bucket=self.bucket,
                Key=key,
                Body=body,
                ContentLength=size,
                ContentType=content_type,
                CacheControl=self.cache_control(key),
            )
        return size

    def copy(self, source: str, target: str, content_type: str) -> None:
        """Copy an object inside the bucket, server-side, with the target's own type and cache policy."""
        check_key(source)
        check_key(target)
        with s3_errors(f"copy {source}"):
            self.client.copy_object(
                Bucket=self.bucket,
                Key=target,
                CopySource={"Bucket": self.bucket, "Key": source},
                MetadataDirective="REPLACE",
                ContentType=content_type,
                CacheControl=self.cache_control(target),
            )

    def open(self, key: str) -> BinaryIO:
        check_key(key)
        # Download inside the error translation, so a connection lost mid-body is an outage too.
        spool = tempfile.SpooledTemporaryFile(max_size=SPOOL_MAX_BYTES)  # noqa: SIM115 - the caller closes it
        try:
            with s3_errors(f"read {key}"):
                body = self.client.get_object(Bucket=self.bucket, Key=key)["Body"]
                with body:
                    shutil.copyfileobj(body, spool, 1024 * 1024)
        except BaseException:
            spool.close()
            raise
        spool.seek(0)
        return spool

    def open_lazy(self, key: str, size: int) -> BinaryIO:
        """A seekable stream of the object that fetches only what is read, in ranged GETs."""
        check_key(key)
        return RangeReader(lambda first, last: self.read_range(key, first, last), size)

    def read_range(self, key: str, first: int, last: int) -> bytes:
        """Bytes first..last (inclusive) of the object."""
        check_key(key)
        with s3_errors(f"read {key}"):
            response = self.client.get_object(Bucket=self.bucket, Key=key, Range=f"bytes={first}-{last}")
            return response["Body"].read()

    def head(self, key: str) -> ObjectHead | None:
        """The object's size and type, or None when it is not there."""
        check_key(key)
        try:
            with s3_errors(f"inspect {key}"):
                response = self.client.head_object(Bucket=self.bucket, Key=key)
        except FileNotFoundError:
            return None
        return ObjectHead(response["ContentLength"], response.get("ContentType"))

    def exists(self, key: str) -> bool:
        return self.head(key) is not None

    def size(self, key: str) -> int:
        """The stored size of key in bytes."""
        head = self.head(key)
        if head is None:
            raise FileNotFoundError(key)
        return head.size

    def delete(self, key: str) -> None:
        check_key(key)
        with s3_errors(f"delete {key}"):
            self.client.delete_object(Bucket=self.bucket, Key=key)

    def keys(self, prefix: str = "") -> Iterator[str]:
        check_prefix(prefix)
        with s3_errors(f"list {prefix or 'the bucket'}"):
            pages = self.client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=prefix)
            for page in pages:
                for entry in page.get("Contents", []):
                    yield entry["Key"]

    def url(self, key: str) -> str:
        check_key(key)
        if self.base_url:
            return self.base_url + quote(key)
        params = {"Bucket": self.bucket, "Key": key}
        if key.startswith("originals/"):
            # Originals are the client's bytes as sent: browsers download them, never render them inline.
            params["ResponseContentDisposition"] = "attachment"
        return self.signer.generate_presigned_url("get_object", Params=params, ExpiresIn=self.url_ttl)

    def check(self) -> None:
        with s3_errors(f"reach bucket {self.bucket!r}"):
            self.client.head_bucket(Bucket=self.bucket)

    @cached_property
    def browser_origins(self) -> list[str]:
        """The origins browsers load media from and post uploads to (signing is local: no request is made)."""
        urls = [self.url("variants/x"), self.signer.generate_presigned_post(self.bucket, "originals/x")["url"]]
        return sorted({"{0.scheme}://{0.netloc}".format(urlsplit(url)) for url in urls})

    def allow_in_content_security_policy(self, response: Response) -> Response:
        """after_request: let pages show images from, and upload to, the storage's origins."""
        policy = response.headers.get("Content-Security-Policy")
        if policy:
            origins = " ".join(self.browser_origins)
            directives = [directive.strip() for directive in policy.split(";")]
            widened = [f"{d} {origins}" if d.split(" ")[0] in WIDENED_DIRECTIVES else d for d in directives]
            response.headers["Content-Security-Policy"] = "; ".join(widened)
        return response

    def presigned_post(self, key: str, content_type: str, max_bytes: int, ttl: int) -> PresignedPost:
        """A POST policy for exactly this key, this Content-Type and 1..max_bytes bytes, valid for ttl seconds."""
        check_key(key)
        fields = {"Content-Type": content_type, "Cache-Control": self.cache_control(key)}
        conditions = [{name: value} for name, value in fields.items()] + [["content-length-range", 1, max_bytes]]
        post = self.signer.generate_presigned_post(
            self.bucket, key, Fields=fields, Conditions=conditions, ExpiresIn=ttl
        )
        return PresignedPost(post["url"], post["fields"], policy_expiry(post["fields"]["policy"]))


def policy_expiry(policy: str) -> datetime:
    """The expiration a base64 POST policy states."""
    expiration = json.loads(base64.b64decode(policy))["expiration"]
    return datetime.strptime(expiration, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)


def _remaining(stream: BinaryIO) -> int:
    """Bytes from a seekable stream's position to its end; the position is kept."""
    position = stream.tell()
    end = stream.seek(0, io.SEEK_END)
    stream.seek(position)
    return end - position
