"""Is a database error worth retrying, and what does it say? Decided in one place, from data.

A JDBC failure reaches Python as a Py4J error wrapping a Java exception chain (Spark's own
exceptions on top, the driver's ``SQLException`` underneath, sometimes a ``java.io`` or
``java.net`` cause at the bottom). :func:`classify` walks that chain once and returns a
:class:`DatabaseError`: the SQLState and vendor code that decided, TRANSIENT or TERMINAL, and one
readable line with no Java stack trace and no secret.

The rules are tables, not if-chains: SQLState classes and exact states shared by every database,
then each database's own states and vendor codes, declared in its module of
:mod:`dvt_connect.databases` (dlt ``_make_database_exception``). A TERMINAL
verdict anywhere in the chain wins, so an authentication failure wrapped in a connection error
is never retried.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from enum import Enum
from types import MappingProxyType
from typing import Any

from dvt_connect.databases import DATABASES
from dvt_connect.databases.spec import ErrorRules
from dvt_connect.secrets import redact, redact_url


class Verdict(str, Enum):
    TRANSIENT = "transient"
    TERMINAL = "terminal"
    UNKNOWN = "unknown"


# Every database: SQLState classes from the SQL standard, and the states PostgreSQL made common.
COMMON_TRANSIENT_CLASSES = frozenset({
    "08",  # connection exception: refused, broken, reset
})
COMMON_TERMINAL_CLASSES = frozenset({
    "0A",  # feature not supported
    "22",  # data exception
    "23",  # integrity constraint violation
    "28",  # invalid authorization specification (bad user or password)
    "2B", "2D", "3B",  # transaction state errors that a re-run repeats
    "3D",  # invalid catalog name (database does not exist)
    "3F",  # invalid schema name
    "42",  # syntax error or access rule violation (missing table, bad column, no privilege)
    "44",  # with check option violation
})
COMMON_TRANSIENT_STATES = frozenset({
    "40001",  # serialization failure
    "40P01",  # deadlock detected
    "57P01",  # admin shutdown (pg_terminate_backend, server restart)
    "57P02",  # crash shutdown
    "57P03",  # cannot connect now (server starting up)
    "53300",  # too many connections
    "53400",  # configuration limit exceeded
    "HYT00", "HYT01",  # driver-side connection timeouts (ODBC-style states some drivers use)
})
COMMON_TERMINAL_STATES = frozenset({
    "57014",  # query cancelled (statement_timeout, pg_cancel_backend): the re-run would too
    "53100",  # disk full
})

# Each database's rules, from its module.
RULES: Mapping[str, ErrorRules] = MappingProxyType(
    {db.name: db.errors for db in DATABASES.values() if db.errors is not None})

# A database without its own rules reads vendor codes as any database we know would.
GENERIC = ErrorRules(product="the database", code_kinds=MappingProxyType(
    {code: kind for rules in RULES.values() for code, kind in rules.code_kinds.items()}))

# Java exceptions without a SQLState that mean the network failed under us.
_TRANSIENT_JAVA = (
    "java.net.SocketException",
    "java.net.SocketTimeoutException",
    "java.net.ConnectException",
    "java.io.EOFException",
    "java.sql.SQLTransientConnectionException",
    "java.sql.SQLRecoverableException",
)
_TERMINAL_JAVA = (
    "java.net.UnknownHostException",
    "java.lang.ClassNotFoundException",
)

# How each kind of error reads. {detail} is the server's own first line, cleaned.
_TEMPLATES: Mapping[str, str] = MappingProxyType({
    "auth": '{product} refused the login for user "{user}" at {where}: {detail} ({codes})',
    "database": "{product} at {where}: {detail} ({codes})",
    "connection": "the connection to {product} at {where} failed: {detail} ({codes})",
    "query": "{product} rejected the query: {detail} ({codes})",
    "other": "{product} error: {detail} ({codes})",
})
_KIND_BY_CLASS = {"28": "auth", "3D": "database", "08": "connection", "42": "query"}

# "No such table or view", by SQLState and by vendor code.
MISSING_TABLE_STATES = frozenset({"42P01", "42S02", "42X05", "42704"})
MISSING_TABLE_CODES = frozenset({1146, 942, 208})

_MAX_CHAIN = 32


@dataclass(frozen=True)
class ChainLink:
    """One Java exception of the chain, as plain Python values."""

    java_class: str
    message: str
    sql_state: str | None = None
    vendor_code: int | None = None
    is_sql: bool = False
    superclasses: tuple[str, ...] = ()


@dataclass(frozen=True)
class DatabaseError:
    """What a failure was: the deciding link, whether a re-run can help, and one line for people."""

    verdict: Verdict
    sql_state: str | None
    vendor_code: int | None
    message: str
    detail: str = ""  # the server's own words, cleaned (part of ``message``)
    chain: tuple[ChainLink, ...] = field(default=(), repr=False)

    @property
    def codes(self) -> str:
        """``SQLState 42S02, error 1146``: the codes a user can look up."""
        return ", ".join(part for part in (
            f"SQLState {self.sql_state}" if self.sql_state else "",
            f"error {self.vendor_code}" if self.vendor_code else "") if part)

    @property
    def transient(self) -> bool:
        return self.verdict is Verdict.TRANSIENT


def is_missing_table(error: DatabaseError) -> bool:
    return (error.sql_state or "") in MISSING_TABLE_STATES or (
        error.vendor_code in MISSING_TABLE_CODES)


def missing_driver(exc: BaseException, driver: str, url: str) -> bool:
    """True when ``exc`` says the JVM that ran the JDBC source has no ``driver`` (the class
    ``url`` needs): a ``ClassNotFoundException`` naming it, or DriverManager's "No suitable
    driver" for that URL's kind. Read from the Java chain on a classic session, and from the
    message of a Spark Connect error (``pyspark.errors.exceptions.connect``), which carries
    the server's exception as text."""
    names = re.compile(r"java\.lang\.ClassNotFoundException\)?:?\s*" + re.escape(driver)
                       + r"(?![\w$.])")
    kind = ":".join(url.split(":", 2)[:2]) + ":"  # jdbc:postgresql:
    suitable = re.compile(r"No suitable driver(?: found)?(?: for (jdbc:[\w+.-]+:))?")
    texts = [f"{link.java_class}: {link.message}" for link in java_chain(exc)]
    texts += [str(e) for e in _python_chain(exc)
              if type(e).__module__.startswith("pyspark.errors.exceptions.connect")]
    for text in texts:
        if names.search(text):
            return True
        match = suitable.search(text)
        if match and match.group(1) in (None, kind):
            return True
    return False


def _python_chain(exc: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


def rules_for(adapter_name: str | None) -> ErrorRules:
    """The rules of a database (by its type name); the generic ones for any other."""
    return RULES.get(adapter_name or "", GENERIC)


def classify_link(link: ChainLink, rules: ErrorRules) -> Verdict:
    """The verdict one link supports on its own: exact state, vendor code, class, Java type."""
    state = (link.sql_state or "").upper()
    if state in rules.terminal_states or state in COMMON_TERMINAL_STATES:
        return Verdict.TERMINAL
    if state in rules.transient_states or state in COMMON_TRANSIENT_STATES:
        return Verdict.TRANSIENT
    if link.vendor_code:
        if link.vendor_code in rules.terminal_codes:
            return Verdict.TERMINAL
        if link.vendor_code in rules.transient_codes:
            return Verdict.TRANSIENT
    if state[:2] in COMMON_TERMINAL_CLASSES:
        return Verdict.TERMINAL
    if state[:2] in COMMON_TRANSIENT_CLASSES:
        return Verdict.TRANSIENT
    types = (link.java_class, *link.superclasses)
    if any(t in _TERMINAL_JAVA for t in types):
        return Verdict.TERMINAL
    if any(t in _TRANSIENT_JAVA for t in types):
        return Verdict.TRANSIENT
    return Verdict.UNKNOWN


def classify_chain(chain: tuple[ChainLink, ...], rules: ErrorRules) -> tuple[Verdict, int | None]:
    """TERMINAL anywhere wins; else TRANSIENT anywhere; else UNKNOWN. Returns the deciding link's
    index (the deepest SQL link carrying that verdict, whose message is the server's own)."""
    verdicts = [classify_link(link, rules) for link in chain]
    for wanted in (Verdict.TERMINAL, Verdict.TRANSIENT):
        hits = [i for i, v in enumerate(verdicts) if v is wanted]
        if hits:
            sql_hits = [i for i in hits if chain[i].is_sql] or hits
            return wanted, sql_hits[-1]
    sql = [i for i, link in enumerate(chain) if link.is_sql]
    return Verdict.UNKNOWN, (sql[-1] if sql else None)


def classify(
    exc: BaseException,
    *,
    adapter_name: str | None = None,
    user: str | None = None,
    where: str | None = None,
) -> DatabaseError | None:
    """Classify and describe ``exc``; None when no Java exception with a SQL cause is in it."""
    chain = tuple(java_chain(exc))
    if not chain:
        return None
    rules = rules_for(adapter_name)
    verdict, index = classify_chain(chain, rules)
    if index is None:
        return None  # no SQL error and nothing we recognise: not a database failure
    link = chain[index]
    return DatabaseError(
        verdict=verdict,
        sql_state=_state_of(chain, index),
        vendor_code=link.vendor_code or None,
        message=describe_link(chain, index, rules, user=user, where=where),
        detail=redact(redact_url(clean_message(link.message, rules))),
        chain=chain,
    )


def describe_link(
    chain: tuple[ChainLink, ...],
    index: int,
    rules: ErrorRules,
    *,
    user: str | None = None,
    where: str | None = None,
) -> str:
    link = chain[index]
    state = _state_of(chain, index)
    code = link.vendor_code or None
    code_kinds = rules.code_kinds or GENERIC.code_kinds
    kind = code_kinds.get(code or 0) or _KIND_BY_CLASS.get((state or "")[:2], "other")
    codes = ", ".join(part for part in (f"SQLState {state}" if state else "",
                                        f"error {code}" if code else "") if part)
    text = _TEMPLATES[kind].format(
        product=rules.product,
        user=user or "?",
        where=where or "the configured address",
        detail=clean_message(link.message, rules),
        codes=codes or link.java_class.rsplit(".", 1)[-1],
    )
    return redact(redact_url(text))


def clean_message(message: str, rules: ErrorRules = GENERIC) -> str:
    """The server's first line, without driver prefixes, Java class names or trailing period."""
    lines = [line.strip() for line in (message or "").strip().splitlines() if line.strip()]
    text = lines[0] if lines else "no message"
    text = re.sub(r"^(?:[\w$]+\.)+[\w$]+(?:Exception|Error): ", "", text)
    for prefix in rules.message_prefixes:
        text = re.sub("^" + prefix, "", text)
    return text.rstrip(".").strip() or "no message"


def _state_of(chain: tuple[ChainLink, ...], index: int) -> str | None:
    """The deciding link's state, else the nearest state in the chain (MariaDB nests them)."""
    if chain[index].sql_state:
        return chain[index].sql_state
    for link in reversed(chain):
        if link.sql_state:
            return link.sql_state
    return None


# ---- reading the Java chain through Py4J -------------------------------------------------

def java_chain(exc: BaseException) -> Iterator[ChainLink]:
    """Every Java exception behind ``exc``: Python causes first, then ``getCause`` and
    ``getNextException`` (batch failures hide the real error there)."""
    for current in _python_chain(exc):
        java = _java_of(current)
        if java is not None:
            yield from _walk_java(java)
            return


def _java_of(exc: BaseException) -> Any:
    # Py4JJavaError carries java_exception; PySpark's converted errors keep it as _origin
    for attr in ("java_exception", "_origin"):
        value = getattr(exc, attr, None)
        if value is not None and hasattr(value, "getClass"):
            return value
    return None


def _walk_java(root: Any) -> Iterator[ChainLink]:
    queue = [root]
    seen: set[str] = set()
    count = 0
    while queue and count < _MAX_CHAIN:
        java = queue.pop(0)
        try:
            key = str(java.hashCode()) + ":" + str(java.getClass().getName())
        except Exception:  # noqa: BLE001 - the JVM may be gone; we report what we have
            return
        if key in seen:
            continue
        seen.add(key)
        count += 1
        link = _link(java)
        yield link
        try:
            cause = java.getCause()
            if link.is_sql:
                following = java.getNextException()
                if following is not None:
                    queue.append(following)
        except Exception:  # noqa: BLE001
            cause = None
        if cause is not None:
            queue.insert(0, cause)


def _link(java: Any) -> ChainLink:
    cls = java.getClass()
    name = str(cls.getName())
    supers: list[str] = []
    parent = cls.getSuperclass()
    while parent is not None and len(supers) < 8:
        parent_name = str(parent.getName())
        if parent_name in ("java.lang.Object", "java.lang.Throwable"):
            break
        supers.append(parent_name)
        parent = parent.getSuperclass()
    is_sql = name == "java.sql.SQLException" or "java.sql.SQLException" in supers
    state: str | None = None
    code: int | None = None
    if is_sql:
        state = java.getSQLState()
        code = int(java.getErrorCode())
    return ChainLink(
        java_class=name,
        message=str(java.getMessage() or ""),
        sql_state=str(state) if state else None,
        vendor_code=code,
        is_sql=is_sql,
        superclasses=tuple(supers),
    )
