"""The one redaction of URLs a user gives (pytest_ragcost.redact): user information, secret
query and fragment parameters, URLs that do not parse, libpq connection strings, and the
literal secrets of a URL wherever a library's message quotes them."""

from __future__ import annotations

import urllib.parse

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pytest_ragcost.redact import MASK, is_secret_key, redact_text, redact_url, secrets_in

SENTINEL = "S3ntinel-Pw"


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("postgresql://bob:S3ntinel-Pw@db:5432/runs", "postgresql://bob:***@db:5432/runs"),
        ("postgresql://bob@db/runs", "postgresql://bob@db/runs"),
        ("postgresql://bob:S3ntinel-Pw@[::1/x", "postgresql://bob:***@[::1/x"),
        ("postgresql://db/runs?sslmode=require&password=S3ntinel-Pw",
         "postgresql://db/runs?sslmode=require&password=***"),
        ("http://127.0.0.1:9091?branch=main&token=S3ntinel-Pw",
         "http://127.0.0.1:9091?branch=main&token=***"),
        ("https://S3ntinel-Pw@gateway:9091/", "https://***@gateway:9091/"),
        ("http://u:pa#S3ntinel-Pw@host/db", "http://u:***@host/db"),
        ("https://h/v1/traces#access_token=S3ntinel-Pw", "https://h/v1/traces#access_token=***"),
        ("https://h/x?X-Amz-Signature=S3ntinel-Pw&X-Amz-Date=1",
         "https://h/x?X-Amz-Signature=***&X-Amz-Date=1"),
        ("host=db password='S3ntinel Pw' dbname=runs", "host=db password=*** dbname=runs"),
        ("http://127.0.0.1:9091/metrics", "http://127.0.0.1:9091/metrics"),
        ("bob:S3ntinel-Pw@collector:4318", "bob:***@collector:4318"),
        ("S3ntinel-Pw@gateway:9091?token=S3ntinel-Pw", "***@gateway:9091?token=***"),
        ("/srv/h host=db password=S3ntinel-Pw", "/srv/h host=db password=***"),
        ("/srv/app/u.x:S3ntinel-Pw@[::1", "/srv/app/u.x:***@[::1"),
        ("/srv/app/bob:S3ntinel-Pw@db/runs", "/srv/app/bob:***@db/runs"),
    ],
)
def test_a_url_is_shown_without_its_secrets(url: str, shown: str) -> None:
    assert redact_url(url) == shown
    assert "S3ntinel" not in redact_url(url)


@pytest.mark.parametrize("key", ["password", "sslpassword", "PGPASSWORD", "token", "access_token",
                                 "api_key", "apiKey", "X-Api-Key", "client_secret",
                                 "AWSAccessKeyId", "X-Amz-Signature", "sig", "auth", "passwd"])
def test_secret_looking_keys(key: str) -> None:
    assert is_secret_key(key)


@pytest.mark.parametrize("key", ["branch", "sslmode", "tokens_prompt", "job", "monkey", "host",
                                 "dbname", "region", "application_name"])
def test_ordinary_keys_are_kept(key: str) -> None:
    assert not is_secret_key(key)


def test_a_driver_message_quoting_the_url_is_scrubbed() -> None:
    url = "postgresql://bob:S3ntinel-Pw@[::1/x"
    message = f'missing "=" after "{url}" in connection info string'
    out = redact_text(message, secrets_in(url))
    assert "S3ntinel" not in out
    assert "connection info string" in out


def test_a_path_with_an_at_sign_is_not_taken_for_user_information() -> None:
    assert redact_url("./runs@2024/history.sqlite3") == "./runs@2024/history.sqlite3"
    assert redact_url("/srv/runs@2024/h.sqlite3") == "/srv/runs@2024/h.sqlite3"


def test_a_url_without_a_scheme_quoted_by_a_library_is_scrubbed() -> None:
    url = "bob:S3ntinel-Pw@collector:4318"
    out = redact_text(f"No connection adapters were found for '{url}/v1/traces'",
                      secrets_in(url))
    assert "S3ntinel" not in out


def test_a_percent_encoded_password_is_scrubbed_in_both_forms() -> None:
    url = "postgresql://bob:S3ntinel%40Pw@db/x"
    assert set(secrets_in(url)) >= {"S3ntinel%40Pw", "S3ntinel@Pw"}
    assert "S3ntinel" not in redact_text("FATAL: password S3ntinel@Pw rejected", secrets_in(url))


def test_header_values_in_free_text_are_masked() -> None:
    out = redact_text("Authorization: Bearer S3ntinel.abc api_key=S3ntinel tokens_prompt=5")
    assert "S3ntinel" not in out
    assert "tokens_prompt=5" in out


_host = st.sampled_from(["db", "127.0.0.1", "[::1]", "[::1", "gw.example:9091", "h"])
_scheme = st.sampled_from(["postgresql", "postgres", "http", "https"])
_noise = st.text(alphabet="abcXYZ019-._~%:/?#[]@!$&'()*+,;=", max_size=6)
_secret_key = st.sampled_from(["password", "sslpassword", "token", "access_token", "api_key",
                               "X-Amz-Signature", "client_secret"])


@st.composite
def urls_with_a_secret(draw: st.DrawFn) -> str:
    """URLs (well-formed or not) holding the sentinel where a secret goes."""
    scheme, host = draw(_scheme), draw(_host)
    secret = SENTINEL + draw(_noise.filter(lambda s: "@" not in s))
    place = draw(st.sampled_from(["password", "query", "fragment", "user", "both"]))
    path = draw(st.sampled_from(["", "/", "/db", "/v1/traces", "/x y"]))
    extra = draw(st.sampled_from(["", "sslmode=require", "branch=main"]))
    if place in ("password", "both"):
        url = f"{scheme}://{draw(st.sampled_from(['bob', 'u', 'a.b']))}:{secret}@{host}{path}"
    elif place == "user":
        url = f"{scheme}://{secret.replace(':', '')}@{host}{path}"
    else:
        url = f"{scheme}://{host}{path}"
    if place in ("query", "both"):
        query = [f"{draw(_secret_key)}={urllib.parse.quote(secret, safe='')}"]
        if extra:
            query.insert(draw(st.integers(0, 1)), extra)
        url += "?" + "&".join(query)
    if place == "fragment":
        url += f"#{draw(_secret_key)}={urllib.parse.quote(secret, safe='')}"
    return url


@settings(max_examples=300, deadline=None)
@given(urls_with_a_secret())
def test_no_url_shows_its_secret(url: str) -> None:
    if url.startswith("postgres") and "@" in url and ":" not in url.split("://", 1)[1].split(
            "@")[0] and "?" not in url and "#" not in url:
        # a PostgreSQL user name alone is the role and is shown; the sentinel is a password
        return
    assert SENTINEL not in redact_url(url)
    assert SENTINEL not in redact_text(f"could not connect to {url}: refused",
                                       secrets_in(url))
    # and whatever a library makes of the URL, decoded or quoted
    for form in (urllib.parse.unquote(url), repr(url)):
        assert SENTINEL not in redact_text(f"error: {form}", secrets_in(url))


@given(st.text(max_size=80))
def test_redaction_never_raises(text: str) -> None:
    assert isinstance(redact_url(text), str)
    assert isinstance(redact_text(text, secrets_in(text)), str)


def test_the_mask_is_three_stars() -> None:
    assert MASK == "***"
