//! Local users, their roles per tenant, login lockout and browser sessions.
//!
//! Passwords are stored as argon2id PHC strings (salted, memory-hard); a new user's password is
//! generated, shown once and must be changed at the first login. Sessions are 256-bit random
//! secrets kept only as SHA-256 (like API tokens: full entropy, so a fast hash is right), bound
//! to one tenant, with an idle and an absolute expiry.

use std::fmt;

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};

use crate::{MetaError, Result, Scope, Scopes, TenantId};

/// Shortest password a user may choose.
pub const MIN_PASSWORD_CHARS: usize = 12;

/// What a member may do in a tenant.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum Role {
    /// Administers the tenant: users, tokens, settings, the audit trail.
    Admin,
    /// Triages: searches, changes alerts, rules and suppressions, uploads evidence.
    Analyst,
    /// Reads only.
    Viewer,
}

impl Role {
    /// Every role, most powerful first.
    pub const ALL: [Role; 3] = [Role::Admin, Role::Analyst, Role::Viewer];

    /// The role's name.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Analyst => "analyst",
            Role::Viewer => "viewer",
        }
    }

    /// Parses a role name.
    pub fn parse(s: &str) -> Result<Role> {
        Role::ALL
            .into_iter()
            .find(|r| r.as_str() == s)
            .ok_or_else(|| {
                MetaError::Invalid(format!("unknown role `{s}` (admin, analyst, viewer)"))
            })
    }

    /// The API scopes the role grants.
    pub fn scopes(self) -> Scopes {
        let read = Scopes::default().with(Scope::Read);
        match self {
            Role::Viewer => read,
            Role::Analyst => read.with(Scope::Write).with(Scope::Ingest),
            Role::Admin => read
                .with(Scope::Write)
                .with(Scope::Ingest)
                .with(Scope::Admin),
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A user's id.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub struct UserId(pub i64);

/// A user's record (the password hash stays in the repository).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct User {
    /// Id.
    pub id: UserId,
    /// Login name (`[a-z0-9._@-]{1,64}`).
    pub name: String,
    /// The password was set by someone else (first run, `kasbah user add`, a reset) and must be
    /// changed before anything else.
    pub must_change_password: bool,
    /// Consecutive failed logins.
    pub failed_logins: u32,
    /// Logins are refused until this time (ns), after too many failures.
    pub locked_until: Option<i64>,
    /// Tenants and roles.
    pub memberships: Vec<(TenantId, Role)>,
    /// Logins need a TOTP code.
    pub totp: bool,
    /// A global administrator: manages tenants and may search across them. Grants nothing
    /// inside a tenant by itself: that takes a membership, which is audited in the tenant.
    pub global_admin: bool,
}

/// A user's TOTP second factor.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TotpState {
    /// The enabled secret (base32).
    pub secret: Option<String>,
    /// A secret being enrolled: enabled once a code of it is given.
    pub pending: Option<String>,
    /// The last time step whose code was accepted (a code works once).
    pub last_step: Option<i64>,
}

/// A live session, as a request sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Session {
    /// Its row id.
    pub id: i64,
    /// The user.
    pub user: UserId,
    /// The user's name.
    pub user_name: String,
    /// The tenant the session works in.
    pub tenant: TenantId,
    /// The user's role there (read at each request, so a change applies at once).
    pub role: Role,
    /// The password must be changed before anything else.
    pub must_change_password: bool,
    /// The tenant requires a second factor that the user has not enrolled yet: only the
    /// enrolment endpoints answer.
    pub totp_enrollment_required: bool,
    /// The user is a global administrator (see [`User::global_admin`]).
    pub global_admin: bool,
    /// Absolute expiry, ns.
    pub expires_at: i64,
}

/// How long sessions live.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct SessionPolicy {
    /// A session unused this long (ns) ends.
    pub idle_ns: i64,
    /// A session ends this long (ns) after the login, used or not.
    pub absolute_ns: i64,
}

/// What a failed login did to the account.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Failure {
    /// Consecutive failures now.
    pub failures: u32,
    /// Set when this failure locked the account.
    pub locked_until: Option<i64>,
}

/// Users, memberships and sessions. Names are unique across the server: one person, one
/// account, with a role in each tenant they work for.
pub trait UserRepo: Send + Sync {
    /// The user's TOTP state.
    fn totp_state(&self, user: UserId) -> Result<TotpState>;
    /// Stores (or clears) a secret being enrolled.
    fn set_totp_pending(&self, user: UserId, secret: Option<&str>) -> Result<()>;
    /// Makes the pending secret the enabled one.
    fn enable_totp(&self, user: UserId) -> Result<()>;
    /// Removes the second factor (lost phone: an administrator's reset).
    fn disable_totp(&self, user: UserId) -> Result<()>;
    /// Records that the code of `step` was used; false if that step or a later one was used
    /// already (a replayed code).
    fn use_totp_step(&self, user: UserId, step: i64) -> Result<bool>;
    /// Creates a user with a password hash; fails if the name is taken.
    fn create_user(&self, name: &str, password_hash: &str, must_change: bool) -> Result<User>;
    /// A user by name, with the stored password hash.
    fn user_by_name(&self, name: &str) -> Result<Option<(User, String)>>;
    /// Every user.
    fn users(&self) -> Result<Vec<User>>;
    /// How many users exist.
    fn count_users(&self) -> Result<u64>;
    /// Sets a user's password hash; clears the lockout.
    fn set_password(&self, user: UserId, password_hash: &str, must_change: bool) -> Result<()>;
    /// Gives a user a role in a tenant (replacing the previous one), or removes it (`None`).
    fn set_role(&self, user: UserId, tenant: TenantId, role: Option<Role>) -> Result<()>;
    /// Counts a failed login; after `max` consecutive failures the account is locked until
    /// `now + lock_ns`.
    fn login_failed(&self, user: UserId, now: i64, max: u32, lock_ns: i64) -> Result<Failure>;
    /// Starts a session of `user` in `tenant` (the failure count is cleared); returns the
    /// secret to put in the cookie, shown once.
    fn create_session(
        &self,
        user: UserId,
        tenant: TenantId,
        now: i64,
        policy: SessionPolicy,
    ) -> Result<String>;
    /// The live session of a secret, touching its idle timer; `None` when unknown, expired or
    /// when the user lost the tenant.
    fn session(&self, secret: &str, now: i64, policy: SessionPolicy) -> Result<Option<Session>>;
    /// Makes a user a global administrator, or not.
    fn set_global_admin(&self, user: UserId, on: bool) -> Result<()>;
    /// Ends a session.
    fn end_session(&self, secret: &str) -> Result<()>;
    /// An administrator's reset: a new password hash to change at the next login, no lockout,
    /// no second factor (the lost-phone path) and no session left, in one transaction.
    fn reset_password(&self, user: UserId, password_hash: &str) -> Result<()>;
    /// Ends every session of a user (password change, reset, removal).
    fn end_sessions_of(&self, user: UserId) -> Result<()>;
}

/// Whether a user name is acceptable: 1-64 of a-z, 0-9, `.`, `_`, `@`, `-`.
pub fn valid_user_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._@-".contains(&b))
}

/// The argon2id hash (PHC string) of a password, with a fresh random salt.
pub fn hash_password(password: &str) -> Result<String> {
    let mut salt = [0u8; 16];
    getrandom::fill(&mut salt).map_err(|e| MetaError::Random(e.to_string()))?;
    let salt = SaltString::encode_b64(&salt).map_err(|e| MetaError::Invalid(e.to_string()))?;
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| MetaError::Invalid(format!("cannot hash the password: {e}")))
}

/// Whether `password` matches a stored hash (false for a malformed hash).
pub fn verify_password(hash: &str, password: &str) -> bool {
    PasswordHash::new(hash).is_ok_and(|h| {
        Argon2::default()
            .verify_password(password.as_bytes(), &h)
            .is_ok()
    })
}

/// Checks a password a user chose.
pub fn check_new_password(password: &str, user_name: &str) -> Result<()> {
    if password.chars().count() < MIN_PASSWORD_CHARS {
        return Err(MetaError::Invalid(format!(
            "a password needs at least {MIN_PASSWORD_CHARS} characters"
        )));
    }
    if password.eq_ignore_ascii_case(user_name) {
        return Err(MetaError::Invalid(
            "the password must not be the user name".into(),
        ));
    }
    Ok(())
}

/// A random password to show once (20 characters of an unambiguous alphabet, ~118 bits).
pub fn generate_password() -> Result<String> {
    const ALPHABET: &[u8] = b"abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    let mut bytes = [0u8; 20];
    getrandom::fill(&mut bytes).map_err(|e| MetaError::Random(e.to_string()))?;
    // 256 is not a multiple of the alphabet's size; the bias (under 1%) does not matter for a
    // password this long.
    Ok(bytes
        .iter()
        .map(|b| ALPHABET[usize::from(*b) % ALPHABET.len()] as char)
        .collect())
}

/// A one-time password and its argon2id hash: the password to show once, the hash to store
/// with `must_change` set (new users, resets, the first administrator).
pub fn one_time_password() -> Result<(String, String)> {
    let password = generate_password()?;
    let hash = hash_password(&password)?;
    Ok((password, hash))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_hash_with_argon2id_and_verify() {
        let h = hash_password("correct horse battery").unwrap();
        assert!(h.starts_with("$argon2id$"), "{h}");
        assert!(verify_password(&h, "correct horse battery"));
        assert!(!verify_password(&h, "correct horse batterY"));
        assert!(!verify_password("not a hash", "x"));
        assert_ne!(h, hash_password("correct horse battery").unwrap(), "salted");
    }

    #[test]
    fn roles_grant_scopes_and_names_are_checked() {
        assert!(!Role::Viewer.scopes().allows(Scope::Write));
        assert!(Role::Analyst.scopes().allows(Scope::Write));
        assert!(!Role::Analyst.scopes().allows(Scope::Admin));
        assert!(Role::Admin.scopes().allows(Scope::Admin));
        assert_eq!(Role::parse("analyst").unwrap(), Role::Analyst);
        assert!(Role::parse("root").is_err());
        assert!(valid_user_name("ann.lee@cert-ma"));
        assert!(!valid_user_name("Ann") && !valid_user_name("") && !valid_user_name("a b"));
        assert!(check_new_password("short", "ann").is_err());
        assert!(check_new_password("ann.lee@cert", "ann.lee@cert").is_err());
        assert!(check_new_password("a long enough one", "ann").is_ok());
        let p = generate_password().unwrap();
        assert_eq!(p.len(), 20);
        assert_ne!(p, generate_password().unwrap());
    }
}
