"""Is a database error worth retrying, and what does it say? Decided in one place, from data.

A JDBC failure reaches Python as a Py4J error wrapping a Java exception chain (Spark's own
exceptions on top, the driver's ``SQLException`` underneath, sometimes a ``java.io`` or
``java.net`` cause at the bottom). :func:`classify` walks that chain once and returns a
:class:`DatabaseError`: the SQLState and vendor code that decided, TRANSIENT or TERMINAL, and one
readable line with no Java stack trace and no secret.

The rules are tables, not if-chains: SQLState classes and exact states shared by every database,
then each dialect's own states and vendor codes (dlt ``_make_database_exception``). A TERMINAL
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

from dvt_connect.secrets import redact, redact_url


class Verdict(str, Enum):
    TRANSIENT = "transient"
    TERMINAL = "terminal"
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class ErrorRules:
    """One dialect's retry rules. States are exact SQLStates; classes their first two characters.

    Exact states and vendor codes are looked at before classes, so ``57014`` (query cancelled)
    can be terminal while other ``57`` states are transient.
    """

    product: str
    transient_states: frozenset[str] = frozenset()
    terminal_states: frozenset[str] = frozenset()
    transient_codes: frozenset[int] = frozenset()
    terminal_codes: frozenset[int] = frozenset()
    # driver noise before the server's own words, e.g. MariaDB's "(conn=12) "
    message_prefixes: tuple[str, ...] = ()


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

_MYSQL_TRANSIENT_CODES = frozenset({
    1040,  # too many connections
    1053,  # server shutdown in progress
    1152, 1158, 1159, 1160, 1161,  # aborted connection, network read/write errors
    1205,  # lock wait timeout exceeded
    1213,  # deadlock found when trying to get lock
    1927,  # connection was killed (MariaDB)
    2002, 2003, 2005,  # can't connect (socket, TCP, unknown host while DNS flaps)
    2006,  # server has gone away
    2013,  # lost connection to server during query
    2055,  # lost connection (system error)
})
_MYSQL_TERMINAL_CODES = frozenset({
    1044, 1045,  # access denied (database, user/password)
    1049,  # unknown database
    1054,  # unknown column
    1064,  # syntax error
    1142, 1143,  # command / column denied
    1146,  # table doesn't exist
    1317,  # query execution was interrupted (KILL QUERY, max_statement_time)
    3024,  # max_execution_time exceeded
})
_MYSQL_PREFIXES = (r"Could not connect to address=\S+ : ", r"\(conn=\d+\) ")

RULES: Mapping[str, ErrorRules] = MappingProxyType({
    "postgres": ErrorRules(product="PostgreSQL", message_prefixes=(r"(?:ERROR|FATAL): ",)),
    "redshift": ErrorRules(product="Redshift", message_prefixes=(r"\[Amazon\]\[\w+\] \(\d+\) ",
                                                                  r"(?:ERROR|FATAL): ")),
    "mysql": ErrorRules(product="MySQL", transient_codes=_MYSQL_TRANSIENT_CODES,
                        terminal_codes=_MYSQL_TERMINAL_CODES, message_prefixes=_MYSQL_PREFIXES),
    "mariadb": ErrorRules(product="MariaDB", transient_codes=_MYSQL_TRANSIENT_CODES,
                          terminal_codes=_MYSQL_TERMINAL_CODES, message_prefixes=_MYSQL_PREFIXES),
    "sqlserver": ErrorRules(
        product="SQL Server",
        transient_codes=frozenset({
            1205,  # deadlock victim
            4060, 40197, 40501, 40613, 49918, 49919, 49920,  # Azure SQL: busy, failover
            10928, 10929,  # resource limits
        }),
        terminal_codes=frozenset({18456, 208, 207, 102, 229}),  # login, object, column, syntax
    ),
    "oracle": ErrorRules(
        product="Oracle",
        transient_codes=frozenset({
            60,  # deadlock
            3113, 3114, 3135,  # end-of-file on communication channel, not connected
            12514, 12516, 12519, 12520, 12521, 12528, 12537,  # listener: busy, not ready
            12541, 12560, 12571,
        }),
        terminal_codes=frozenset({1017, 942, 904, 900, 1031}),  # login, table, column, syntax
    ),
    "derby": ErrorRules(product="Derby", transient_states=frozenset({"40XL1", "40XL2"})),
    "snowflake": ErrorRules(product="Snowflake"),
    "db2": ErrorRules(product="Db2", transient_codes=frozenset({-911, -913, -30081})),
})

GENERIC = ErrorRules(product="the database")

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
_KIND_BY_CODE = {1044: "auth", 1045: "auth", 18456: "auth", 1017: "auth", 1049: "database",
                 1146: "query", 1054: "query", 1064: "query", 942: "query", 904: "query"}

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


def rules_for(adapter_name: str | None) -> ErrorRules:
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
    kind = _KIND_BY_CODE.get(code or 0) or _KIND_BY_CLASS.get((state or "")[:2], "other")
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
    seen_python: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen_python:
        seen_python.add(id(current))
        java = _java_of(current)
        if java is not None:
            yield from _walk_java(java)
            return
        current = current.__cause__ or current.__context__


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
