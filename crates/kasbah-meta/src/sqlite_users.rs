//! [`UserRepo`] over SQLite: users, memberships (role per tenant) and sessions.

use rusqlite::{Connection, OptionalExtension, params};

use crate::sqlite::SqliteRepo;
use crate::user::{Failure, Role, Session, SessionPolicy, User, UserId, UserRepo, valid_user_name};
use crate::{MetaError, Result, TenantId, generate_secret, hash_secret};

const USER_COLS: &str = "id, name, must_change_password, failed_logins, locked_until, \
     totp_secret IS NOT NULL, global_admin";

fn user_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<User> {
    Ok(User {
        id: UserId(r.get(0)?),
        name: r.get(1)?,
        must_change_password: r.get::<_, i64>(2)? != 0,
        failed_logins: u32::try_from(r.get::<_, i64>(3)?).unwrap_or(u32::MAX),
        locked_until: r.get(4)?,
        memberships: Vec::new(),
        totp: r.get::<_, i64>(5)? != 0,
        global_admin: r.get::<_, i64>(6)? != 0,
    })
}

fn memberships(c: &Connection, user: UserId) -> Result<Vec<(TenantId, Role)>> {
    let mut st = c.prepare_cached(
        "SELECT tenant_id, role FROM memberships WHERE user_id = ?1 ORDER BY tenant_id",
    )?;
    let rows = st
        .query_map(params![user.0], |r| {
            Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?))
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    rows.into_iter()
        .map(|(t, role)| {
            let t = u32::try_from(t)
                .map_err(|_| MetaError::Invalid(format!("tenant id {t} in memberships")))?;
            Ok((TenantId(t), Role::parse(&role)?))
        })
        .collect()
}

fn with_memberships(c: &Connection, mut u: User) -> Result<User> {
    u.memberships = memberships(c, u.id)?;
    Ok(u)
}

impl UserRepo for SqliteRepo {
    fn totp_state(&self, user: UserId) -> Result<crate::TotpState> {
        self.with(|c| {
            c.query_row(
                "SELECT totp_secret, totp_pending, totp_last_step FROM users WHERE id = ?1",
                [user.0],
                |r| {
                    Ok(crate::TotpState {
                        secret: r.get(0)?,
                        pending: r.get(1)?,
                        last_step: r.get(2)?,
                    })
                },
            )
            .optional()?
            .ok_or_else(|| MetaError::NotFound(format!("user {}", user.0)))
        })
    }

    fn set_totp_pending(&self, user: UserId, secret: Option<&str>) -> Result<()> {
        self.with(|c| {
            c.execute(
                "UPDATE users SET totp_pending = ?2 WHERE id = ?1",
                params![user.0, secret],
            )?;
            Ok(())
        })
    }

    fn enable_totp(&self, user: UserId) -> Result<()> {
        self.with(|c| {
            let n = c.execute(
                "UPDATE users SET totp_secret = totp_pending, totp_pending = NULL, \
                 totp_last_step = NULL WHERE id = ?1 AND totp_pending IS NOT NULL",
                [user.0],
            )?;
            if n == 0 {
                return Err(MetaError::Invalid(
                    "no second factor is being enrolled".into(),
                ));
            }
            Ok(())
        })
    }

    fn disable_totp(&self, user: UserId) -> Result<()> {
        self.with(|c| {
            c.execute(
                "UPDATE users SET totp_secret = NULL, totp_pending = NULL, totp_last_step = NULL \
                 WHERE id = ?1",
                [user.0],
            )?;
            Ok(())
        })
    }

    fn use_totp_step(&self, user: UserId, step: i64) -> Result<bool> {
        self.with(|c| {
            let n = c.execute(
                "UPDATE users SET totp_last_step = ?2 WHERE id = ?1 \
                 AND (totp_last_step IS NULL OR totp_last_step < ?2)",
                params![user.0, step],
            )?;
            Ok(n == 1)
        })
    }

    fn create_user(&self, name: &str, password_hash: &str, must_change: bool) -> Result<User> {
        if !valid_user_name(name) {
            return Err(MetaError::Invalid(format!(
                "invalid user name `{name}`: 1-64 of a-z, 0-9, '.', '_', '@', '-'"
            )));
        }
        self.with_tx(|c| {
            let taken: Option<i64> = c
                .query_row("SELECT id FROM users WHERE name = ?1", [name], |r| r.get(0))
                .optional()?;
            if taken.is_some() {
                return Err(MetaError::Invalid(format!("user `{name}` exists")));
            }
            c.execute(
                "INSERT INTO users (name, password_hash, must_change_password, created_at) \
                 VALUES (?1, ?2, ?3, ?4)",
                params![
                    name,
                    password_hash,
                    i64::from(must_change),
                    crate::sqlite::now_ns()
                ],
            )?;
            Ok(User {
                id: UserId(c.last_insert_rowid()),
                name: name.to_owned(),
                must_change_password: must_change,
                global_admin: false,
                failed_logins: 0,
                locked_until: None,
                memberships: Vec::new(),
                totp: false,
            })
        })
    }

    fn user_by_name(&self, name: &str) -> Result<Option<(User, String)>> {
        self.with(|c| {
            let row = c
                .query_row(
                    &format!("SELECT {USER_COLS}, password_hash FROM users WHERE name = ?1"),
                    [name],
                    |r| Ok((user_row(r)?, r.get::<_, String>(7)?)),
                )
                .optional()?;
            row.map(|(u, h)| Ok((with_memberships(c, u)?, h)))
                .transpose()
        })
    }

    fn users(&self) -> Result<Vec<User>> {
        self.with(|c| {
            let mut st = c.prepare(&format!("SELECT {USER_COLS} FROM users ORDER BY name"))?;
            let users = st
                .query_map([], user_row)?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            users.into_iter().map(|u| with_memberships(c, u)).collect()
        })
    }

    fn count_users(&self) -> Result<u64> {
        self.with(|c| {
            let n: i64 = c.query_row("SELECT COUNT(*) FROM users", [], |r| r.get(0))?;
            Ok(u64::try_from(n).unwrap_or(0))
        })
    }

    fn set_password(&self, user: UserId, password_hash: &str, must_change: bool) -> Result<()> {
        self.with_tx(|c| {
            let n = c.execute(
                "UPDATE users SET password_hash = ?1, must_change_password = ?2, \
                 failed_logins = 0, locked_until = NULL WHERE id = ?3",
                params![password_hash, i64::from(must_change), user.0],
            )?;
            if n == 0 {
                return Err(MetaError::NotFound(format!("user {}", user.0)));
            }
            Ok(())
        })
    }

    fn set_role(&self, user: UserId, tenant: TenantId, role: Option<Role>) -> Result<()> {
        self.with_tx(|c| {
            match role {
                Some(r) => c.execute(
                    "INSERT INTO memberships (user_id, tenant_id, role) VALUES (?1, ?2, ?3) \
                     ON CONFLICT (user_id, tenant_id) DO UPDATE SET role = excluded.role",
                    params![user.0, i64::from(tenant.0), r.as_str()],
                )?,
                None => {
                    c.execute(
                        "DELETE FROM sessions WHERE user_id = ?1 AND tenant_id = ?2",
                        params![user.0, i64::from(tenant.0)],
                    )?;
                    c.execute(
                        "DELETE FROM memberships WHERE user_id = ?1 AND tenant_id = ?2",
                        params![user.0, i64::from(tenant.0)],
                    )?
                }
            };
            Ok(())
        })
    }

    fn login_failed(&self, user: UserId, now: i64, max: u32, lock_ns: i64) -> Result<Failure> {
        self.with_tx(|c| {
            let failures: i64 = c.query_row(
                "UPDATE users SET failed_logins = failed_logins + 1 WHERE id = ?1 \
                 RETURNING failed_logins",
                params![user.0],
                |r| r.get(0),
            )?;
            let failures = u32::try_from(failures).unwrap_or(u32::MAX);
            let mut locked_until = None;
            if max > 0 && failures >= max {
                let until = now.saturating_add(lock_ns);
                c.execute(
                    "UPDATE users SET locked_until = ?1, failed_logins = 0 WHERE id = ?2",
                    params![until, user.0],
                )?;
                locked_until = Some(until);
            }
            Ok(Failure {
                failures,
                locked_until,
            })
        })
    }

    fn create_session(
        &self,
        user: UserId,
        tenant: TenantId,
        now: i64,
        policy: SessionPolicy,
    ) -> Result<String> {
        let secret = generate_secret()?;
        self.with_tx(|c| {
            c.execute(
                "UPDATE users SET failed_logins = 0, locked_until = NULL WHERE id = ?1",
                params![user.0],
            )?;
            // Housekeeping: sessions past their expiry are of no use to anyone.
            c.execute(
                "DELETE FROM sessions WHERE expires_at <= ?1 OR last_seen <= ?2",
                params![now, now.saturating_sub(policy.idle_ns)],
            )?;
            c.execute(
                "INSERT INTO sessions (user_id, tenant_id, secret_sha256, created_at, last_seen, \
                 expires_at) VALUES (?1, ?2, ?3, ?4, ?4, ?5)",
                params![
                    user.0,
                    i64::from(tenant.0),
                    hash_secret(&secret),
                    now,
                    now.saturating_add(policy.absolute_ns)
                ],
            )?;
            Ok(())
        })?;
        Ok(secret)
    }

    fn session(&self, secret: &str, now: i64, policy: SessionPolicy) -> Result<Option<Session>> {
        self.with(|c| {
            let row = c
                .prepare_cached(
                    "SELECT s.id, s.user_id, u.name, s.tenant_id, m.role, u.must_change_password, \
                     s.expires_at, s.last_seen, \
                     COALESCE(t.require_totp, 0) != 0 AND u.totp_secret IS NULL, \
                     u.global_admin \
                     FROM sessions s \
                     JOIN users u ON u.id = s.user_id \
                     JOIN memberships m ON m.user_id = s.user_id AND m.tenant_id = s.tenant_id \
                     LEFT JOIN tenants t ON t.id = s.tenant_id \
                     WHERE s.secret_sha256 = ?1",
                )?
                .query_row([hash_secret(secret)], |r| {
                    Ok((
                        r.get::<_, i64>(0)?,
                        r.get::<_, i64>(1)?,
                        r.get::<_, String>(2)?,
                        r.get::<_, i64>(3)?,
                        r.get::<_, String>(4)?,
                        r.get::<_, i64>(5)?,
                        r.get::<_, i64>(6)?,
                        r.get::<_, i64>(7)?,
                        r.get::<_, i64>(8)? != 0,
                        r.get::<_, i64>(9)? != 0,
                    ))
                })
                .optional()?;
            let Some((id, user, name, tenant, role, must, expires, last, enrol, global)) = row
            else {
                return Ok(None);
            };
            if expires <= now || last <= now.saturating_sub(policy.idle_ns) {
                return Ok(None);
            }
            c.prepare_cached("UPDATE sessions SET last_seen = ?1 WHERE id = ?2")?
                .execute(params![now, id])?;
            let tenant = u32::try_from(tenant)
                .map_err(|_| MetaError::Invalid(format!("tenant id {tenant} in sessions")))?;
            Ok(Some(Session {
                id,
                user: UserId(user),
                user_name: name,
                tenant: TenantId(tenant),
                role: Role::parse(&role)?,
                must_change_password: must != 0,
                totp_enrollment_required: enrol,
                global_admin: global,
                expires_at: expires,
            }))
        })
    }

    fn set_global_admin(&self, user: UserId, on: bool) -> Result<()> {
        self.with(|c| {
            let n = c.execute(
                "UPDATE users SET global_admin = ?2 WHERE id = ?1",
                params![user.0, on],
            )?;
            if n == 0 {
                return Err(MetaError::NotFound(format!("user {}", user.0)));
            }
            Ok(())
        })
    }

    fn end_session(&self, secret: &str) -> Result<()> {
        self.with(|c| {
            c.execute(
                "DELETE FROM sessions WHERE secret_sha256 = ?1",
                [hash_secret(secret)],
            )?;
            Ok(())
        })
    }

    fn reset_password(&self, user: UserId, password_hash: &str) -> Result<()> {
        self.with_tx(|c| {
            let n = c.execute(
                "UPDATE users SET password_hash = ?1, must_change_password = 1, failed_logins = 0, \
                 locked_until = NULL, totp_secret = NULL, totp_pending = NULL, \
                 totp_last_step = NULL WHERE id = ?2",
                params![password_hash, user.0],
            )?;
            if n == 0 {
                return Err(MetaError::NotFound(format!("user {}", user.0)));
            }
            c.execute("DELETE FROM sessions WHERE user_id = ?1", [user.0])?;
            Ok(())
        })
    }

    fn end_sessions_of(&self, user: UserId) -> Result<()> {
        self.with(|c| {
            c.execute("DELETE FROM sessions WHERE user_id = ?1", [user.0])?;
            Ok(())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::MetaRepo;

    const POLICY: SessionPolicy = SessionPolicy {
        idle_ns: 100,
        absolute_ns: 1_000,
    };

    #[test]
    fn totp_enrolment_replay_and_tenant_requirement() {
        let r = SqliteRepo::in_memory().unwrap();
        let acme = r.ensure_tenant("acme").unwrap().id;
        let u = r.create_user("ann", "$hash", false).unwrap();
        r.set_role(u.id, acme, Some(Role::Viewer)).unwrap();
        assert!(r.enable_totp(u.id).is_err(), "nothing enrolled yet");
        r.set_totp_pending(u.id, Some("SECRET")).unwrap();
        assert!(!r.user_by_name("ann").unwrap().unwrap().0.totp);
        r.enable_totp(u.id).unwrap();
        let (got, hash) = r.user_by_name("ann").unwrap().unwrap();
        assert!(got.totp);
        assert_eq!(hash, "$hash", "the hash column still reads right");
        assert_eq!(
            r.totp_state(u.id).unwrap(),
            crate::TotpState {
                secret: Some("SECRET".into()),
                pending: None,
                last_step: None
            }
        );
        // A step works once, and never an earlier one.
        assert!(r.use_totp_step(u.id, 10).unwrap());
        assert!(!r.use_totp_step(u.id, 10).unwrap());
        assert!(!r.use_totp_step(u.id, 9).unwrap());
        assert!(r.use_totp_step(u.id, 11).unwrap());

        // A tenant's requirement shows in sessions of users without a second factor.
        let secret = r.create_session(u.id, acme, 0, POLICY).unwrap();
        r.set_require_totp(acme, true).unwrap();
        assert!(r.tenant(acme).unwrap().unwrap().require_totp);
        let s = r.session(&secret, 1, POLICY).unwrap().unwrap();
        assert!(!s.totp_enrollment_required);
        r.disable_totp(u.id).unwrap();
        let s = r.session(&secret, 2, POLICY).unwrap().unwrap();
        assert!(s.totp_enrollment_required);
        assert_eq!(r.totp_state(u.id).unwrap(), crate::TotpState::default());

        // An administrator's reset: new hash to change, no factor, no lockout, no session.
        r.set_totp_pending(u.id, Some("SECRET")).unwrap();
        r.enable_totp(u.id).unwrap();
        r.login_failed(u.id, 3, 1, 1_000).unwrap();
        r.reset_password(u.id, "$new").unwrap();
        let (got, hash) = r.user_by_name("ann").unwrap().unwrap();
        assert_eq!(hash, "$new");
        assert!(got.must_change_password && !got.totp && got.locked_until.is_none());
        assert!(r.session(&secret, 4, POLICY).unwrap().is_none());
        assert!(r.reset_password(UserId(999), "$x").is_err());
    }

    #[test]
    fn users_roles_lockout_and_sessions() {
        let r = SqliteRepo::in_memory().unwrap();
        let acme = r.ensure_tenant("acme").unwrap().id;
        let beta = r.ensure_tenant("beta").unwrap().id;
        let u = r.create_user("ann", "$hash", true).unwrap();
        assert!(
            r.create_user("ann", "$h2", false).is_err(),
            "names are unique"
        );
        assert!(r.create_user("Ann Lee", "$h", false).is_err());
        r.set_role(u.id, acme, Some(Role::Analyst)).unwrap();
        let (got, hash) = r.user_by_name("ann").unwrap().unwrap();
        assert_eq!(hash, "$hash");
        assert_eq!(got.memberships, [(acme, Role::Analyst)]);
        assert_eq!(r.count_users().unwrap(), 1);

        // Three failures with max 3 lock the account and reset the count.
        assert_eq!(r.login_failed(u.id, 10, 3, 50).unwrap().locked_until, None);
        r.login_failed(u.id, 11, 3, 50).unwrap();
        let f = r.login_failed(u.id, 12, 3, 50).unwrap();
        assert_eq!(f.locked_until, Some(62));
        assert_eq!(
            r.user_by_name("ann").unwrap().unwrap().0.locked_until,
            Some(62)
        );

        let s = r.create_session(u.id, acme, 100, POLICY).unwrap();
        let live = r.session(&s, 150, POLICY).unwrap().unwrap();
        assert_eq!(
            (live.tenant, live.role, live.user_name.as_str()),
            (acme, Role::Analyst, "ann")
        );
        assert!(live.must_change_password);
        assert_eq!(r.user_by_name("ann").unwrap().unwrap().0.locked_until, None);
        // Idle timer: used at 150, still live at 240, dead after 100 ns of silence.
        assert!(r.session(&s, 240, POLICY).unwrap().is_some());
        assert!(r.session(&s, 341, POLICY).unwrap().is_none());
        // Absolute expiry, however busy.
        let s2 = r.create_session(u.id, acme, 1_000, POLICY).unwrap();
        for t in (1_050..2_000).step_by(50) {
            assert!(r.session(&s2, t, POLICY).unwrap().is_some(), "{t}");
        }
        assert!(r.session(&s2, 2_000, POLICY).unwrap().is_none());
        assert!(r.session("kbh_unknown", 2_000, POLICY).unwrap().is_none());

        // A role change applies at the next request; losing the tenant ends its sessions.
        let s3 = r.create_session(u.id, acme, 3_000, POLICY).unwrap();
        r.set_role(u.id, acme, Some(Role::Viewer)).unwrap();
        assert_eq!(
            r.session(&s3, 3_010, POLICY).unwrap().unwrap().role,
            Role::Viewer
        );
        r.set_role(u.id, beta, Some(Role::Admin)).unwrap();
        r.set_role(u.id, acme, None).unwrap();
        assert!(r.session(&s3, 3_020, POLICY).unwrap().is_none());
        let s4 = r.create_session(u.id, beta, 3_030, POLICY).unwrap();
        r.set_password(u.id, "$new", false).unwrap();
        r.end_sessions_of(u.id).unwrap();
        assert!(r.session(&s4, 3_040, POLICY).unwrap().is_none());
        let s5 = r.create_session(u.id, beta, 3_050, POLICY).unwrap();
        r.end_session(&s5).unwrap();
        assert!(r.session(&s5, 3_060, POLICY).unwrap().is_none());
        assert!(!r.users().unwrap()[0].must_change_password);
    }

    #[test]
    fn global_administrators_are_flagged_and_the_upgrade_promotes_the_admin_of_every_tenant() {
        use crate::MetaRepo;
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("meta.db");
        {
            // A database of schema 5 (before global administrators): `root` administers both
            // tenants, `ann` only one.
            let c = Connection::open(&p).unwrap();
            c.execute_batch(
                "CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL)",
            )
            .unwrap();
            for (i, sql) in crate::sqlite::MIGRATIONS.iter().take(5).enumerate() {
                c.execute_batch(sql).unwrap();
                c.execute(
                    "INSERT INTO schema_migrations VALUES (?1, 1)",
                    [i as i64 + 1],
                )
                .unwrap();
            }
            c.execute_batch(
                "INSERT INTO tenants (id, name, created_at) VALUES (1, 'a', 1), (2, 'b', 1);
                 INSERT INTO users (id, name, password_hash, must_change_password, created_at)
                   VALUES (1, 'root', 'h', 0, 1), (2, 'ann', 'h', 0, 1);
                 INSERT INTO memberships VALUES (1, 1, 'admin'), (1, 2, 'admin'), (2, 1, 'admin');",
            )
            .unwrap();
        }
        let r = SqliteRepo::open(&p).unwrap();
        let flag = |n: &str| r.user_by_name(n).unwrap().unwrap().0.global_admin;
        assert!(flag("root") && !flag("ann"));
        let ann = r.user_by_name("ann").unwrap().unwrap().0;
        r.set_global_admin(ann.id, true).unwrap();
        assert!(flag("ann"));
        let a = r.tenant_by_name("a").unwrap().unwrap().id;
        let s = r.create_session(ann.id, a, 0, POLICY).unwrap();
        assert!(r.session(&s, 1, POLICY).unwrap().unwrap().global_admin);
        r.set_global_admin(ann.id, false).unwrap();
        assert!(!r.session(&s, 2, POLICY).unwrap().unwrap().global_admin);
        assert!(r.set_global_admin(UserId(99), true).is_err());
    }
}
