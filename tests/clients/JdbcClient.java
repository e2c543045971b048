// pgJDBC against a PostgreSQL-wire server: connect, DDL, PreparedStatement with typed parameters,
// batches, getObject types, ResultSetMetaData, transactions, RETURNING and a unique violation.
// Run as a single-file program: java -cp /usr/share/java/postgresql.jar JdbcClient.java
// The connection comes from the libpq env vars (PGHOST, PGPORT, PGUSER, PGPASSWORD, PGDATABASE).
// Prints one line per check and exits 1 on the first failure.

import java.math.BigDecimal;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.ResultSetMetaData;
import java.sql.SQLException;
import java.sql.Statement;
import java.sql.Timestamp;
import java.sql.Types;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Objects;
import java.util.Properties;

public class JdbcClient {
    static final String T = "jdbc_items";

    interface Step<R> {
        R run() throws Exception;
    }

    static void fail(String name, String message) {
        System.out.println("FAIL " + name + ": " + message);
        System.out.flush();
        System.exit(1);
    }

    static String describe(Throwable e) {
        String state = e instanceof SQLException ? ((SQLException) e).getSQLState() : null;
        return e.getClass().getSimpleName() + ": " + e.getMessage() + " (sqlstate " + state + ")";
    }

    static <R> R step(String name, Step<R> step) {
        try {
            return step.run();
        } catch (Exception e) {
            fail(name, describe(e));
            return null;
        }
    }

    /** Passes when got is a kind (if not null) and equals want (if not null). */
    static void check(String name, Object got, Object want, Class<?> kind) {
        if (kind != null && !kind.isInstance(got)) {
            fail(name, "got " + got + " of " + (got == null ? "null" : got.getClass().getName()) + ", want a " + kind.getName());
        }
        if (want != null && !Objects.deepEquals(got, want)) {
            fail(name, "got " + got + ", want " + want);
        }
        System.out.println("ok " + name);
    }

    /** An INTEGER column: Integer (int4) on PostgreSQL, Long (int8) on the gateway, where
     * SQLite's INTEGER is 64-bit; either way exactly {@code want}. */
    static void checkInteger(String name, Object got, long want) {
        boolean ok = (got instanceof Integer i && i == want) || (got instanceof Long l && l == want);
        if (!ok) {
            fail(name, "got " + got + " of " + (got == null ? "null" : got.getClass().getName()) + ", want the integer " + want);
        }
        System.out.println("ok " + name);
    }

    static String env(String name, String fallback) {
        String v = System.getenv(name);
        return v == null || v.isEmpty() ? fallback : v;
    }

    public static void main(String[] args) {
        String url = "jdbc:postgresql://" + env("PGHOST", "127.0.0.1") + ":" + env("PGPORT", "5432") + "/"
                + env("PGDATABASE", "postgres");
        Properties props = new Properties();
        props.setProperty("user", env("PGUSER", "postgres"));
        props.setProperty("password", env("PGPASSWORD", ""));
        // Server-side prepared statements from the second execution on, so the batch below uses them.
        props.setProperty("prepareThreshold", "2");
        Connection c = step("connect", () -> DriverManager.getConnection(url, props));
        System.out.println("ok connect");
        check("isValid", step("isValid", () -> c.isValid(5)), true, Boolean.class);
        Statement st = step("createStatement", c::createStatement);
        ResultSet one = step("select 1", () -> st.executeQuery("SELECT 1"));
        step("next", one::next);
        check("select 1", step("getObject", () -> one.getObject(1)), 1, Integer.class);

        step("drop old table", () -> st.execute("DROP TABLE IF EXISTS " + T));
        step("create table", () -> st.execute("CREATE TABLE " + T + " ("
                + "id SERIAL PRIMARY KEY, name VARCHAR(40) NOT NULL UNIQUE, qty INTEGER, big BIGINT,"
                + " price DOUBLE PRECISION, active BOOLEAN, data BYTEA, amount NUMERIC(10, 2),"
                + " created TIMESTAMP, note TEXT)"));
        System.out.println("ok create table");

        PreparedStatement ins = step("prepare insert", () -> c.prepareStatement("INSERT INTO " + T
                + " (name, qty, big, price, active, data, amount, created, note) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id"));
        step("bind", () -> {
            ins.setString(1, "alpha");
            ins.setInt(2, 7);
            ins.setLong(3, 1L << 40);
            ins.setDouble(4, 2.5);
            ins.setBoolean(5, true);
            ins.setBytes(6, new byte[] {0, 1, (byte) 0xff});
            ins.setBigDecimal(7, new BigDecimal("12.34"));
            ins.setTimestamp(8, Timestamp.valueOf("2024-01-02 03:04:05"));
            ins.setNull(9, Types.VARCHAR);
            return null;
        });
        ResultSet ret = step("insert returning", ins::executeQuery);
        step("next", ret::next);
        checkInteger("insert returning id", step("getObject", () -> ret.getObject(1)), 1);

        PreparedStatement sel = step("prepare select", () -> c.prepareStatement("SELECT id, name, qty, big, price,"
                + " active, data, amount, created, note FROM " + T + " WHERE name = ?"));
        step("bind", () -> { sel.setString(1, "alpha"); return null; });
        ResultSet r = step("select typed row", sel::executeQuery);
        check("a row", step("next", r::next), true, Boolean.class);
        check("varchar column", step("get", () -> r.getObject("name")), "alpha", String.class);
        checkInteger("int column", step("get", () -> r.getObject("qty")), 7);
        check("bigint column", step("get", () -> r.getObject("big")), 1L << 40, Long.class);
        check("double precision column", step("get", () -> r.getObject("price")), 2.5, Double.class);
        check("boolean column", step("get", () -> r.getObject("active")), true, Boolean.class);
        check("bytea column", step("get", () -> r.getObject("data")), new byte[] {0, 1, (byte) 0xff}, byte[].class);
        check("numeric column", step("get", () -> r.getObject("amount")), new BigDecimal("12.34"), BigDecimal.class);
        check("timestamp column", step("get", () -> r.getObject("created")), Timestamp.valueOf("2024-01-02 03:04:05"), Timestamp.class);
        check("NULL is null", step("get", () -> r.getObject("note")) == null && step("wasNull", r::wasNull), true, Boolean.class);
        ResultSetMetaData md = step("metadata", r::getMetaData);
        List<String> typeNames = new ArrayList<>();
        for (int i = 2; i <= 10; i++) {
            final int col = i;
            typeNames.add(step("getColumnTypeName", () -> md.getColumnTypeName(col)));
        }
        // INTEGER is int4 on PostgreSQL and int8 on the gateway (SQLite's INTEGER is 64-bit).
        if ("int8".equals(typeNames.get(1))) {
            typeNames.set(1, "int4");
        }
        check("column type names", typeNames, Arrays.asList("varchar", "int4", "int8", "float8", "bool",
                "bytea", "numeric", "timestamp", "text"), null);
        // qty is INTEGER: java.sql.Types.INTEGER on PostgreSQL, BIGINT on the gateway (int8).
        int qtyType = step("getColumnType", () -> md.getColumnType(3));
        check("column java types", step("getColumnType", () -> Arrays.asList(qtyType == Types.BIGINT ? Types.INTEGER : qtyType, md.getColumnType(5), md.getColumnType(6), md.getColumnType(7))),
                Arrays.asList(Types.INTEGER, Types.DOUBLE, Types.BIT, Types.BINARY), null);
        check("nullability", step("isNullable", () -> Arrays.asList(md.isNullable(2), md.isNullable(3))),
                Arrays.asList(ResultSetMetaData.columnNoNulls, ResultSetMetaData.columnNullable), null);

        PreparedStatement batch = step("prepare batch", () -> c.prepareStatement("INSERT INTO " + T
                + " (name, qty, price, active) VALUES (?, ?, ?, ?)"));
        step("addBatch", () -> {
            for (int i = 1; i <= 5; i++) {
                batch.setString(1, "bulk" + i);
                batch.setInt(2, i);
                batch.setDouble(3, i * 0.5);
                batch.setBoolean(4, i % 2 == 0);
                batch.addBatch();
            }
            return null;
        });
        int[] counts = step("executeBatch", batch::executeBatch);
        check("executeBatch counts", counts, new int[] {1, 1, 1, 1, 1}, int[].class);
        PreparedStatement many = step("prepare select many", () -> c.prepareStatement("SELECT name, qty, price, active FROM " + T
                + " WHERE name LIKE ? AND qty >= ? ORDER BY qty"));
        for (int round = 1; round <= 3; round++) {
            // Repeated executions switch pgJDBC to a named server-side statement.
            List<String> got = new ArrayList<>();
            step("select many", () -> {
                many.setString(1, "bulk%");
                many.setInt(2, 2);
                try (ResultSet m = many.executeQuery()) {
                    while (m.next()) {
                        got.add(m.getString(1) + "/" + m.getInt(2) + "/" + m.getDouble(3) + "/" + m.getBoolean(4));
                    }
                }
                return null;
            });
            check("select many rows, execution " + round, got, Arrays.asList("bulk2/2/1.0/true", "bulk3/3/1.5/false",
                    "bulk4/4/2.0/true", "bulk5/5/2.5/false"), null);
        }

        // A rolled-back transaction leaves nothing.
        step("autocommit off", () -> { c.setAutoCommit(false); return null; });
        step("insert in transaction", () -> st.executeUpdate("INSERT INTO " + T + " (name, qty) VALUES ('ghost', 99)"));
        step("rollback", () -> { c.rollback(); return null; });
        ResultSet g = step("count ghost", () -> st.executeQuery("SELECT count(*) FROM " + T + " WHERE name = 'ghost'"));
        step("next", g::next);
        check("rollback leaves nothing", step("get", () -> g.getObject(1)), 0L, Long.class);
        step("commit", () -> { c.commit(); return null; });

        int updated = step("update", () -> st.executeUpdate("UPDATE " + T + " SET qty = qty + 100 WHERE name = 'bulk1'"));
        check("update count", updated, 1, Integer.class);
        step("commit", () -> { c.commit(); return null; });
        ResultSet k = step("select updated", () -> st.executeQuery("SELECT qty FROM " + T + " WHERE name = 'bulk1'"));
        step("next", k::next);
        check("commit keeps the update", step("get", () -> k.getInt(1)), 101, Integer.class);
        step("commit", () -> { c.commit(); return null; });

        try {
            st.executeUpdate("INSERT INTO " + T + " (name) VALUES ('alpha')");
            fail("unique violation", "a duplicate name was accepted");
        } catch (SQLException e) {
            check("unique violation is a PSQLException", e.getClass().getName(), "org.postgresql.util.PSQLException", String.class);
            check("unique violation is 23505", e.getSQLState(), "23505", String.class);
        }
        try {
            st.executeQuery("SELECT 1");
            fail("aborted transaction", "a statement after an error was accepted");
        } catch (SQLException e) {
            check("aborted transaction refuses statements / 25P02", e.getSQLState(), "25P02", String.class);
        }
        step("rollback", () -> { c.rollback(); return null; });
        step("autocommit on", () -> { c.setAutoCommit(true); return null; });

        PreparedStatement up = step("prepare upsert", () -> c.prepareStatement("INSERT INTO " + T
                + " (name, qty) VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET qty = excluded.qty RETURNING qty"));
        ResultSet u = step("upsert", () -> { up.setString(1, "alpha"); up.setInt(2, 70); return up.executeQuery(); });
        step("next", u::next);
        checkInteger("on conflict do update", step("get", () -> u.getObject(1)), 70);

        step("drop table", () -> st.execute("DROP TABLE " + T));
        System.out.println("ok drop table");
        step("close", () -> { c.close(); return null; });
        System.out.println("ok all");
    }
}
