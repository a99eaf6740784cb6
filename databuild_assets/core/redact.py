"""Redaction of secrets by name and by value shape. Pure functions, callable from anywhere
that writes text others can read: manifests, events, logs, CLI output, Dagster metadata.

Two rules, both applied everywhere:

* by name: a value whose env name looks secret (``*_PASS``, ``*PASSWORD*``, ``*TOKEN*``,
  ``*SECRET*``, ``*KEY*``, ``*CREDENTIAL*``, ``*AUTH*``, ``*DSN*``) or is listed in a
  config's ``secret_env`` is replaced by ``***``;
* by shape: passwords in URLs (``scheme://user:PW@host``), PEM blocks, ``Bearer``/``Basic``
  tokens, ``Authorization:``/``AUTH`` headers and ``password=...`` pairs inside any text.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

MASK = "***"

_SECRET_NAME = re.compile(
    r"(PASS($|_|W)|PASSWORD|PASSWD|PWD|TOKEN|SECRET|(^|_)KEY($|_)|API_?KEY|PRIVATE|"
    r"CREDENTIAL|(^|_)AUTH|DSN|COOKIE|SESSION)", re.I)
_URL_PW = re.compile(r"(?P<head>[A-Za-z][A-Za-z0-9+.\-]*://[^\s:/@]*:)(?P<pw>[^\s@/]+)(?=@)")
_PEM = re.compile(r"-----BEGIN [A-Z0-9 ]+-----.*?(-----END [A-Z0-9 ]+-----|\Z)", re.S)
_BEARER = re.compile(r"\b(Bearer|Basic|Token)\s+[A-Za-z0-9._~+/=\-]{4,}", re.I)
_HEADER = re.compile(
    r"\b(?P<name>(?:proxy-)?authorization|x-api-key|api-key|x-auth-token|auth|cookie)"
    r"(?P<sep>\s*[:=]\s*)(?P<val>[^\r\n,;&]+)", re.I)
_PAIR = re.compile(
    r"(?P<name>\b[\w.\-]*(?:password|passwd|pwd|secret|token|api_?key)[\w.\-]*)"
    r"(?P<sep>\s*[=:]\s*)(?P<val>[^\s,;&]+)", re.I)


def is_secret_name(name: str) -> bool:
    """Does an environment variable / setting name look like it holds a secret?"""
    return bool(_SECRET_NAME.search(name or ""))


def redact_text(text: str, secrets: Iterable[str] = ()) -> str:
    """``text`` with known secret values and secret-shaped substrings masked."""
    if not isinstance(text, str) or not text:
        return text
    for s in sorted({s for s in secrets if isinstance(s, str) and len(s) >= 3},
                    key=len, reverse=True):
        text = text.replace(s, MASK)
    if "-----BEGIN" in text:
        text = _PEM.sub(MASK, text)
    if "://" in text:
        text = _URL_PW.sub(lambda m: m.group("head") + MASK, text)
    text = _BEARER.sub(lambda m: f"{m.group(1)} {MASK}", text)
    text = _HEADER.sub(_mask_header, text)
    return _PAIR.sub(lambda m: m.group("name") + m.group("sep") + MASK, text)


def secret_parts(text: str) -> list[str]:
    """The substrings of ``text`` that redact_text masks by shape (and each line of a PEM
    block), so the same secrets are caught again when they appear piecewise in logs."""
    if not isinstance(text, str) or not text:
        return []
    parts: list[str] = []
    for m in _PEM.finditer(text):
        parts += [m.group(0)] + [ln.strip() for ln in m.group(0).splitlines() if ln.strip()]
    parts += [m.group("pw") for m in _URL_PW.finditer(text)]
    parts += [m.group(0).split(None, 1)[1] for m in _BEARER.finditer(text)]
    for rx in (_HEADER, _PAIR):
        for m in rx.finditer(text):
            val = m.group("val").strip()
            parts += [val] + val.split()[1:]
    return [p for p in parts if len(p) >= 4 and p != MASK]


def runtime_secrets(env: Mapping[str, str], args: Iterable[str],
                    secret_names: Iterable[str] = ()) -> list[str]:
    """Every secret value a config hands to its job: secret env values (whole and per line)
    and secret-shaped parts of other env values and args. Logs and errors mask them."""
    names = set(secret_names)
    out: list[str] = []
    for k, v in env.items():
        if k in names or is_secret_name(k):
            out += [v] + [ln.strip() for ln in str(v).splitlines() if ln.strip()]
        else:
            out += secret_parts(str(v))
    args = list(args)
    for i, a in enumerate(args):
        out += secret_parts(a)
        if i and args[i - 1].startswith("-") and is_secret_name(
                args[i - 1].lstrip("-").replace("-", "_")):
            out.append(a)
    return sorted({s for s in out if len(s) >= 3}, key=len, reverse=True)


def _mask_header(m: re.Match) -> str:
    val = m.group("val")
    kind = val.split(None, 1)[0] if val.split() else ""
    keep = kind + " " if kind.lower() in ("bearer", "basic", "token") and " " in val.strip() \
        else ""
    return m.group("name") + m.group("sep") + keep + MASK


def redact_env(env: Mapping[str, str], secret_names: Iterable[str] = (),
               secrets: Iterable[str] = ()) -> dict[str, str]:
    """An env mapping as it may be stored: secret names masked, other values by shape."""
    names = set(secret_names)
    return {k: (MASK if k in names or is_secret_name(k) else redact_text(str(v), secrets))
            for k, v in env.items()}


def redact_args(args: Iterable[str], secrets: Iterable[str] = ()) -> list[str]:
    """argv as it may be stored: ``--password X`` masks X, other values by shape."""
    out: list[str] = []
    secrets = list(secrets)
    mask_next = False
    for a in args:
        if mask_next:
            out.append(MASK)
            mask_next = False
            continue
        flag = a.lstrip("-")
        if a.startswith("-") and "=" not in a and is_secret_name(flag.replace("-", "_")):
            mask_next = True
        out.append(redact_text(a, secrets))
    return out


def redact_obj(obj, secrets: Iterable[str] = ()):
    """Redact every string inside a JSON-like value (dict keys that look secret mask their
    value whole)."""
    secrets = list(secrets)
    if isinstance(obj, str):
        return redact_text(obj, secrets)
    if isinstance(obj, Mapping):
        return {k: (MASK if isinstance(k, str) and is_secret_name(k) and isinstance(v, str)
                    and v else redact_obj(v, secrets)) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [redact_obj(v, secrets) for v in obj]
    return obj


def split_url_password(url: str) -> tuple[str, str | None]:
    """(url without its password, the password or None) for ``scheme://user:PW@host/...``."""
    m = _URL_PW.search(url or "")
    if not m:
        return url, None
    return url[: m.start("pw") - 1] + url[m.end("pw"):], m.group("pw")


def with_url_password(url: str, password: str | None) -> str:
    """Put ``password`` back into a password-free ``scheme://user@host`` URL."""
    if not password or "://" not in url or split_url_password(url)[1]:
        return url
    scheme, rest = url.split("://", 1)
    if "@" not in rest.split("/", 1)[0]:
        return url
    user, host = rest.split("@", 1)
    return f"{scheme}://{user}:{password}@{host}"
