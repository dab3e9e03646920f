"""boto3 (AWS's SDK for Python, pinned in tools/python/requirements.txt)
against ferry-objects' S3 endpoint: byte ranges as S3's GetObject documents
them (206 with Content-Range, Content-Length and Accept-Ranges; 416
InvalidRange past the end), HEAD's Accept-Ranges, a Range header sent with
boto3's own presigned URL (the header isn't signed), and that an inline
text/html asked through boto3's presigned URL comes back as an attachment
(issue 20). Run by crates/ferry-objects/tests/boto3.rs, which serves the
endpoint.

Env: ENDPOINT, BUCKET, ACCESS_KEY_ID, SECRET_ACCESS_KEY (region local-1).
Prints one JSON line per step, then {"ok": true, "steps": [...]}; exits
non-zero on the first failure.
"""

import json
import os
import sys
import urllib.error
import urllib.request

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

STEPS = []


def step(name, **detail):
    STEPS.append(name)
    print(json.dumps({"step": name, **detail}), flush=True)


def check(cond, message):
    if not cond:
        raise AssertionError(f"check failed: {message}")


def fetch(url, headers=None):
    """GET url; (status, headers, body), errors included."""
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request) as response:
            return response.status, response.headers, response.read()
    except urllib.error.HTTPError as e:
        return e.code, e.headers, e.read()


def main():
    endpoint = os.environ["ENDPOINT"]
    bucket = os.environ["BUCKET"]
    s3 = boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name="local-1",
        aws_access_key_id=os.environ["ACCESS_KEY_ID"],
        aws_secret_access_key=os.environ["SECRET_ACCESS_KEY"],
        config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1}),
    )
    key = "boto3/ranges.bin"
    body = bytes((i * 7 + 3) % 256 for i in range(1000))
    s3.put_object(Bucket=bucket, Key=key, Body=body, ContentType="video/mp4")

    for asked, first, last in [
        ("bytes=10-19", 10, 19),
        ("bytes=990-", 990, 999),
        ("bytes=-5", 995, 999),
        ("bytes=500-5000", 500, 999),
    ]:
        got = s3.get_object(Bucket=bucket, Key=key, Range=asked)
        status = got["ResponseMetadata"]["HTTPStatusCode"]
        check(status == 206, f"{asked}: status {status}")
        check(got["ContentRange"] == f"bytes {first}-{last}/1000", f"{asked}: {got['ContentRange']}")
        check(got["ContentLength"] == last - first + 1, f"{asked}: {got['ContentLength']}")
        check(got.get("AcceptRanges") == "bytes", f"{asked}: {got.get('AcceptRanges')}")
        check(got["Body"].read() == body[first : last + 1], f"{asked}: the bytes")
    step("ranges")

    try:
        s3.get_object(Bucket=bucket, Key=key, Range="bytes=1000-")
        raise AssertionError("a range past the end was answered")
    except ClientError as e:
        code = e.response["Error"]["Code"]
        status = e.response["ResponseMetadata"]["HTTPStatusCode"]
        check((code, status) == ("InvalidRange", 416), f"past the end: {code} {status}")
    step("range-past-the-end")

    head = s3.head_object(Bucket=bucket, Key=key)
    check(head.get("AcceptRanges") == "bytes", f"head: {head}")
    check(head["ContentLength"] == 1000, f"head: {head}")
    step("head-accepts-ranges")

    url = s3.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": key}, ExpiresIn=600)
    status, headers, got = fetch(url, {"Range": "bytes=100-199"})
    check(status == 206, f"presigned range: {status} {got[:200]!r}")
    check(headers["Content-Range"] == "bytes 100-199/1000", f"presigned range: {headers}")
    check(got == body[100:200], "presigned range: the bytes")
    check(headers["X-Content-Type-Options"] == "nosniff", f"presigned range: {headers}")
    step("presigned-range")

    s3.put_object(Bucket=bucket, Key="boto3/page", Body=b"<script>alert(1)</script>", ContentType="text/html")
    url = s3.generate_presigned_url(
        "get_object",
        Params={
            "Bucket": bucket,
            "Key": "boto3/page",
            "ResponseContentType": "text/html",
            "ResponseContentDisposition": 'inline; filename="page.html"',
        },
        ExpiresIn=600,
    )
    status, headers, _ = fetch(url)
    check(status == 200, f"inline html: {status}")
    check(headers["Content-Disposition"] == 'attachment; filename="page.html"', f"inline html: {headers}")
    check(headers["Content-Type"] == "application/octet-stream", f"inline html: {headers}")
    check(headers["Content-Security-Policy"] == "sandbox", f"inline html: {headers}")
    step("inline-html-is-an-attachment")

    print(json.dumps({"ok": True, "steps": STEPS}), flush=True)


if __name__ == "__main__":
    try:
        main()
    except Exception as e:  # noqa: BLE001 - reported to the Rust test as JSON
        print(json.dumps({"ok": False, "error": repr(e), "steps": STEPS}), flush=True)
        sys.exit(1)
