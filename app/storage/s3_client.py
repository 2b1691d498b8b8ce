"""boto3 for the object-storage backend: client options from the config, and its errors translated."""

import logging
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from app.exceptions import StorageUnavailable
from app.settings import ConfigError

log = logging.getLogger(__name__)

# Object-level "not there" answers; a missing bucket is an outage, not a missing file.
MISSING_OBJECT_CODES = frozenset({"404", "NoSuchKey", "NotFound"})


class BucketMissing(ConfigError):
    """The configured bucket does not exist and S3_CREATE_BUCKET is off: a process stops with this one line."""


@contextmanager
def s3_errors(action: str) -> Iterator[None]:
    """Translate boto3's errors: a missing object to FileNotFoundError, anything else to StorageUnavailable.

    boto3's text names the internal endpoint, the bucket and the key: it goes to the log, and clients (and the
    image's error message) get StorageUnavailable's plain sentence only.
    """
    try:
        yield
    except ClientError as error:
        code = str(error.response.get("Error", {}).get("Code", ""))
        if code in MISSING_OBJECT_CODES:
            raise FileNotFoundError(f"No object to {action}.") from error
        status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        log.warning("object storage could not %s: %s", action, code or status)
        raise StorageUnavailable() from error
    except BotoCoreError as error:
        log.warning("object storage could not %s: %s", action, error)
        raise StorageUnavailable() from error


def endpoint_url(raw: str | None, secure: bool) -> str | None:
    """A full endpoint URL from S3_ENDPOINT_URL, taking the scheme from S3_SECURE when it has none."""
    if not raw:
        return None
    if "://" in raw:
        return raw
    return ("https://" if secure else "http://") + raw


def client_options(config: Mapping[str, Any]) -> dict[str, Any]:
    """boto3 client arguments from the app config: short timeouts, a few retries, SigV4."""
    endpoint = endpoint_url(config["S3_ENDPOINT_URL"], config["S3_SECURE"])
    botocore_config = Config(
        signature_version="s3v4",
        connect_timeout=config["S3_CONNECT_TIMEOUT"],
        read_timeout=config["S3_READ_TIMEOUT"],
        retries={"max_attempts": config["S3_MAX_ATTEMPTS"], "mode": "standard"},
        # MinIO and most S3-compatible servers want path-style URLs; AWS itself prefers virtual hosts.
        s3={"addressing_style": "path" if endpoint else "virtual"},
        # Checksums only where S3 requires them: several S3-compatible servers reject boto3's newer defaults.
        request_checksum_calculation="when_required",
        response_checksum_validation="when_required",
    )
    return {
        "endpoint_url": endpoint,
        "aws_access_key_id": config["S3_ACCESS_KEY"],
        "aws_secret_access_key": config["S3_SECRET_KEY"],
        "region_name": config["S3_REGION"],
        "use_ssl": config["S3_SECURE"],
        "config": botocore_config,
    }
