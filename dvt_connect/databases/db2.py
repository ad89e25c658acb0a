"""IBM Db2: JDBC only."""

from __future__ import annotations

from dvt_connect.databases.spec import Database, ErrorRules

DB2 = Database(
    name="db2",
    kind="jdbc",
    url_template="jdbc:db2://{host}:{port}/{database}",
    default_port=50000,
    driver_class="com.ibm.db2.jcc.DB2Driver",
    driver_packages=("com.ibm.db2:jcc:11.5.9.0",),
    required=("host", "user", "database"),
    aliases={"pass": "password"},
    errors=ErrorRules(product="Db2", transient_codes=frozenset({-911, -913, -30081})),
)

DATABASES = (DB2,)
