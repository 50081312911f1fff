"""Secrets out of everything pytest-ragcost says or writes.

A URL a user gives (``--ragcost-history=postgresql://...``, ``--ragcost-prometheus=
pushgateway:https://...``, ``OTEL_EXPORTER_OTLP_ENDPOINT``) may carry a password, a token
in its query or an access key. Before such a URL, or a message that may quote it (a
driver's connection error), reaches a warning, a summary line, a file, the history, a span
or a label, it goes through here:

* :func:`redact_url` masks the user information (``user:***@``; a user name alone is
  masked too, as it is often a token, except for PostgreSQL, where it is the role) and the
  value of every query or fragment parameter whose name looks like a secret (``password``,
  ``sslpassword``, ``token``, ``access_token``, ``api_key``, ``X-Amz-Signature`` ...).
  It never raises, and also handles what does not parse as a URL
  (``postgresql://user:pw@[::1/x``: everything before the last ``@`` is user
  information then), an authority without a scheme (``user:pw@host:4318``, which an
  exporter or a gateway client still quotes back), and libpq's ``key=value`` connection
  strings;
* :func:`secrets_in` lists the literal secrets of a URL (as written and percent-decoded),
  so :func:`redact_text` can remove them from any message, whatever a library quoted;
* :func:`redact_text` masks every URL in a free text, every ``key=value`` pair with a
  secret-looking key, and the given literal secrets.

A leaf module: it imports nothing from the package.
"""

from __future__ import annotations

import re
import urllib.parse
from collections.abc import Iterable

__all__ = ["MASK", "is_secret_key", "redact_text", "redact_url", "secrets_in"]

#: what a secret is replaced by
MASK = "***"

#: a key is a secret when one of its words (split on ``_ - .`` and case changes) is one of
#: these ...
_SECRET_WORDS = frozenset({
    "pass", "passwd", "password", "passphrase", "pwd", "secret", "token", "key", "apikey",
    "auth", "authorization", "credential", "credentials", "sig", "signature", "session",
    "sessionid", "cookie", "bearer", "jwt", "sas", "private", "otp",
})
#: ... or when its lower-cased text contains one of these
_SECRET_PARTS = ("password", "passwd", "secret", "apikey", "accesskey", "privatekey",
                 "signature", "credential", "accesstoken", "authtoken", "refreshtoken",
                 "idtoken", "sessionid")
#: the shortest literal secret :func:`redact_text` replaces wherever it appears: a shorter
#: one would mangle every message (its place in a URL or ``key=value`` is still masked)
MIN_LITERAL = 3

_SCHEME_RE = re.compile(r"^([A-Za-z][A-Za-z0-9+.\-]*)://(.*)$", re.DOTALL)
# ``user:pw@host...`` or ``//user@host`` without a scheme: no white space, no ``=`` before
# the last ``@`` (that is a ``key=value`` connection string, masked by its keys), and not
# a file path (``./runs@2024/history.sqlite3``)
_SCHEMELESS_RE = re.compile(r"^(?://)?((?![/.~])[^\s=]*)@([^\s@]*)$")
_WORD_RE = re.compile(r"[A-Z]?[a-z0-9]+|[A-Z]+(?![a-z])")
# a parameter inside a query or fragment: separator, name, value
_PARAM_RE = re.compile(r"([?&;#])([^=&;#?]*)=([^&;#]*)")
# a URL inside a free text: up to white space or a quote/bracket that closes it
_URL_IN_TEXT_RE = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*://[^\s\"'<>`]+")
# ``key=value`` / ``key = 'value'`` in a free text or a libpq connection string
_PAIR_RE = re.compile(
    r"(?<![\w.\-])([A-Za-z_][\w.\-]*)(\s*[=:]\s*)((?i:bearer|basic|token)\s+[^\s&;,'\"]+"
    r"|'(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\"|[^\s&;,'\"]+)"
)


def is_secret_key(name: str) -> bool:
    """True when a parameter named ``name`` probably holds a secret."""
    low = name.lower()
    if any(part in low.replace("_", "").replace("-", "").replace(".", "") for part in
           _SECRET_PARTS):
        return True
    words = {w.lower() for chunk in re.split(r"[_\-.\s]+", name) for w in _WORD_RE.findall(chunk)}
    return bool(words & _SECRET_WORDS)


def _mask_params(text: str) -> str:
    """``text`` (a query, a fragment, the rest of a URL) with secret parameters masked."""

    def one(m: re.Match[str]) -> str:
        sep, key, value = m.groups()
        if value and is_secret_key(urllib.parse.unquote_plus(key)):
            return f"{sep}{key}={MASK}"
        return m.group(0)

    return _PARAM_RE.sub(one, text)


def _split_userinfo(rest: str) -> tuple[str | None, str]:
    """(user information, the rest after it) of what follows ``scheme://``.

    When the URL parses and its only ``@`` is in the authority, that is the split. When
    it does not parse (a broken IPv6 bracket), or an ``@`` stands outside the authority (a
    password with an unescaped ``/``, ``?`` or ``#``), everything before the last ``@`` is
    taken as user information: masking too much beats showing a password."""
    if "@" not in rest:
        return None, rest
    try:
        netloc = urllib.parse.urlsplit("x://" + rest).netloc
    except ValueError:
        netloc = None
    if netloc is not None and "@" in netloc and rest.count("@") == netloc.count("@"):
        userinfo, _, host = netloc.rpartition("@")
        return userinfo, host + rest[len(netloc):]
    cut = rest.rfind("@")
    return rest[:cut], rest[cut + 1:]


def _bare_authority(text: str) -> tuple[str, str, str] | None:
    """(what comes before, user information, the rest) of ``user:pw@host...`` written
    without a scheme, also at the end of a path (a history value without its
    ``postgresql://`` is taken for a file name and shown with its directory); None for
    anything else, such as a file name with an ``@`` but no ``user:`` before it."""
    t = text.strip()
    m = _SCHEMELESS_RE.match(t)
    if m is not None:
        return ("//" if t.startswith("//") else ""), m.group(1), m.group(2)
    at = t.rfind("@")
    if at < 0 or any(c.isspace() for c in t) or "=" in t[:at]:
        return None
    start = t.rfind("/", 0, at) + 1
    if ":" not in t[start:at]:
        return None
    return t[:start], t[start:at], t[at + 1:]


def _masked_userinfo(scheme: str, userinfo: str) -> str:
    user, colon, _password = userinfo.partition(":")
    if colon:
        if user and not re.search(r"[/?#\[\]]", user):
            return f"{user}:{MASK}"
        return MASK
    if scheme.lower() in ("postgresql", "postgres") and re.fullmatch(r"[\w.\-]{1,63}", user):
        return user  # a PostgreSQL role name, not a secret
    return MASK


def redact_url(url: str) -> str:
    """``url`` with its user information and secret parameters masked (never raises).

    Text without a ``scheme://`` is treated as a libpq connection string
    (``host=db password=...``): secret ``key=value`` pairs are masked.
    """
    text = str(url)
    m = _SCHEME_RE.match(text.strip())
    if m is None:
        bare = _bare_authority(text)
        if bare is None:
            return _mask_pairs(text)
        lead, bare_userinfo, bare_after = bare
        return f"{lead}{_masked_userinfo('', bare_userinfo)}@{_mask_params(bare_after)}"
    scheme, rest = m.groups()
    userinfo, after = _split_userinfo(rest)
    shown = after if userinfo is None else f"{_masked_userinfo(scheme, userinfo)}@{after}"
    return f"{scheme}://{_mask_params(shown)}"


def secrets_in(url: str | None) -> tuple[str, ...]:
    """The literal secrets in ``url``: its password (or token-like user name) and the
    values of its secret parameters, as written and percent-decoded, longest first."""
    if not url:
        return ()
    text = str(url)
    found: set[str] = set()
    m = _SCHEME_RE.match(text.strip())
    bare = _bare_authority(text) if m is None else None
    if m is not None or bare is not None:
        scheme = m.group(1) if m is not None else ""
        userinfo: str | None
        if m is not None:
            userinfo, rest = _split_userinfo(m.group(2))
        else:
            _lead, userinfo, rest = bare or ("", "", "")
        if userinfo is not None:
            user, colon, password = userinfo.partition(":")
            if colon:
                found.add(password)
                if _masked_userinfo(scheme, userinfo) == MASK:
                    found.add(userinfo)
            elif _masked_userinfo(scheme, userinfo) == MASK:
                found.add(user)
        for pm in _PARAM_RE.finditer(rest):
            _sep, key, value = pm.groups()
            if value and is_secret_key(urllib.parse.unquote_plus(key)):
                found.add(value)
    else:
        for pm in _PAIR_RE.finditer(text):
            key, _eq, value = pm.groups()
            if is_secret_key(key):
                found.add(value.strip("'\""))
    out: set[str] = set()
    for secret in found:
        for form in (secret, urllib.parse.unquote(secret), urllib.parse.unquote_plus(secret)):
            if form:
                out.add(form)
    return tuple(sorted(out, key=lambda s: (-len(s), s)))


def _mask_pairs(text: str) -> str:
    def one(m: re.Match[str]) -> str:
        key, eq, _value = m.groups()
        if not is_secret_key(key):
            return m.group(0)
        return f"{key}{eq}{MASK}"

    return _PAIR_RE.sub(one, text)


def redact_text(text: str, secrets: Iterable[str] = ()) -> str:
    """``text`` (a message, an exception's words) with every URL in it redacted, every
    secret ``key=value`` masked and each of ``secrets`` (at least :data:`MIN_LITERAL`
    characters) replaced by :data:`MASK`."""
    out = str(text)
    for secret in sorted(set(secrets), key=len, reverse=True):
        if len(secret) >= MIN_LITERAL:
            out = out.replace(secret, MASK)
    out = _URL_IN_TEXT_RE.sub(lambda m: redact_url(m.group(0)), out)
    return _mask_pairs(out)
