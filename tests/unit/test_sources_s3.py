"""ingest.sources.s3: the S3 source against moto's server behind a cutting proxy
(tests/loopback_sources.py): anonymous first then the credentials, denied listings, missing
buckets and files, a cut object resumed with If-Match, unchanged objects skipped, only the
tables asked for."""

from __future__ import annotations

import json
import socket

import pytest

from ingest.schemas import ALL_FILES
from ingest.sources import SourceError, download
from tests.loopback_sources import (
    BIG,
    OPTIONAL,
    REQUIRED,
    assert_all_downloaded,
    imdb_tsv_gz,
    make_bucket,
    one_line,
    quiet_fetch,
)

pytestmark = pytest.mark.usefixtures("sources_isolated")


def test_s3_with_credentials(moto_s3, imdb_data, tmp_path, aws_credentials):
    client, proxy = moto_s3
    # tagged names, and decoys: a deeper key and a "-" name that are not IMDb files of the prefix
    names = {name: f"{name}.small.tsv.gz" for name in REQUIRED}
    bucket = make_bucket(client, imdb_data, names=names)
    client.put_object(Bucket=bucket, Key="imdb/2024/old/title.basics.tsv.gz", Body=b"old")
    client.put_object(Bucket=bucket, Key="imdb/2024/title.basics-movie.tsv", Body=b"movie")
    result = quiet_fetch(f"s3://{bucket}/imdb/2024", tmp_path, s3_endpoint_url=proxy.url)
    assert_all_downloaded(result, tmp_path, imdb_data, REQUIRED)
    assert result.missing == tuple(OPTIONAL) and result.kind == "s3"
    basics = result.get(BIG)
    assert basics.path.name == "title.basics.small.tsv.gz"
    assert basics.url == f"s3://{bucket}/imdb/2024/title.basics.small.tsv.gz"
    assert basics.etag.startswith('"') and basics.last_modified.endswith("+00:00")
    # anonymous first: the listing and a first GET went unsigned; the private objects were
    # denied (403) and the rest of the fetch used the credentials
    assert result.auth == "credentials"
    assert not proxy.requests[0]["signed"]
    object_gets = proxy.gets()
    assert not object_gets[0]["signed"] and object_gets[-1]["signed"]
    assert sum(not r["signed"] for r in object_gets) <= 4  # at most one per worker thread


def test_s3_anonymous_first_on_public_objects(moto_s3, imdb_data, tmp_path, aws_credentials):
    client, proxy = moto_s3
    bucket = make_bucket(client, imdb_data, public=True)
    result = quiet_fetch(f"s3://{bucket}/imdb/2024/", tmp_path, s3_endpoint_url=proxy.url)
    assert_all_downloaded(result, tmp_path, imdb_data, imdb_data)
    assert result.auth == "anonymous"
    assert proxy.requests and not any(r["signed"] for r in proxy.requests)


def test_s3_anonymous_without_credentials(moto_s3, imdb_data, tmp_path):
    client, proxy = moto_s3
    bucket = make_bucket(client, imdb_data, public=True)
    result = quiet_fetch(f"s3://{bucket}/imdb/2024", tmp_path, s3_endpoint_url=proxy.url)
    assert_all_downloaded(result, tmp_path, imdb_data, imdb_data)
    assert result.auth == "anonymous"


def test_s3_private_without_credentials(moto_s3, imdb_data, tmp_path):
    client, proxy = moto_s3
    bucket = make_bucket(client, imdb_data)
    with pytest.raises(SourceError) as exc:
        quiet_fetch(f"s3://{bucket}/imdb/2024", tmp_path, s3_endpoint_url=proxy.url)
    text = one_line(exc.value)
    assert text.startswith(f"403 Forbidden for s3://{bucket}/imdb/2024/")
    assert "AWS_PROFILE" in text and "--source https://datasets.imdbws.com/" in text


def test_s3_bucket_policy_denies_everyone(moto_s3, imdb_data, tmp_path, aws_credentials):
    client, proxy = moto_s3
    bucket = make_bucket(client, imdb_data)
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Deny",
                "Principal": "*",
                "Action": "s3:GetObject",
                "Resource": f"arn:aws:s3:::{bucket}/*",
            }
        ],
    }
    client.put_bucket_policy(Bucket=bucket, Policy=json.dumps(policy))
    with pytest.raises(SourceError) as exc:
        quiet_fetch(f"s3://{bucket}/imdb/2024", tmp_path, s3_endpoint_url=proxy.url)
    text = one_line(exc.value)
    assert text.startswith(f"403 Forbidden for s3://{bucket}/imdb/2024/")
    assert "also with your AWS credentials" in text
    gets = proxy.gets()
    assert not gets[0]["signed"] and any(r["signed"] for r in gets)  # both were tried


def test_s3_listing_denied_anonymously_uses_credentials(
    moto_s3, imdb_data, tmp_path, aws_credentials
):
    client, proxy = moto_s3
    bucket = make_bucket(client, imdb_data, public=True)
    proxy.deny_unsigned_list = True
    result = quiet_fetch(f"s3://{bucket}/imdb/2024", tmp_path, s3_endpoint_url=proxy.url)
    assert_all_downloaded(result, tmp_path, imdb_data, imdb_data)
    assert result.auth == "credentials"
    lists = [r for r in proxy.requests if r["path"] == f"/{bucket}"]
    assert [r["signed"] for r in lists] == [False, True]


def test_s3_listing_denied_without_credentials_gets_known_names(moto_s3, imdb_data, tmp_path):
    client, proxy = moto_s3
    bucket = make_bucket(client, imdb_data, public=True)
    proxy.deny_unsigned_list = True
    result = quiet_fetch(f"s3://{bucket}/imdb/2024", tmp_path, s3_endpoint_url=proxy.url)
    assert_all_downloaded(result, tmp_path, imdb_data, imdb_data)
    assert result.auth == "anonymous"
    # ... but when the objects are private too, the listing's 403 is the error
    private = make_bucket(client, imdb_data)
    with pytest.raises(SourceError) as exc:
        quiet_fetch(f"s3://{private}/imdb/2024", tmp_path / "b", s3_endpoint_url=proxy.url)
    assert one_line(exc.value).startswith(f"403 Forbidden for s3://{private}/imdb/2024/:")


def test_s3_missing_bucket(moto_s3, tmp_path, aws_credentials):
    _, proxy = moto_s3
    with pytest.raises(SourceError) as exc:
        quiet_fetch("s3://no-such-bucket-here/imdb", tmp_path, s3_endpoint_url=proxy.url)
    text = one_line(exc.value)
    assert text.startswith("404 Not Found for s3://no-such-bucket-here/: no such bucket")


def test_s3_missing_required_file_under_prefix(moto_s3, imdb_data, tmp_path, aws_credentials):
    client, proxy = moto_s3
    bucket = make_bucket(client, imdb_data, names={"title.basics": "title.basics.tsv.gz"})
    with pytest.raises(SourceError) as exc:
        quiet_fetch(f"s3://{bucket}/imdb/2024", tmp_path, s3_endpoint_url=proxy.url)
    assert f"no title.ratings file under s3://{bucket}/imdb/2024/" in one_line(exc.value)


def test_s3_cut_mid_object_resumes_with_ranged_get(
    moto_s3, imdb_data, tmp_path, aws_credentials, monkeypatch
):
    # botocore's read(n) drops what it got in a call that ends with a broken connection: with
    # small reads most of the received bytes are on disk when the proxy cuts
    monkeypatch.setattr(download, "CHUNK_SIZE", 8 * 1024)
    client, proxy = moto_s3
    bucket = make_bucket(client, imdb_data, public=True)
    key_path = f"/{bucket}/imdb/2024/{BIG}.tsv.gz"
    size = len(imdb_data[BIG])
    proxy.cut[key_path] = size // 2  # response headers + about half the body
    result = quiet_fetch(f"s3://{bucket}/imdb/2024", tmp_path, s3_endpoint_url=proxy.url)
    assert_all_downloaded(result, tmp_path, imdb_data, imdb_data)
    gets = proxy.gets(f"{BIG}.tsv.gz")
    assert len(gets) == 2 and gets[0]["range"] is None
    basics = result.get(BIG)
    assert 0 < basics.resumed_from < size // 2
    assert gets[1]["range"] == f"bytes={basics.resumed_from}-"
    assert gets[1]["if_match"] == basics.etag  # resumed only if the object is unchanged


def test_s3_rerun_skips_unchanged(moto_s3, imdb_data, tmp_path, aws_credentials):
    client, proxy = moto_s3
    bucket = make_bucket(client, imdb_data, public=True)
    quiet_fetch(f"s3://{bucket}/imdb/2024", tmp_path, s3_endpoint_url=proxy.url)
    gets = len(proxy.gets())
    assert gets == len(ALL_FILES)
    new = imdb_tsv_gz(ALL_FILES[3], 50, seed=9)  # name.basics changes
    client.put_object(
        Bucket=bucket, Key="imdb/2024/name.basics.tsv.gz", Body=new, ACL="public-read"
    )
    again = quiet_fetch(f"s3://{bucket}/imdb/2024", tmp_path, s3_endpoint_url=proxy.url)
    assert [r["path"] for r in proxy.gets()[gets:]] == [f"/{bucket}/imdb/2024/name.basics.tsv.gz"]
    assert [f.name for f in again.files if not f.skipped] == ["name.basics"]
    assert again.get("name.basics").path.read_bytes() == new


def test_s3_endpoint_unreachable(tmp_path):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(SourceError) as exc:
        quiet_fetch("s3://bucket/imdb", tmp_path, s3_endpoint_url=f"http://127.0.0.1:{port}")
    text = one_line(exc.value)
    assert text.startswith(f"cannot connect to http://127.0.0.1:{port} for s3://bucket/imdb/")


def test_s3_fetches_only_the_tables_asked_for(moto_s3, imdb_data, tmp_path):
    from ingest.schemas import tables_to_ingest

    client, proxy = moto_s3
    bucket = make_bucket(client, imdb_data, public=True)
    result = quiet_fetch(
        f"s3://{bucket}/imdb/2024/",
        tmp_path,
        s3_endpoint_url=proxy.url,
        tables=tables_to_ingest(["title.episode"]),
    )
    assert [f.name for f in result.files] == [
        "title.basics",
        "title.ratings",
        "title.principals",
        "name.basics",
        "title.akas",
        "title.episode",
    ]
    assert result.skipped == ("title.crew",)
    assert not proxy.gets("title.crew.tsv.gz") and proxy.gets("title.episode.tsv.gz")


def test_s3_parts_are_named_not_passed_over(moto_s3, imdb_data, tmp_path):
    client, proxy = moto_s3
    names = {name: f"{name}.tsv.gz" for name in REQUIRED}
    bucket = make_bucket(client, imdb_data, public=True, names=names)
    for part in ("aa", "ab"):
        client.put_object(
            Bucket=bucket,
            Key=f"imdb/2024/title.akas.tsv.gz.part-{part}",
            Body=b"x",
            ACL="public-read",
        )
    with pytest.raises(SourceError) as exc:
        quiet_fetch(f"s3://{bucket}/imdb/2024/", tmp_path, s3_endpoint_url=proxy.url)
    assert one_line(exc.value) == (
        f"s3://{bucket}/imdb/2024/: title.akas is there only as title.akas.tsv.gz.part-aa, "
        "title.akas.tsv.gz.part-ab: parts and folders per table are read from a folder source; "
        "download them into a folder and pass it as --source, or upload the whole "
        "title.akas.tsv.gz"
    )
