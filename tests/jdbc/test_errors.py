"""Transient or terminal, and one readable line: from the SQLState and vendor code in the
Java exception chain (table-driven here; from real PostgreSQL/MariaDB failures in test_read_*)."""

from __future__ import annotations

import pytest

from dvt_connect import secrets
from dvt_connect.connectors.jdbc.errors import (
    ChainLink,
    Verdict,
    classify,
    classify_chain,
    clean_message,
    describe_link,
    rules_for,
)


def sql(state: str | None, code: int = 0, message: str = "boom",
        cls: str = "java.sql.SQLException") -> ChainLink:
    return ChainLink(java_class=cls, message=message, sql_state=state, vendor_code=code,
                     is_sql=True)


def java(cls: str, *supers: str, message: str = "io") -> ChainLink:
    return ChainLink(java_class=cls, message=message, superclasses=supers)


SPARK = ChainLink(java_class="org.apache.spark.SparkException", message="Job aborted")


@pytest.mark.parametrize("adapter, link, verdict", [
    # PostgreSQL
    ("postgres", sql("57P01"), Verdict.TRANSIENT),  # pg_terminate_backend
    ("postgres", sql("40001"), Verdict.TRANSIENT),  # serialization failure
    ("postgres", sql("40P01"), Verdict.TRANSIENT),  # deadlock
    ("postgres", sql("53300"), Verdict.TRANSIENT),  # too many connections
    ("postgres", sql("57P03"), Verdict.TRANSIENT),  # starting up
    ("postgres", sql("08006"), Verdict.TRANSIENT),  # connection failure
    ("postgres", sql("08001"), Verdict.TRANSIENT),  # refused
    ("postgres", sql("28P01"), Verdict.TERMINAL),  # bad password
    ("postgres", sql("28000"), Verdict.TERMINAL),  # no such role
    ("postgres", sql("42P01"), Verdict.TERMINAL),  # no such table
    ("postgres", sql("42601"), Verdict.TERMINAL),  # syntax
    ("postgres", sql("3D000"), Verdict.TERMINAL),  # no such database
    ("postgres", sql("57014"), Verdict.TERMINAL),  # statement timeout / cancel
    ("postgres", sql("22012"), Verdict.TERMINAL),  # division by zero
    # MySQL / MariaDB vendor codes decide where the SQLState is generic
    ("mariadb", sql("HY000", 1205), Verdict.TRANSIENT),  # lock wait timeout
    ("mariadb", sql("40001", 1213), Verdict.TRANSIENT),  # deadlock
    ("mariadb", sql("HY000", 2006), Verdict.TRANSIENT),  # gone away
    ("mariadb", sql("HY000", 2013), Verdict.TRANSIENT),  # lost connection
    ("mariadb", sql("70100", 1927), Verdict.TRANSIENT),  # connection killed
    ("mysql", sql("08S01", 0), Verdict.TRANSIENT),  # communications link failure
    ("mariadb", sql("28000", 1045), Verdict.TERMINAL),  # access denied
    ("mariadb", sql("42S02", 1146), Verdict.TERMINAL),  # no such table
    ("mariadb", sql("42000", 1064), Verdict.TERMINAL),  # syntax
    ("mariadb", sql("70100", 1317), Verdict.TERMINAL),  # query interrupted (KILL QUERY)
    ("mariadb", sql("HY000", 9999), Verdict.UNKNOWN),
    # others
    ("sqlserver", sql("40001", 1205), Verdict.TRANSIENT),
    ("sqlserver", sql("S0001", 18456), Verdict.TERMINAL),
    ("oracle", sql("61000", 60), Verdict.TRANSIENT),
    ("oracle", sql("72000", 1017), Verdict.TERMINAL),
    ("derby", sql("40XL1"), Verdict.TRANSIENT),  # lock timeout
    # no SQLState: the network under the driver
    ("postgres", java("java.io.EOFException", "java.io.IOException"), Verdict.TRANSIENT),
    ("postgres", java("java.net.SocketTimeoutException", "java.io.InterruptedIOException"),
     Verdict.TRANSIENT),
    ("postgres", java("java.net.UnknownHostException", "java.io.IOException"), Verdict.TERMINAL),
    ("postgres", java("java.lang.OutOfMemoryError"), Verdict.UNKNOWN),
])
def test_classification_table(adapter: str, link: ChainLink, verdict: Verdict) -> None:
    assert classify_chain((SPARK, link), rules_for(adapter))[0] is verdict


def test_terminal_anywhere_in_the_chain_wins() -> None:
    # MariaDB wraps an access-denied in a connection error
    chain = (SPARK, sql("08000", 0, "Could not connect"), sql("28000", 1045, "Access denied"))
    verdict, index = classify_chain(chain, rules_for("mariadb"))
    assert (verdict, index) == (Verdict.TERMINAL, 2)


def test_deciding_link_is_the_deepest_sql_error() -> None:
    chain = (SPARK, sql("08000", 0, "(conn=5) unexpected end of stream"),
             sql("08000", 0, "unexpected end of stream"),
             java("java.io.EOFException", "java.io.IOException", message="eof"))
    verdict, index = classify_chain(chain, rules_for("mariadb"))
    assert (verdict, index) == (Verdict.TRANSIENT, 2)


@pytest.mark.parametrize("adapter, link, expected", [
    ("postgres", sql("28P01", 0, 'FATAL: password authentication failed for user "ann"'),
     'PostgreSQL refused the login for user "ann" at db.example:5432/prod: password '
     'authentication failed for user "ann" (SQLState 28P01)'),
    ("postgres", sql("42P01", 0, 'ERROR: relation "public.nope" does not exist\n  Position: 15'),
     'PostgreSQL rejected the query: relation "public.nope" does not exist (SQLState 42P01)'),
    ("mariadb", sql("28000", 1045, "Could not connect to address=(host=h)(port=3306)(type=master)"
                    " : (conn=45) Access denied for user 'ann'@'h' (using password: YES)\n"
                    "Current charset is UTF-8."),
     "MariaDB refused the login for user \"ann\" at db.example:5432/prod: Access denied for "
     "user 'ann'@'h' (using password: YES) (SQLState 28000, error 1045)"),
    ("postgres", sql("57P01", 0, "FATAL: terminating connection due to administrator command"),
     "PostgreSQL error: terminating connection due to administrator command (SQLState 57P01)"),
    ("postgres", sql("08001", 0, "Connection to 127.0.0.1:5499 refused."),
     "the connection to PostgreSQL at db.example:5432/prod failed: Connection to "
     "127.0.0.1:5499 refused (SQLState 08001)"),
])
def test_one_readable_line(adapter: str, link: ChainLink, expected: str) -> None:
    text = describe_link((SPARK, link), 1, rules_for(adapter), user="ann",
                         where="db.example:5432/prod")
    assert text == expected
    assert "\n" not in text and "at org." not in text


def test_secrets_never_reach_the_message() -> None:
    secrets.register("s3cr3t-pass")
    link = sql("08001", 0, "could not open jdbc:postgresql://h/db?password=s3cr3t-pass&x=1")
    text = describe_link((link,), 0, rules_for("postgres"))
    assert "s3cr3t-pass" not in text and secrets.MASK in text


def test_java_class_prefixes_are_stripped() -> None:
    assert clean_message("org.postgresql.util.PSQLException: ERROR: bad thing.",
                         rules_for("postgres")) == "bad thing"


def test_a_python_error_is_not_a_database_error() -> None:
    assert classify(ValueError("nope"), adapter_name="postgres") is None


@pytest.mark.parametrize("message, driver, url, missing", [
    # what a Spark Connect server answers when its JVM has no such class (from a real server:
    # tests/cluster/test_connect.py starts one without the PostgreSQL driver)
    ("(java.lang.ClassNotFoundException) org.postgresql.Driver", "org.postgresql.Driver",
     "jdbc:postgresql://h/db", True),
    ("(java.lang.ClassNotFoundException) org.postgresql.Driver", "org.mariadb.jdbc.Driver",
     "jdbc:mysql://h/db", False),  # the other output's driver: not ours to report
    ("(java.lang.ClassNotFoundException) org.postgresql.DriverX", "org.postgresql.Driver",
     "jdbc:postgresql://h/db", False),
    ("(java.sql.SQLException) No suitable driver found for jdbc:postgresql://h/db",
     "org.postgresql.Driver", "jdbc:postgresql://h/db", True),
    ("(java.sql.SQLException) No suitable driver found for jdbc:postgresql://h/db",
     "org.mariadb.jdbc.Driver", "jdbc:mysql://h/db", False),
    ("(java.sql.SQLException) No suitable driver", "org.postgresql.Driver",
     "jdbc:postgresql://h/db", True),
])
def test_a_connect_server_without_the_driver_is_recognised(
        message: str, driver: str, url: str, missing: bool) -> None:
    from pyspark.errors.exceptions.connect import UnknownException

    from dvt_connect.connectors.jdbc.errors import missing_driver

    assert missing_driver(UnknownException(message=message), driver, url) is missing
    # the same words from anything but Spark Connect (or a Java chain) are not read
    assert missing_driver(RuntimeError(message), driver, url) is False


def test_a_missing_server_driver_names_the_server_class_coordinates_and_the_fix() -> None:
    from dvt_connect.errors import ServerDriverMissingError

    error = ServerDriverMissingError("sc://h:15002", "org.postgresql.Driver",
                                     ["org.postgresql:postgresql:42.7.4"], "pg")
    assert error.exit_code == 1  # as a jar missing locally (JarsMissingError)
    assert str(error).startswith(
        "the Spark Connect server sc://h:15002 has no JDBC driver org.postgresql.Driver "
        "(output `pg` needs org.postgresql:postgresql:42.7.4); nothing was written.")
    assert "`dvt server start`" in str(error)
    assert "spark.jars.packages=org.postgresql:postgresql:42.7.4" in str(error)
