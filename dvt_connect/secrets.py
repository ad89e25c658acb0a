"""A process-wide register of secret values, and the redaction every output goes through.

Config loading registers each secret it renders (password fields, keys, tokens, values of
``DVT_ENV_SECRET_*`` variables); consoles, the CLI error handler and the logging filter call
:func:`redact` on everything they emit, so a secret cannot leave by any path we print through.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Iterable

MASK = "****"
# Shorter values would mask ordinary words; such secrets are still masked field by field.
_MIN_LENGTH = 4

_lock = threading.Lock()
_secrets: set[str] = set()
_pattern: re.Pattern[str] | None = None


def register(value: object) -> None:
    """Remember a secret (strings, and every string inside lists and mappings)."""
    global _pattern
    values = list(_flatten(value))
    if not values:
        return
    with _lock:
        for v in values:
            for variant in (v, v.strip()):
                if len(variant) >= _MIN_LENGTH:
                    _secrets.add(variant)
        _pattern = None


def _flatten(value: object) -> Iterable[str]:
    if isinstance(value, str):
        yield value
        # a multi-line secret (a PEM key) may be printed one line at a time
        if "\n" in value:
            yield from (line for line in value.splitlines() if len(line.strip()) >= 8)
    elif isinstance(value, dict):
        for v in value.values():
            yield from _flatten(v)
    elif isinstance(value, (list, tuple, set)):
        for v in value:
            yield from _flatten(v)


def redact(text: str) -> str:
    """Replace every registered secret in ``text`` with ``****``."""
    global _pattern
    if not _secrets or not text:
        return text
    with _lock:
        if _pattern is None:
            ordered = sorted(_secrets, key=len, reverse=True)
            _pattern = re.compile("|".join(re.escape(s) for s in ordered))
        pattern = _pattern
    return pattern.sub(MASK, text)


# Spark's own `spark.redaction.regex` (its UI and event log mask these), plus credential files.
_SECRET_CONF_KEY = re.compile(
    r"secret|password|token|access[.]?key|[.]key([.]|$)|credential|sas", re.I)


def is_secret_conf_key(key: str) -> bool:
    """Whether a Spark setting's value is a secret, judged by its name as Spark judges it."""
    return bool(_SECRET_CONF_KEY.search(key))


def masked_conf(conf: dict[str, str]) -> dict[str, str]:
    """Spark settings as they may be shown: secret-named values masked, the rest redacted."""
    return {k: MASK if is_secret_conf_key(k) else redact(v) for k, v in conf.items()}


def clear() -> None:
    """Forget every secret (tests)."""
    global _pattern
    with _lock:
        _secrets.clear()
        _pattern = None


_URL_SECRET = re.compile(r"((?:password|pwd|secret|token|sig)=)[^&;]*", re.IGNORECASE)


_URL_USERINFO = re.compile(r"://[^/@:]*:([^/@]*)@")


def register_url(url: str) -> None:
    """Register the credentials a URL carries (``user:password@``, ``password=``, ``sig=``)."""
    for match in _URL_USERINFO.finditer(url):
        register(match.group(1))
    for match in _URL_SECRET.finditer(url):
        register(match.group(0)[len(match.group(1)):])


def redact_url(url: str) -> str:
    """Mask credentials embedded in a URL (userinfo and password-like parameters)."""
    url = re.sub(r"(://[^/@:]*:)[^/@]*@", r"\1" + MASK + "@", url)
    return redact(_URL_SECRET.sub(r"\1" + MASK, url))


class RedactingFilter(logging.Filter):
    """Logging filter that masks registered secrets in every record."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        redacted = redact(message)
        if redacted != message:
            record.msg, record.args = redacted, None
        return True


def install_logging_filter() -> None:
    root = logging.getLogger()
    if not any(isinstance(f, RedactingFilter) for f in root.filters):
        root.addFilter(RedactingFilter())
    for handler in root.handlers:
        if not any(isinstance(f, RedactingFilter) for f in handler.filters):
            handler.addFilter(RedactingFilter())
