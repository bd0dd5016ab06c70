//! The SQLite implementation of [`MetaRepo`], with its migrations.

use std::path::Path;
use std::sync::Mutex;
use std::time::Duration;

use rusqlite::{Connection, OptionalExtension, Transaction, TransactionBehavior, params};

use crate::token::{Scopes, TokenId, TokenInfo, generate_secret, hash_secret};
use crate::{MetaError, MetaRepo, NewToken, Result, Tenant, TenantId, valid_tenant_name};

/// Schema migrations, applied in order; never edit one that has shipped, add a new one.
pub(crate) const MIGRATIONS: &[&str] = &[
    // 1: tenants and tokens.
    "CREATE TABLE tenants (
        id INTEGER PRIMARY KEY,
        name TEXT NOT NULL UNIQUE,
        retention_days INTEGER,
        retention_bytes INTEGER,
        created_at INTEGER NOT NULL
    );
    CREATE TABLE tokens (
        id INTEGER PRIMARY KEY,
        tenant_id INTEGER NOT NULL REFERENCES tenants(id),
        label TEXT NOT NULL,
        scopes TEXT NOT NULL,
        secret_sha256 TEXT NOT NULL UNIQUE,
        created_at INTEGER NOT NULL,
        expires_at INTEGER,
        revoked_at INTEGER
    );
    CREATE INDEX tokens_tenant ON tokens(tenant_id);",
    // 2: alerts, comments, suppressions, rule states and the audit trail. No foreign key to
    // `tenants`: the default tenant (id 0) of single-tenant installs has no row there.
    // AUTOINCREMENT so a deleted row's id is never reused (audit entries name ids).
    "CREATE TABLE alerts (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        tenant_id INTEGER NOT NULL,
        rule_id TEXT NOT NULL,
        rule_title TEXT NOT NULL,
        level TEXT NOT NULL,
        tags TEXT NOT NULL,
        kind TEXT NOT NULL,
        entities TEXT NOT NULL,
        dedup_key TEXT NOT NULL,
        first_seen INTEGER NOT NULL,
        last_seen INTEGER NOT NULL,
        count INTEGER NOT NULL,
        event_ids TEXT NOT NULL,
        retro INTEGER NOT NULL,
        details TEXT NOT NULL,
        status TEXT NOT NULL,
        assignee TEXT,
        resolution TEXT,
        resolution_note TEXT,
        created_at INTEGER NOT NULL,
        updated_at INTEGER NOT NULL
    );
    CREATE INDEX alerts_tenant ON alerts(tenant_id, id);
    CREATE INDEX alerts_dedup ON alerts(tenant_id, dedup_key, status);
    CREATE INDEX alerts_rule ON alerts(tenant_id, rule_id, id);
    CREATE INDEX alerts_status ON alerts(tenant_id, status, id);
    CREATE TABLE alert_comments (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        alert_id INTEGER NOT NULL REFERENCES alerts(id),
        tenant_id INTEGER NOT NULL,
        author TEXT NOT NULL,
        text TEXT NOT NULL,
        created_at INTEGER NOT NULL
    );
    CREATE INDEX alert_comments_alert ON alert_comments(alert_id, id);
    CREATE TABLE suppressions (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        tenant_id INTEGER NOT NULL,
        rule_id TEXT,
        entity_kind TEXT,
        entity_value TEXT,
        reason TEXT NOT NULL,
        created_by TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        expires_at INTEGER,
        hits INTEGER NOT NULL DEFAULT 0
    );
    CREATE INDEX suppressions_tenant ON suppressions(tenant_id, id);
    CREATE TABLE rule_states (
        tenant_id INTEGER NOT NULL,
        rule_id TEXT NOT NULL,
        enabled INTEGER NOT NULL,
        updated_by TEXT NOT NULL,
        updated_at INTEGER NOT NULL,
        PRIMARY KEY (tenant_id, rule_id)
    ) WITHOUT ROWID;
    CREATE TABLE audit_log (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        tenant_id INTEGER NOT NULL,
        actor TEXT NOT NULL,
        action TEXT NOT NULL,
        target TEXT NOT NULL,
        detail TEXT NOT NULL,
        at INTEGER NOT NULL
    );
    CREATE INDEX audit_log_tenant ON audit_log(tenant_id, id);",
    // 3: the audit log becomes a hash chain per tenant, and append-only. Entries written before
    // get their links once, at the first open after the upgrade (`chain_unlinked_audit`).
    "ALTER TABLE audit_log ADD COLUMN hash BLOB;
    CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
    BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
    CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log WHEN OLD.hash IS NOT NULL
    BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;",
    // 4: local users, their roles per tenant and browser sessions.
    "CREATE TABLE users (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        name TEXT NOT NULL UNIQUE,
        password_hash TEXT NOT NULL,
        must_change_password INTEGER NOT NULL,
        failed_logins INTEGER NOT NULL DEFAULT 0,
        locked_until INTEGER,
        created_at INTEGER NOT NULL
    );
    CREATE TABLE memberships (
        user_id INTEGER NOT NULL REFERENCES users(id),
        tenant_id INTEGER NOT NULL REFERENCES tenants(id),
        role TEXT NOT NULL,
        PRIMARY KEY (user_id, tenant_id)
    ) WITHOUT ROWID;
    CREATE TABLE sessions (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        user_id INTEGER NOT NULL REFERENCES users(id),
        tenant_id INTEGER NOT NULL REFERENCES tenants(id),
        secret_sha256 TEXT NOT NULL UNIQUE,
        created_at INTEGER NOT NULL,
        last_seen INTEGER NOT NULL,
        expires_at INTEGER NOT NULL
    );
    CREATE INDEX sessions_user ON sessions(user_id);",
    // 5: TOTP second factor (the secret must be readable to compute codes; the last step used
    // makes each code work once) and the tenants that require it.
    "ALTER TABLE users ADD COLUMN totp_secret TEXT;
    ALTER TABLE users ADD COLUMN totp_pending TEXT;
    ALTER TABLE users ADD COLUMN totp_last_step INTEGER;
    ALTER TABLE tenants ADD COLUMN require_totp INTEGER NOT NULL DEFAULT 0;",
    // 6: Sigma rules a tenant imported (one row per imported file, which may hold several
    // documents: rules, their correlations and filters), and global administrators, who manage
    // tenants. At the upgrade, users who administer every tenant (the first-run administrator)
    // become global administrators.
    "CREATE TABLE rule_imports (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        tenant_id INTEGER NOT NULL REFERENCES tenants(id),
        name TEXT NOT NULL,
        yaml TEXT NOT NULL,
        rule_ids TEXT NOT NULL,
        filter_ids TEXT NOT NULL DEFAULT '[]',
        created_by TEXT NOT NULL,
        created_at INTEGER NOT NULL
    );
    CREATE INDEX rule_imports_tenant ON rule_imports(tenant_id, id);
    ALTER TABLE users ADD COLUMN global_admin INTEGER NOT NULL DEFAULT 0;
    UPDATE users SET global_admin = 1 WHERE EXISTS (SELECT 1 FROM tenants) AND NOT EXISTS (
        SELECT 1 FROM tenants t WHERE NOT EXISTS (
            SELECT 1 FROM memberships m
            WHERE m.user_id = users.id AND m.tenant_id = t.id AND m.role = 'admin'));",
];

/// Metadata in an SQLite file.
pub struct SqliteRepo {
    conn: Mutex<Connection>,
}

pub(crate) fn now_ns() -> i64 {
    kasbah_event::Timestamp::now().as_nanos()
}

impl SqliteRepo {
    /// Opens (or creates) the database and applies pending migrations.
    pub fn open(path: &Path) -> Result<SqliteRepo> {
        let conn = Connection::open(path)?;
        Self::init(conn)
    }

    /// An in-memory database (tests).
    pub fn in_memory() -> Result<SqliteRepo> {
        Self::init(Connection::open_in_memory()?)
    }

    fn init(mut conn: Connection) -> Result<SqliteRepo> {
        // WAL lets the CLI (`kasbah token create`) write while the server reads.
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.busy_timeout(Duration::from_secs(5))?;
        // Room for every statement the repository prepares, so the hot ones stay compiled.
        conn.set_prepared_statement_cache_capacity(64);
        conn.execute("CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL)", [])?;
        let current: i64 = conn.query_row(
            "SELECT COALESCE(MAX(version), 0) FROM schema_migrations",
            [],
            |r| r.get(0),
        )?;
        for (i, sql) in MIGRATIONS.iter().enumerate() {
            let version = i as i64 + 1;
            if version <= current {
                continue;
            }
            let tx = conn.transaction()?;
            tx.execute_batch(sql)?;
            tx.execute(
                "INSERT INTO schema_migrations (version, applied_at) VALUES (?1, ?2)",
                params![version, now_ns()],
            )?;
            tx.commit()?;
        }
        crate::sqlite_alerts::chain_unlinked_audit(&mut conn)?;
        Ok(SqliteRepo {
            conn: Mutex::new(conn),
        })
    }

    pub(crate) fn with<T>(&self, f: impl FnOnce(&Connection) -> Result<T>) -> Result<T> {
        let conn = self
            .conn
            .lock()
            .map_err(|_| MetaError::Invalid("metadata lock poisoned".into()))?;
        f(&conn)
    }

    /// Runs `f` in a write transaction, committed if it returns `Ok` and rolled back otherwise.
    /// `IMMEDIATE` takes the write lock up front, so a concurrent writer (the CLI) makes it
    /// wait for the busy timeout instead of failing half-way when a read would upgrade.
    pub(crate) fn with_tx<T>(&self, f: impl FnOnce(&Transaction<'_>) -> Result<T>) -> Result<T> {
        let mut conn = self
            .conn
            .lock()
            .map_err(|_| MetaError::Invalid("metadata lock poisoned".into()))?;
        let tx = Transaction::new(&mut conn, TransactionBehavior::Immediate)?;
        let out = f(&tx)?;
        tx.commit()?;
        Ok(out)
    }

    /// The schema version (number of migrations applied).
    pub fn schema_version(&self) -> Result<i64> {
        self.with(|c| {
            Ok(c.query_row(
                "SELECT COALESCE(MAX(version), 0) FROM schema_migrations",
                [],
                |r| r.get(0),
            )?)
        })
    }
}

fn tenant_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Tenant> {
    Ok(Tenant {
        id: TenantId(r.get::<_, i64>(0)? as u32),
        name: r.get(1)?,
        retention_days: r.get::<_, Option<i64>>(2)?.map(|d| d as u32),
        retention_bytes: r.get::<_, Option<i64>>(3)?.map(|b| b as u64),
        require_totp: r.get::<_, i64>(4)? != 0,
    })
}

fn token_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<TokenInfo> {
    let scopes: String = r.get(3)?;
    Ok(TokenInfo {
        id: TokenId(r.get(0)?),
        tenant: TenantId(r.get::<_, i64>(1)? as u32),
        label: r.get(2)?,
        scopes: Scopes::parse(&scopes).unwrap_or_default(),
        created_at: r.get(4)?,
        expires_at: r.get(5)?,
        revoked_at: r.get(6)?,
    })
}

const TENANT_COLS: &str = "id, name, retention_days, retention_bytes, require_totp";
const TOKEN_COLS: &str = "id, tenant_id, label, scopes, created_at, expires_at, revoked_at";

impl MetaRepo for SqliteRepo {
    fn tenants(&self) -> Result<Vec<Tenant>> {
        self.with(|c| {
            let mut st = c.prepare(&format!("SELECT {TENANT_COLS} FROM tenants ORDER BY id"))?;
            let rows = st
                .query_map([], tenant_row)?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            Ok(rows)
        })
    }

    fn tenant_by_name(&self, name: &str) -> Result<Option<Tenant>> {
        self.with(|c| {
            Ok(c.query_row(
                &format!("SELECT {TENANT_COLS} FROM tenants WHERE name = ?1"),
                [name],
                tenant_row,
            )
            .optional()?)
        })
    }

    fn tenant(&self, id: TenantId) -> Result<Option<Tenant>> {
        self.with(|c| {
            Ok(c.query_row(
                &format!("SELECT {TENANT_COLS} FROM tenants WHERE id = ?1"),
                [id.0 as i64],
                tenant_row,
            )
            .optional()?)
        })
    }

    fn ensure_tenant(&self, name: &str) -> Result<Tenant> {
        if !valid_tenant_name(name) {
            return Err(MetaError::Invalid(format!(
                "tenant name `{name}`: use 1-64 of a-z, 0-9, '-' and '_'"
            )));
        }
        self.with(|c| {
            c.execute(
                "INSERT OR IGNORE INTO tenants (name, created_at) VALUES (?1, ?2)",
                params![name, now_ns()],
            )?;
            Ok(c.query_row(
                &format!("SELECT {TENANT_COLS} FROM tenants WHERE name = ?1"),
                [name],
                tenant_row,
            )?)
        })
    }

    fn set_require_totp(&self, id: TenantId, required: bool) -> Result<()> {
        self.with(|c| {
            let n = c.execute(
                "UPDATE tenants SET require_totp = ?2 WHERE id = ?1",
                params![id.0 as i64, i64::from(required)],
            )?;
            if n == 0 {
                Err(MetaError::NotFound(format!("tenant {}", id.0)))
            } else {
                Ok(())
            }
        })
    }

    fn set_retention(&self, id: TenantId, days: Option<u32>, bytes: Option<u64>) -> Result<()> {
        self.with(|c| {
            let n = c.execute(
                "UPDATE tenants SET retention_days = ?2, retention_bytes = ?3 WHERE id = ?1",
                params![
                    id.0 as i64,
                    days.map(i64::from),
                    bytes.map(|b| b.min(i64::MAX as u64) as i64)
                ],
            )?;
            if n == 0 {
                Err(MetaError::NotFound(format!("tenant {}", id.0)))
            } else {
                Ok(())
            }
        })
    }

    fn create_token(
        &self,
        tenant: TenantId,
        label: &str,
        scopes: Scopes,
        expires_at: Option<i64>,
    ) -> Result<NewToken> {
        let secret = generate_secret()?;
        let hash = hash_secret(&secret);
        let created = now_ns();
        let id = self.with(|c| {
            c.execute(
                "INSERT INTO tokens (tenant_id, label, scopes, secret_sha256, created_at, expires_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![tenant.0 as i64, label, scopes.to_string(), hash, created, expires_at],
            )?;
            Ok(c.last_insert_rowid())
        })?;
        let info = TokenInfo {
            id: TokenId(id),
            tenant,
            label: label.to_string(),
            scopes,
            created_at: created,
            expires_at,
            revoked_at: None,
        };
        Ok(NewToken { info, secret })
    }

    fn verify_token(&self, secret: &str, now: i64) -> Result<Option<TokenInfo>> {
        let hash = hash_secret(secret);
        let info = self.with(|c| {
            Ok(c.query_row(
                &format!("SELECT {TOKEN_COLS} FROM tokens WHERE secret_sha256 = ?1"),
                [hash],
                token_row,
            )
            .optional()?)
        })?;
        Ok(info.filter(|t| t.revoked_at.is_none() && t.expires_at.is_none_or(|e| e > now)))
    }

    fn tokens(&self, tenant: TenantId) -> Result<Vec<TokenInfo>> {
        self.with(|c| {
            let mut st = c.prepare(&format!(
                "SELECT {TOKEN_COLS} FROM tokens WHERE tenant_id = ?1 ORDER BY id"
            ))?;
            let rows = st
                .query_map([tenant.0 as i64], token_row)?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            Ok(rows)
        })
    }

    fn revoke_token(&self, id: TokenId, tenant: Option<TenantId>) -> Result<Option<TenantId>> {
        self.with(|c| {
            let tenant: Option<i64> = c
                .query_row(
                    "UPDATE tokens SET revoked_at = ?2 WHERE id = ?1 AND revoked_at IS NULL \
                     AND (?3 IS NULL OR tenant_id = ?3) RETURNING tenant_id",
                    params![id.0, now_ns(), tenant.map(|t| i64::from(t.0))],
                    |r| r.get(0),
                )
                .optional()?;
            Ok(tenant.and_then(|t| u32::try_from(t).ok()).map(TenantId))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Scope;

    #[test]
    fn tenants_are_unique_and_validated() {
        let r = SqliteRepo::in_memory().unwrap();
        let a = r.ensure_tenant("acme").unwrap();
        let b = r.ensure_tenant("acme").unwrap();
        assert_eq!(a, b);
        let c = r.ensure_tenant("globex").unwrap();
        assert_ne!(a.id, c.id);
        assert!(r.ensure_tenant("Bad Name").is_err());
        assert!(r.ensure_tenant("").is_err());
        assert_eq!(r.tenants().unwrap().len(), 2);
        r.set_retention(a.id, Some(30), Some(1 << 30)).unwrap();
        assert_eq!(r.tenant(a.id).unwrap().unwrap().retention_days, Some(30));
    }

    #[test]
    fn tokens_verify_expire_and_revoke() {
        let r = SqliteRepo::in_memory().unwrap();
        let t = r.ensure_tenant("acme").unwrap();
        let tok = r
            .create_token(t.id, "shipper", Scopes::default().with(Scope::Ingest), None)
            .unwrap();
        let got = r.verify_token(&tok.secret, now_ns()).unwrap().unwrap();
        assert_eq!(got.tenant, t.id);
        assert!(got.scopes.allows(Scope::Ingest) && !got.scopes.allows(Scope::Read));
        assert!(r.verify_token("kbh_wrong", now_ns()).unwrap().is_none());
        // The secret is not stored anywhere in the database.
        let stored: String = r
            .with(|c| Ok(c.query_row("SELECT secret_sha256 FROM tokens", [], |x| x.get(0))?))
            .unwrap();
        assert_ne!(stored, tok.secret);
        let exp = r
            .create_token(t.id, "old", Scopes::default().with(Scope::Read), Some(10))
            .unwrap();
        assert!(r.verify_token(&exp.secret, 11).unwrap().is_none());
        let other = r.ensure_tenant("other").unwrap().id;
        assert!(r.revoke_token(tok.info.id, Some(other)).unwrap().is_none());
        assert!(r.revoke_token(tok.info.id, Some(t.id)).unwrap().is_some());
        assert!(r.verify_token(&tok.secret, now_ns()).unwrap().is_none());
        assert_eq!(r.tokens(t.id).unwrap().len(), 2);
    }

    #[test]
    fn migrations_apply_once_on_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("meta.db");
        let r = SqliteRepo::open(&p).unwrap();
        r.ensure_tenant("acme").unwrap();
        drop(r);
        let r = SqliteRepo::open(&p).unwrap();
        assert_eq!(r.schema_version().unwrap(), MIGRATIONS.len() as i64);
        assert_eq!(r.tenants().unwrap().len(), 1);
    }
}
