//! fail2ban's database layout, version 4: the same tables, columns, constraints and index
//! names, so a file written by either program is read by the other.

use rusqlite::{Connection, OptionalExtension};

use super::DbError;

/// The schema version fail2ban 0.11 .. 1.1 writes into `fail2banDb`.
pub const VERSION: i64 = 4;

const FAIL2BANDB: &str = "CREATE TABLE IF NOT EXISTS fail2banDb(version INTEGER);";

const JAILS: &str = "CREATE TABLE IF NOT EXISTS jails(\
name TEXT NOT NULL UNIQUE, \
enabled INTEGER NOT NULL DEFAULT 1\
);\
CREATE INDEX IF NOT EXISTS jails_name ON jails(name);";

const LOGS: &str = "CREATE TABLE IF NOT EXISTS logs(\
jail TEXT NOT NULL, \
path TEXT, \
firstlinemd5 TEXT, \
lastfilepos INTEGER DEFAULT 0, \
FOREIGN KEY(jail) REFERENCES jails(name) ON DELETE CASCADE, \
UNIQUE(jail, path),\
UNIQUE(jail, path, firstlinemd5)\
);\
CREATE INDEX IF NOT EXISTS logs_path ON logs(path);\
CREATE INDEX IF NOT EXISTS logs_jail_path ON logs(jail, path);";

const BANS: &str = "CREATE TABLE IF NOT EXISTS bans(\
jail TEXT NOT NULL, \
ip TEXT, \
timeofban INTEGER NOT NULL, \
bantime INTEGER NOT NULL, \
bancount INTEGER NOT NULL default 1, \
data JSON, \
FOREIGN KEY(jail) REFERENCES jails(name) \
);\
CREATE INDEX IF NOT EXISTS bans_jail_timeofban_ip ON bans(jail, timeofban);\
CREATE INDEX IF NOT EXISTS bans_jail_ip ON bans(jail, ip);\
CREATE INDEX IF NOT EXISTS bans_ip ON bans(ip);";

const BIPS: &str = "CREATE TABLE IF NOT EXISTS bips(\
ip TEXT NOT NULL, \
jail TEXT NOT NULL, \
timeofban INTEGER NOT NULL, \
bantime INTEGER NOT NULL, \
bancount INTEGER NOT NULL default 1, \
data JSON, \
PRIMARY KEY(ip, jail), \
FOREIGN KEY(jail) REFERENCES jails(name) \
);\
CREATE INDEX IF NOT EXISTS bips_timeofban ON bips(timeofban);\
CREATE INDEX IF NOT EXISTS bips_ip ON bips(ip);";

fn table_exists(conn: &Connection, name: &str) -> Result<bool, DbError> {
    Ok(conn
        .query_row(
            "SELECT 1 FROM sqlite_master WHERE type='table' AND name=?1",
            [name],
            |_| Ok(()),
        )
        .optional()?
        .is_some())
}

/// Creates what is missing and brings an older fail2ban layout up to version 4 (as fail2ban
/// does: v1 logs are rebuilt, v2 bans get ban time -2 "unknown" and count 1, v3 gains `bips`
/// filled from `bans`). Returns the version found before (None for a new file).
pub fn ensure(conn: &Connection) -> Result<Option<i64>, DbError> {
    let found: Option<i64> = if table_exists(conn, "fail2banDb")? {
        conn.query_row("SELECT version FROM fail2banDb LIMIT 1", [], |r| r.get(0))
            .optional()?
    } else {
        None
    };
    match found {
        None => {
            let tx = conn.unchecked_transaction()?;
            for s in [FAIL2BANDB, JAILS, LOGS, BANS, BIPS] {
                tx.execute_batch(s)?;
            }
            tx.execute(
                "INSERT INTO fail2banDb(version) SELECT ?1 \
                 WHERE NOT EXISTS (SELECT 1 FROM fail2banDb LIMIT 1)",
                [VERSION],
            )?;
            tx.commit()?;
        }
        Some(v) if v > VERSION => return Err(DbError::FutureVersion(v)),
        Some(v) if v < VERSION => upgrade(conn, v)?,
        Some(_) => {}
    }
    Ok(found)
}

fn upgrade(conn: &Connection, version: i64) -> Result<(), DbError> {
    let tx = conn.unchecked_transaction()?;
    if version < 2 && table_exists(&tx, "logs")? {
        tx.execute_batch(
            "CREATE TEMPORARY TABLE logs_temp AS SELECT * FROM logs; DROP TABLE logs;",
        )?;
        tx.execute_batch(LOGS)?;
        tx.execute_batch("INSERT INTO logs SELECT * from logs_temp; DROP TABLE logs_temp;")?;
    }
    if version < 3 && table_exists(&tx, "bans")? {
        tx.execute_batch(
            "CREATE TEMPORARY TABLE bans_temp AS SELECT jail, ip, timeofban, -2 as bantime, \
             1 as bancount, data FROM bans; DROP TABLE bans;",
        )?;
        tx.execute_batch(BANS)?;
        tx.execute_batch("INSERT INTO bans SELECT * from bans_temp; DROP TABLE bans_temp;")?;
    }
    if !table_exists(&tx, "bips")? {
        tx.execute_batch(BIPS)?;
        if table_exists(&tx, "bans")? {
            tx.execute_batch(
                "INSERT OR REPLACE INTO bips(ip, jail, timeofban, bantime, bancount, data) \
                 SELECT ip, jail, timeofban, bantime, bancount, data FROM bans order by timeofban",
            )?;
        }
    }
    for s in [JAILS, LOGS, BANS] {
        tx.execute_batch(s)?;
    }
    tx.execute("UPDATE fail2banDb SET version = ?1", [VERSION])?;
    tx.commit()?;
    Ok(())
}
