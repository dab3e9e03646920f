"""boto3 (AWS's SDK for Python, pinned in tools/python/requirements.txt)
against ferry-objects' S3 endpoint: an independent client for the multipart
conversation and the shape of every multipart answer (CreateMultipartUpload,
UploadPart, ListParts, ListMultipartUploads, CompleteMultipartUpload,
AbortMultipartUpload), plus s3transfer's managed upload. Run by
crates/ferry-objects/tests/boto3.rs, which serves the endpoint.

Env: ENDPOINT, BUCKET, ACCESS_KEY_ID, SECRET_ACCESS_KEY (region local-1).
Prints one JSON line per step, then {"ok": true, "steps": [...]}; exits
non-zero on the first failure.
"""

import base64
import datetime
import hashlib
import io
import json
import os
import re
import sys

import boto3
from boto3.s3.transfer import TransferConfig
from botocore.config import Config
from botocore.exceptions import ClientError

MIB = 1024 * 1024
STEPS = []


def step(name, **detail):
    STEPS.append(name)
    print(json.dumps({"step": name, **detail}), flush=True)


def check(cond, message):
    if not cond:
        raise AssertionError(f"check failed: {message}")


def data(length, seed):
    return bytes((i * 31 + seed) % 256 for i in range(256)) * (length // 256) + bytes(
        (i * 31 + seed) % 256 for i in range(length % 256)
    )


def sha256_b64(body):
    return base64.b64encode(hashlib.sha256(body).digest()).decode()


def md5_hex(body):
    return hashlib.md5(body).hexdigest()


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

    key = "boto3/multipart parts.bin"
    parts = [data(5 * MIB, 1), data(5 * MIB, 2), data(MIB + 17, 3)]
    created = s3.create_multipart_upload(
        Bucket=bucket, Key=key, ContentType="application/x-test", ChecksumAlgorithm="SHA256"
    )
    upload_id = created["UploadId"]
    check(created["Bucket"] == bucket and created["Key"] == key, f"create: {created}")
    check(created.get("ChecksumAlgorithm") == "SHA256", f"create echoes the algorithm: {created}")
    check(created.get("ChecksumType") == "COMPOSITE", f"create names the checksum type: {created}")
    step("create-multipart", upload_id=upload_id)

    etags = []
    for number, body in enumerate(parts, start=1):
        answer = s3.upload_part(
            Bucket=bucket,
            Key=key,
            UploadId=upload_id,
            PartNumber=number,
            Body=body,
            ChecksumSHA256=sha256_b64(body),
        )
        # S3's part ETag is a quoted 32-digit hex hash of the bytes (the MD5
        # unless encrypted with KMS; the store derives it from the checked
        # SHA-256 when no Content-MD5 came: "may or may not be an MD5").
        check(re.fullmatch(r'"[0-9a-f]{32}"', answer["ETag"]), f"part {number} ETag: {answer}")
        check(answer["ETag"] not in etags, f"part {number} ETag repeats: {answer}")
        check(answer.get("ChecksumSHA256") == sha256_b64(body), f"part {number} checksum: {answer}")
        etags.append(answer["ETag"])
    step("upload-parts")

    try:
        s3.upload_part(
            Bucket=bucket,
            Key=key,
            UploadId=upload_id,
            PartNumber=2,
            Body=parts[0],
            ChecksumSHA256=sha256_b64(parts[1]),
        )
        check(False, "a damaged part was taken")
    except ClientError as e:
        check(e.response["Error"]["Code"] in ("BadDigest", "InvalidRequest"), f"{e.response}")
    try:
        s3.upload_part(
            Bucket=bucket,
            Key=key,
            UploadId=upload_id,
            PartNumber=2,
            Body=parts[1],
            ChecksumSHA256=sha256_b64(parts[1]),
            ContentMD5=base64.b64encode(hashlib.md5(parts[0]).digest()).decode(),
        )
        check(False, "a part unlike its Content-MD5 was taken")
    except ClientError as e:
        check(e.response["Error"]["Code"] == "BadDigest", f"{e.response}")
    # Sent with Content-MD5, a part's ETag is that MD5, as S3 answers.
    answer = s3.upload_part(
        Bucket=bucket,
        Key=key,
        UploadId=upload_id,
        PartNumber=3,
        Body=parts[2],
        ChecksumSHA256=sha256_b64(parts[2]),
        ContentMD5=base64.b64encode(hashlib.md5(parts[2]).digest()).decode(),
    )
    check(answer["ETag"] == f'"{md5_hex(parts[2])}"', f"part 3 with Content-MD5: {answer}")
    etags[2] = answer["ETag"]
    step("damaged-part-refused")

    listed = s3.list_parts(Bucket=bucket, Key=key, UploadId=upload_id)
    check(listed["Bucket"] == bucket and listed["Key"] == key, f"list: {listed}")
    check(listed["UploadId"] == upload_id and listed["IsTruncated"] is False, f"list: {listed}")
    got = [(p["PartNumber"], p["ETag"], p["Size"], p.get("ChecksumSHA256")) for p in listed["Parts"]]
    want = [(n, etags[n - 1], len(b), sha256_b64(b)) for n, b in enumerate(parts, start=1)]
    check(got == want, f"listed parts {got} != {want}")
    check(
        all(isinstance(p.get("LastModified"), datetime.datetime) for p in listed["Parts"]),
        f"every part has LastModified: {listed['Parts']}",
    )
    check(listed.get("StorageClass") == "STANDARD", f"list: {listed}")
    check(listed.get("ChecksumAlgorithm") == "SHA256", f"list: {listed}")
    step("list-parts")

    page = s3.list_parts(Bucket=bucket, Key=key, UploadId=upload_id, MaxParts=2)
    check(page["IsTruncated"] is True and page["NextPartNumberMarker"] == 2, f"page: {page}")
    rest = s3.list_parts(Bucket=bucket, Key=key, UploadId=upload_id, PartNumberMarker=2)
    check([p["PartNumber"] for p in rest["Parts"]] == [3], f"rest: {rest}")
    step("list-parts-paged")

    uploads = s3.list_multipart_uploads(Bucket=bucket, Prefix="boto3/")
    check(
        [(u["Key"], u["UploadId"]) for u in uploads.get("Uploads", [])] == [(key, upload_id)],
        f"uploads: {uploads}",
    )
    step("list-uploads")

    done = s3.complete_multipart_upload(
        Bucket=bucket,
        Key=key,
        UploadId=upload_id,
        MultipartUpload={
            "Parts": [
                {"PartNumber": n, "ETag": etags[n - 1], "ChecksumSHA256": sha256_b64(b)}
                for n, b in enumerate(parts, start=1)
            ]
        },
    )
    md5s = b"".join(bytes.fromhex(e.strip('"')) for e in etags)
    etag = f'"{hashlib.md5(md5s).hexdigest()}-{len(parts)}"'
    check(done["ETag"] == etag, f"complete ETag {done['ETag']} != {etag}")
    check(done["Bucket"] == bucket and done["Key"] == key, f"complete: {done}")
    location = f"{endpoint}/{bucket}/boto3/multipart%20parts.bin"
    check(done.get("Location") == location, f"Location {done.get('Location')} != {location}")
    composite = base64.b64encode(
        hashlib.sha256(b"".join(hashlib.sha256(b).digest() for b in parts)).digest()
    ).decode()
    check(done.get("ChecksumSHA256") == f"{composite}-3", f"complete checksum: {done}")
    check(done.get("ChecksumType") == "COMPOSITE", f"complete checksum type: {done}")
    step("complete-multipart", location=done["Location"])

    # Completing again answers the same object, as S3 does.
    again = s3.complete_multipart_upload(
        Bucket=bucket,
        Key=key,
        UploadId=upload_id,
        MultipartUpload={"Parts": [{"PartNumber": n, "ETag": e} for n, e in enumerate(etags, 1)]},
    )
    check(again["ETag"] == etag and again.get("Location") == location, f"again: {again}")
    step("complete-again")

    head = s3.head_object(Bucket=bucket, Key=key)
    whole = b"".join(parts)
    check(head["ContentLength"] == len(whole) and head["ETag"] == etag, f"head: {head}")
    check(head["ContentType"] == "application/x-test", f"head: {head}")
    body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    check(body == whole, "the object's bytes are the parts'")
    step("object-is-the-parts")

    aborted = s3.create_multipart_upload(Bucket=bucket, Key="boto3/aborted.bin")["UploadId"]
    s3.upload_part(
        Bucket=bucket, Key="boto3/aborted.bin", UploadId=aborted, PartNumber=1, Body=parts[0]
    )
    answer = s3.abort_multipart_upload(Bucket=bucket, Key="boto3/aborted.bin", UploadId=aborted)
    check(answer["ResponseMetadata"]["HTTPStatusCode"] == 204, f"abort: {answer}")
    try:
        s3.list_parts(Bucket=bucket, Key="boto3/aborted.bin", UploadId=aborted)
        check(False, "an aborted upload still lists parts")
    except ClientError as e:
        check(e.response["Error"]["Code"] == "NoSuchUpload", f"{e.response}")
        check(e.response["ResponseMetadata"]["HTTPStatusCode"] == 404, f"{e.response}")
    step("abort-multipart")

    # s3transfer, as `aws s3 cp` and boto3's upload_fileobj use it: parts
    # sent on several threads at once, with the SDK's default checksums.
    managed = data(13 * MIB + 5, 9)
    s3.upload_fileobj(
        io.BytesIO(managed),
        bucket,
        "boto3/managed.bin",
        Config=TransferConfig(multipart_threshold=5 * MIB, multipart_chunksize=5 * MIB, max_concurrency=4),
    )
    head = s3.head_object(Bucket=bucket, Key="boto3/managed.bin")
    check(head["ETag"].endswith('-3"'), f"managed upload in three parts: {head}")
    out = io.BytesIO()
    s3.download_fileobj(bucket, "boto3/managed.bin", out)
    check(out.getvalue() == managed, "the managed upload's bytes")
    step("managed-upload")

    print(json.dumps({"ok": True, "steps": STEPS}), flush=True)


if __name__ == "__main__":
    try:
        main()
    except Exception as e:  # noqa: BLE001 - reported to the Rust test as JSON
        print(json.dumps({"ok": False, "error": repr(e), "steps": STEPS}), flush=True)
        sys.exit(1)
