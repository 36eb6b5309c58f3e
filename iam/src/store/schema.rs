//! Schema migrations. `PRAGMA user_version` is the number of migrations
//! applied; each runs once, inside the transaction that bumps the version.
//! Append new migrations; never edit a released one.

/// `PRAGMA application_id`: marks the file as a pam_iam store ("IAM1").
pub const APPLICATION_ID: i32 = 0x4941_4d31;

pub const MIGRATIONS: &[&str] = &[
    // 1: the whole directory and the login-time records.
    r#"
CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

-- Every Linux id ever handed out. Rows are never deleted, so an id is never
-- reused, even after the user or group that had it is gone.
CREATE TABLE linux_ids (
    id           INTEGER PRIMARY KEY,
    kind         TEXT NOT NULL CHECK (kind IN ('user', 'group')),
    owner        TEXT NOT NULL,
    allocated_at INTEGER NOT NULL
);

CREATE TABLE users (
    id                   INTEGER PRIMARY KEY,
    name                 TEXT NOT NULL COLLATE NOCASE UNIQUE,
    path                 TEXT NOT NULL,
    unique_id            TEXT NOT NULL UNIQUE,
    create_date          INTEGER NOT NULL,
    password_last_used   INTEGER,
    status               TEXT NOT NULL CHECK (status IN ('Active', 'Disabled')),
    tags                 TEXT NOT NULL DEFAULT '[]',
    permissions_boundary TEXT,
    uid                  INTEGER NOT NULL UNIQUE REFERENCES linux_ids(id)
);
CREATE INDEX users_boundary ON users(permissions_boundary);

CREATE TABLE login_profiles (
    user_id                 INTEGER PRIMARY KEY REFERENCES users(id),
    password_hash           TEXT NOT NULL,
    password_reset_required INTEGER NOT NULL,
    create_date             INTEGER NOT NULL,
    password_changed        INTEGER NOT NULL
);

-- Previous password hashes, newest first by seq, for reuse prevention.
CREATE TABLE password_history (
    user_id       INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    seq           INTEGER NOT NULL,
    password_hash TEXT NOT NULL,
    retired_at    INTEGER NOT NULL,
    PRIMARY KEY (user_id, seq)
);

CREATE TABLE groups (
    id          INTEGER PRIMARY KEY,
    name        TEXT NOT NULL COLLATE NOCASE UNIQUE,
    path        TEXT NOT NULL,
    unique_id   TEXT NOT NULL UNIQUE,
    create_date INTEGER NOT NULL,
    gid         INTEGER NOT NULL UNIQUE REFERENCES linux_ids(id)
);

CREATE TABLE group_members (
    group_id INTEGER NOT NULL REFERENCES groups(id),
    user_id  INTEGER NOT NULL REFERENCES users(id),
    PRIMARY KEY (group_id, user_id)
);
CREATE INDEX group_members_user ON group_members(user_id);

CREATE TABLE policies (
    id              INTEGER PRIMARY KEY,
    name            TEXT NOT NULL COLLATE NOCASE UNIQUE,
    path            TEXT NOT NULL,
    unique_id       TEXT NOT NULL UNIQUE,
    description     TEXT,
    create_date     INTEGER NOT NULL,
    update_date     INTEGER NOT NULL,
    default_version INTEGER NOT NULL,
    next_version    INTEGER NOT NULL
);

CREATE TABLE policy_versions (
    policy_id   INTEGER NOT NULL REFERENCES policies(id) ON DELETE CASCADE,
    version     INTEGER NOT NULL,
    document    TEXT NOT NULL,
    create_date INTEGER NOT NULL,
    PRIMARY KEY (policy_id, version)
);

-- Inline policies and managed-policy attachments of users, groups and roles.
-- entity_kind is 'user' | 'group' | 'role'; rows are removed before their
-- entity can be deleted (AWS's DeleteConflict), so no orphan remains.
CREATE TABLE inline_policies (
    entity_kind TEXT NOT NULL,
    entity_id   INTEGER NOT NULL,
    name        TEXT NOT NULL COLLATE NOCASE,
    document    TEXT NOT NULL,
    PRIMARY KEY (entity_kind, entity_id, name)
);

CREATE TABLE attachments (
    entity_kind TEXT NOT NULL,
    entity_id   INTEGER NOT NULL,
    policy_id   INTEGER NOT NULL REFERENCES policies(id),
    PRIMARY KEY (entity_kind, entity_id, policy_id)
);
CREATE INDEX attachments_policy ON attachments(policy_id);

CREATE TABLE roles (
    id                   INTEGER PRIMARY KEY,
    name                 TEXT NOT NULL COLLATE NOCASE UNIQUE,
    path                 TEXT NOT NULL,
    unique_id            TEXT NOT NULL UNIQUE,
    create_date          INTEGER NOT NULL,
    trust_policy         TEXT NOT NULL,
    description          TEXT,
    max_session_duration INTEGER NOT NULL,
    tags                 TEXT NOT NULL DEFAULT '[]',
    permissions_boundary TEXT
);
CREATE INDEX roles_boundary ON roles(permissions_boundary);

CREATE TABLE mfa_devices (
    id          INTEGER PRIMARY KEY,
    name        TEXT NOT NULL COLLATE NOCASE UNIQUE,
    path        TEXT NOT NULL,
    secret      BLOB NOT NULL,
    create_date INTEGER NOT NULL,
    user_id     INTEGER REFERENCES users(id),
    enable_date INTEGER,
    last_step   INTEGER
);
CREATE INDEX mfa_devices_user ON mfa_devices(user_id);

CREATE TABLE password_policy (
    id       INTEGER PRIMARY KEY CHECK (id = 1),
    document TEXT NOT NULL
);

-- Login-time records. Keyed by the name as given at login (no foreign key):
-- unknown users are counted the same way, and records outlive deletions.
CREATE TABLE login_failures (
    user_name TEXT NOT NULL COLLATE NOCASE,
    at        INTEGER NOT NULL
);
CREATE INDEX login_failures_user ON login_failures(user_name, at);

CREATE TABLE auth_records (
    id        INTEGER PRIMARY KEY,
    user_name TEXT NOT NULL COLLATE NOCASE,
    service   TEXT NOT NULL,
    rhost     TEXT NOT NULL,
    tty       TEXT NOT NULL,
    at        INTEGER NOT NULL,
    mfa_time  INTEGER
);
CREATE INDEX auth_records_key ON auth_records(user_name, service, rhost, at);

CREATE TABLE login_sessions (
    id         INTEGER PRIMARY KEY,
    user_name  TEXT NOT NULL COLLATE NOCASE,
    service    TEXT NOT NULL,
    rhost      TEXT NOT NULL,
    tty        TEXT NOT NULL,
    pid        INTEGER,
    started    INTEGER NOT NULL,
    ended      INTEGER,
    mfa_time   INTEGER
);
CREATE INDEX login_sessions_user ON login_sessions(user_name, started);

CREATE TABLE role_sessions (
    id           TEXT PRIMARY KEY,
    user_name    TEXT NOT NULL COLLATE NOCASE,
    role_name    TEXT NOT NULL,
    session_name TEXT NOT NULL,
    started      INTEGER NOT NULL,
    expires      INTEGER NOT NULL,
    pid          INTEGER,
    status       TEXT NOT NULL CHECK (status IN ('active', 'ended', 'revoked', 'expired')),
    ended        INTEGER
);
CREATE INDEX role_sessions_user ON role_sessions(user_name, started);
"#,
    // 2: audit events written in the transaction of the change they
    // record, delivered to the audit log after it commits.
    r#"
CREATE TABLE audit_outbox (
    id     INTEGER PRIMARY KEY,
    line   TEXT NOT NULL,
    denial INTEGER NOT NULL
);
"#,
    // 3: authentication records keyed by a random id that `authenticate`
    // hands on through the PAM handle (issue 11, item 8). They used to be
    // found by (user, service, rhost), so a second connection of the same
    // user from the same address (NAT, bastion) inherited the first one's
    // MFA. The rows live minutes; nothing in them is worth migrating.
    r#"
DROP TABLE auth_records;
CREATE TABLE auth_records (
    id        TEXT PRIMARY KEY,
    user_name TEXT NOT NULL COLLATE NOCASE,
    service   TEXT NOT NULL,
    rhost     TEXT NOT NULL,
    tty       TEXT NOT NULL,
    at        INTEGER NOT NULL,
    mfa_time  INTEGER,
    state     TEXT NOT NULL
              CHECK (state IN ('pending', 'failed', 'authenticated', 'consumed'))
);
CREATE INDEX auth_records_at ON auth_records(at);
"#,
    // 4: who a role session's processes are, so that membership is decided
    // by identity, not by a pid or a cgroup path alone: the supervisor's
    // start time in clock ticks (a recycled pid is never taken for it) and
    // the uid the session runs as (a caller of another uid is not in it).
    r#"
ALTER TABLE role_sessions ADD COLUMN pid_start INTEGER;
ALTER TABLE role_sessions ADD COLUMN run_as_uid INTEGER;
"#,
    // 5: the directory and the ledger (docs/ARCHITECTURE.md). Login-time
    // state written into directory rows moves to ledger tables: the TOTP
    // step last accepted per device (keyed by its serial), the last
    // password login per user (keyed by its unique id: a re-created user
    // does not inherit it, a renamed one keeps it). The audit outbox becomes
    // the ledger's one outbox, which also carries what a directory of
    // record must learn later (password changes, steps, failure counts).
    r#"
CREATE TABLE totp_steps (
    serial TEXT PRIMARY KEY,
    step   INTEGER NOT NULL
);
INSERT INTO totp_steps (serial, step)
    SELECT 'arn:aws:iam::' || (SELECT value FROM meta WHERE key = 'account_id')
           || ':mfa' || path || name, last_step
    FROM mfa_devices WHERE last_step IS NOT NULL;
ALTER TABLE mfa_devices DROP COLUMN last_step;

CREATE TABLE last_used (
    unique_id TEXT PRIMARY KEY,
    password  INTEGER NOT NULL
);
INSERT INTO last_used (unique_id, password)
    SELECT unique_id, password_last_used FROM users WHERE password_last_used IS NOT NULL;
ALTER TABLE users DROP COLUMN password_last_used;

CREATE TABLE outbox (
    id     INTEGER PRIMARY KEY,
    kind   TEXT NOT NULL CHECK (kind IN ('audit', 'password', 'totp_step', 'failures')),
    body   TEXT NOT NULL,
    denial INTEGER NOT NULL DEFAULT 0
);
INSERT INTO outbox (id, kind, body, denial) SELECT id, 'audit', line, denial FROM audit_outbox;
DROP TABLE audit_outbox;
"#,
    // 6: access keys and STS session credentials for iam-server (issue
    // 13). Secrets are sealed by the server (docs/SECURITY.md): the store
    // holds ciphertext, and of a session token only its SHA-256. Keys are
    // tied to the user's unique id (a re-created user does not inherit
    // them); sessions to the role's (deleting the role ends them). When a
    // key was last used is the ledger's, in a table of its own.
    r#"
CREATE TABLE access_keys (
    access_key_id TEXT PRIMARY KEY,
    user_id       TEXT NOT NULL REFERENCES users(unique_id),
    status        TEXT NOT NULL CHECK (status IN ('Active', 'Inactive')),
    create_date   INTEGER NOT NULL,
    sealed_secret BLOB NOT NULL
);
CREATE INDEX access_keys_user ON access_keys(user_id);

CREATE TABLE access_key_last_used (
    access_key_id TEXT PRIMARY KEY,
    used_at       INTEGER NOT NULL,
    service       TEXT NOT NULL,
    region        TEXT NOT NULL
);

CREATE TABLE sts_sessions (
    access_key_id TEXT PRIMARY KEY,
    sealed_secret BLOB NOT NULL,
    token_sha256  BLOB NOT NULL,
    role_id       TEXT NOT NULL REFERENCES roles(unique_id) ON DELETE CASCADE,
    session_name  TEXT NOT NULL,
    source_arn    TEXT NOT NULL,
    mfa_time      INTEGER,
    issued        INTEGER NOT NULL,
    expiration    INTEGER NOT NULL
);
CREATE INDEX sts_sessions_role ON sts_sessions(role_id);
CREATE INDEX sts_sessions_expiration ON sts_sessions(expiration);
"#,
    // 7: iam-server's central event store (issue 13): one CloudTrail-shaped
    // event per API call, moved here from the ledger's outbox in the
    // transaction that removes it there (a host delivers to its audit log
    // instead). `LookupEvents` filters on the columns; `event` is the JSON.
    r#"
CREATE TABLE events (
    seq           INTEGER PRIMARY KEY AUTOINCREMENT,
    event_id      TEXT NOT NULL UNIQUE,
    event_time    INTEGER NOT NULL,
    event_name    TEXT NOT NULL,
    event_source  TEXT NOT NULL,
    username      TEXT,
    access_key_id TEXT,
    request_id    TEXT,
    error_code    TEXT,
    read_only     INTEGER NOT NULL,
    event         TEXT NOT NULL
);
CREATE INDEX events_time ON events(event_time, seq);
CREATE INDEX events_name ON events(event_name, event_time);
CREATE INDEX events_username ON events(username, event_time);
CREATE INDEX events_access_key ON events(access_key_id);
CREATE INDEX events_request ON events(request_id);

CREATE TABLE event_resources (
    seq           INTEGER NOT NULL REFERENCES events(seq) ON DELETE CASCADE,
    resource_type TEXT NOT NULL,
    resource_name TEXT NOT NULL
);
CREATE INDEX event_resources_seq ON event_resources(seq);
CREATE INDEX event_resources_name ON event_resources(resource_name);
CREATE INDEX event_resources_type ON event_resources(resource_type);
"#,
    // 8: users' SSH public keys (issue 15), directory data like access
    // keys: tied to the user's unique id, a body unique per user, at most
    // five per user (checked on upload). `body` is OpenSSH's one-line form,
    // which sshd's projection publishes and PAM compares with the key sshd
    // accepted. And the ledger's authentication record says whether a
    // password was among the factors.
    r#"
CREATE TABLE ssh_public_keys (
    ssh_public_key_id TEXT PRIMARY KEY,
    user_id           TEXT NOT NULL REFERENCES users(unique_id),
    body              TEXT NOT NULL,
    fingerprint       TEXT NOT NULL,
    status            TEXT NOT NULL CHECK (status IN ('Active', 'Inactive')),
    upload_date       INTEGER NOT NULL,
    -- Upload order (several keys can share a second): writers take
    -- turns, so max + 1 is unique.
    seq               INTEGER NOT NULL UNIQUE,
    UNIQUE (user_id, body)
);

-- Whether the authentication verified a password (not in mode=totp), so
-- that the account stage knows every factor of the login (host:AuthMethod).
ALTER TABLE auth_records ADD COLUMN password INTEGER NOT NULL DEFAULT 0;
"#,
    // 9: trust policies bound to principals' unique IDs (issue 17), as AWS
    // binds them on save: each user or role ARN of this account that a
    // role's trust policy names, with the unique ID of the principal it
    // named then (`store/bindings.rs`). Self-contained: it reads only the
    // tables of migration 1. Trust policies saved before are bound to the
    // principals that hold those ARNs now; an ARN no principal holds stays
    // unbound and matches nobody. And AWS managed policies brought in by an
    // import keep their `arn:aws:iam::aws:policy/…` ARNs (`aws_managed`).
    r#"
ALTER TABLE policies ADD COLUMN aws_managed INTEGER NOT NULL DEFAULT 0;

CREATE TABLE trust_bindings (
    role_id   INTEGER NOT NULL REFERENCES roles(id) ON DELETE CASCADE,
    arn       TEXT NOT NULL,
    unique_id TEXT NOT NULL,
    PRIMARY KEY (role_id, arn)
);
INSERT INTO trust_bindings (role_id, arn, unique_id)
SELECT r.id, p.arn, p.unique_id
FROM roles r
JOIN (
    SELECT 'arn:aws:iam::' || m.value || ':user' || u.path || u.name AS arn, u.unique_id
    FROM users u, meta m WHERE m.key = 'account_id'
    UNION ALL
    SELECT 'arn:aws:iam::' || m.value || ':role' || o.path || o.name AS arn, o.unique_id
    FROM roles o, meta m WHERE m.key = 'account_id'
) p ON instr(r.trust_policy, '"' || p.arn || '"') > 0;
"#,
    // 10: several MFA devices (issue 15). A device's clock drift, in TOTP
    // steps, found by `ResyncMFADevice` and applied to every later check
    // (directory data: the admin verb writes it). Recovery codes: a user's
    // one set (replaced whole), directory data holding only keyed hashes
    // (`iam::recovery_codes`); which codes of a set are used is login-time
    // state, the ledger's, and the outbox gains a kind to carry a use to
    // the directory of record's ledger.
    r#"
ALTER TABLE mfa_devices ADD COLUMN drift_steps INTEGER NOT NULL DEFAULT 0;

CREATE TABLE recovery_codes (
    user_id     TEXT PRIMARY KEY REFERENCES users(unique_id) ON DELETE CASCADE,
    set_id      TEXT NOT NULL UNIQUE,
    hash_key    BLOB NOT NULL,
    hashes      BLOB NOT NULL,
    create_date INTEGER NOT NULL
);

CREATE TABLE recovery_codes_used (
    set_id  TEXT NOT NULL,
    code    INTEGER NOT NULL,
    used_at INTEGER NOT NULL,
    PRIMARY KEY (set_id, code)
);

CREATE TABLE outbox_new (
    id     INTEGER PRIMARY KEY,
    kind   TEXT NOT NULL CHECK (kind IN ('audit', 'password', 'totp_step', 'failures', 'recovery_code')),
    body   TEXT NOT NULL,
    denial INTEGER NOT NULL DEFAULT 0
);
INSERT INTO outbox_new (id, kind, body, denial) SELECT id, kind, body, denial FROM outbox;
DROP TABLE outbox;
ALTER TABLE outbox_new RENAME TO outbox;
"#,
    // 11: hosts as IAM principals (issue 14). An instance profile holds at
    // most one role (by the role's unique id: DeleteRole is refused while
    // a profile holds it). A join token is stored as its SHA-256 only and
    // used once; a host's credential is sealed by the server like an access
    // key, one per hostname, and dies with its instance profile.
    r#"
CREATE TABLE instance_profiles (
    id          INTEGER PRIMARY KEY,
    name        TEXT NOT NULL COLLATE NOCASE UNIQUE,
    path        TEXT NOT NULL,
    unique_id   TEXT NOT NULL UNIQUE,
    create_date INTEGER NOT NULL,
    tags        TEXT NOT NULL DEFAULT '[]',
    role_id     TEXT REFERENCES roles(unique_id)
);
CREATE INDEX instance_profiles_role ON instance_profiles(role_id);

CREATE TABLE join_tokens (
    token_sha256        BLOB PRIMARY KEY,
    instance_profile_id TEXT NOT NULL REFERENCES instance_profiles(unique_id) ON DELETE CASCADE,
    created             INTEGER NOT NULL,
    expiration          INTEGER NOT NULL
);
CREATE INDEX join_tokens_expiration ON join_tokens(expiration);

CREATE TABLE host_credentials (
    access_key_id       TEXT PRIMARY KEY,
    sealed_secret       BLOB NOT NULL,
    instance_profile_id TEXT NOT NULL REFERENCES instance_profiles(unique_id) ON DELETE CASCADE,
    hostname            TEXT NOT NULL COLLATE NOCASE UNIQUE,
    create_date         INTEGER NOT NULL
);
CREATE INDEX host_credentials_profile ON host_credentials(instance_profile_id);
"#,
    // 12: the directory's change feed (issue 14; docs/ARCHITECTURE.md,
    // "Replicas"). Every insert, update and delete of a replicated
    // directory table records the row's key, in commit order (writers take
    // turns), so a replica asks for "everything since change N" and gets
    // the current rows of those keys. Triggers, not the store's methods,
    // record them: no write can forget. What was written before this
    // migration is in the snapshot every replica starts from.
    r#"
CREATE TABLE directory_changes (
    change_no INTEGER PRIMARY KEY AUTOINCREMENT,
    tbl       TEXT NOT NULL,
    row_key   TEXT NOT NULL
);
CREATE TRIGGER linux_ids_inserted AFTER INSERT ON linux_ids BEGIN
    INSERT INTO directory_changes (tbl, row_key) VALUES ('linux_ids', json_array(NEW.id));
END;
CREATE TRIGGER linux_ids_updated AFTER UPDATE ON linux_ids BEGIN
    INSERT INTO directory_changes (tbl, row_key) SELECT 'linux_ids', json_array(OLD.id) WHERE json_array(OLD.id) <> json_array(NEW.id);
    INSERT INTO directory_changes (tbl, row_key) VALUES ('linux_ids', json_array(NEW.id));
END;
CREATE TRIGGER linux_ids_deleted AFTER DELETE ON linux_ids BEGIN
    INSERT INTO directory_changes (tbl, row_key) VALUES ('linux_ids', json_array(OLD.id));
END;
CREATE TRIGGER users_inserted AFTER INSERT ON users BEGIN
    INSERT INTO directory_changes (tbl, row_key) VALUES ('users', json_array(NEW.id));
END;
CREATE TRIGGER users_updated AFTER UPDATE ON users BEGIN
    INSERT INTO directory_changes (tbl, row_key) SELECT 'users', json_array(OLD.id) WHERE json_array(OLD.id) <> json_array(NEW.id);
    INSERT INTO directory_changes (tbl, row_key) VALUES ('users', json_array(NEW.id));
END;
CREATE TRIGGER users_deleted AFTER DELETE ON users BEGIN
    INSERT INTO directory_changes (tbl, row_key) VALUES ('users', json_array(OLD.id));
END;
CREATE TRIGGER login_profiles_inserted AFTER INSERT ON login_profiles BEGIN
    INSERT INTO directory_changes (tbl, row_key) VALUES ('login_profiles', json_array(NEW.user_id));
END;
CREATE TRIGGER login_profiles_updated AFTER UPDATE ON login_profiles BEGIN
    INSERT INTO directory_changes (tbl, row_key) SELECT 'login_profiles', json_array(OLD.user_id) WHERE json_array(OLD.user_id) <> json_array(NEW.user_id);
    INSERT INTO directory_changes (tbl, row_key) VALUES ('login_profiles', json_array(NEW.user_id));
END;
CREATE TRIGGER login_profiles_deleted AFTER DELETE ON login_profiles BEGIN
    INSERT INTO directory_changes (tbl, row_key) VALUES ('login_profiles', json_array(OLD.user_id));
END;
CREATE TRIGGER groups_inserted AFTER INSERT ON groups BEGIN
    INSERT INTO directory_changes (tbl, row_key) VALUES ('groups', json_array(NEW.id));
END;
CREATE TRIGGER groups_updated AFTER UPDATE ON groups BEGIN
    INSERT INTO directory_changes (tbl, row_key) SELECT 'groups', json_array(OLD.id) WHERE json_array(OLD.id) <> json_array(NEW.id);
    INSERT INTO directory_changes (tbl, row_key) VALUES ('groups', json_array(NEW.id));
END;
CREATE TRIGGER groups_deleted AFTER DELETE ON groups BEGIN
    INSERT INTO directory_changes (tbl, row_key) VALUES ('groups', json_array(OLD.id));
END;
CREATE TRIGGER group_members_inserted AFTER INSERT ON group_members BEGIN
    INSERT INTO directory_changes (tbl, row_key) VALUES ('group_members', json_array(NEW.group_id, NEW.user_id));
END;
CREATE TRIGGER group_members_updated AFTER UPDATE ON group_members BEGIN
    INSERT INTO directory_changes (tbl, row_key) SELECT 'group_members', json_array(OLD.group_id, OLD.user_id) WHERE json_array(OLD.group_id, OLD.user_id) <> json_array(NEW.group_id, NEW.user_id);
    INSERT INTO directory_changes (tbl, row_key) VALUES ('group_members', json_array(NEW.group_id, NEW.user_id));
END;
CREATE TRIGGER group_members_deleted AFTER DELETE ON group_members BEGIN
    INSERT INTO directory_changes (tbl, row_key) VALUES ('group_members', json_array(OLD.group_id, OLD.user_id));
END;
CREATE TRIGGER policies_inserted AFTER INSERT ON policies BEGIN
    INSERT INTO directory_changes (tbl, row_key) VALUES ('policies', json_array(NEW.id));
END;
CREATE TRIGGER policies_updated AFTER UPDATE ON policies BEGIN
    INSERT INTO directory_changes (tbl, row_key) SELECT 'policies', json_array(OLD.id) WHERE json_array(OLD.id) <> json_array(NEW.id);
    INSERT INTO directory_changes (tbl, row_key) VALUES ('policies', json_array(NEW.id));
END;
CREATE TRIGGER policies_deleted AFTER DELETE ON policies BEGIN
    INSERT INTO directory_changes (tbl, row_key) VALUES ('policies', json_array(OLD.id));
END;
CREATE TRIGGER policy_versions_inserted AFTER INSERT ON policy_versions BEGIN
    INSERT INTO directory_changes (tbl, row_key) VALUES ('policy_versions', json_array(NEW.policy_id, NEW.version));
END;
CREATE TRIGGER policy_versions_updated AFTER UPDATE ON policy_versions BEGIN
    INSERT INTO directory_changes (tbl, row_key) SELECT 'policy_versions', json_array(OLD.policy_id, OLD.version) WHERE json_array(OLD.policy_id, OLD.version) <> json_array(NEW.policy_id, NEW.version);
    INSERT INTO directory_changes (tbl, row_key) VALUES ('policy_versions', json_array(NEW.policy_id, NEW.version));
END;
CREATE TRIGGER policy_versions_deleted AFTER DELETE ON policy_versions BEGIN
    INSERT INTO directory_changes (tbl, row_key) VALUES ('policy_versions', json_array(OLD.policy_id, OLD.version));
END;
CREATE TRIGGER inline_policies_inserted AFTER INSERT ON inline_policies BEGIN
    INSERT INTO directory_changes (tbl, row_key) VALUES ('inline_policies', json_array(NEW.entity_kind, NEW.entity_id, NEW.name));
END;
CREATE TRIGGER inline_policies_updated AFTER UPDATE ON inline_policies BEGIN
    INSERT INTO directory_changes (tbl, row_key) SELECT 'inline_policies', json_array(OLD.entity_kind, OLD.entity_id, OLD.name) WHERE json_array(OLD.entity_kind, OLD.entity_id, OLD.name) <> json_array(NEW.entity_kind, NEW.entity_id, NEW.name);
    INSERT INTO directory_changes (tbl, row_key) VALUES ('inline_policies', json_array(NEW.entity_kind, NEW.entity_id, NEW.name));
END;
CREATE TRIGGER inline_policies_deleted AFTER DELETE ON inline_policies BEGIN
    INSERT INTO directory_changes (tbl, row_key) VALUES ('inline_policies', json_array(OLD.entity_kind, OLD.entity_id, OLD.name));
END;
CREATE TRIGGER attachments_inserted AFTER INSERT ON attachments BEGIN
    INSERT INTO directory_changes (tbl, row_key) VALUES ('attachments', json_array(NEW.entity_kind, NEW.entity_id, NEW.policy_id));
END;
CREATE TRIGGER attachments_updated AFTER UPDATE ON attachments BEGIN
    INSERT INTO directory_changes (tbl, row_key) SELECT 'attachments', json_array(OLD.entity_kind, OLD.entity_id, OLD.policy_id) WHERE json_array(OLD.entity_kind, OLD.entity_id, OLD.policy_id) <> json_array(NEW.entity_kind, NEW.entity_id, NEW.policy_id);
    INSERT INTO directory_changes (tbl, row_key) VALUES ('attachments', json_array(NEW.entity_kind, NEW.entity_id, NEW.policy_id));
END;
CREATE TRIGGER attachments_deleted AFTER DELETE ON attachments BEGIN
    INSERT INTO directory_changes (tbl, row_key) VALUES ('attachments', json_array(OLD.entity_kind, OLD.entity_id, OLD.policy_id));
END;
CREATE TRIGGER roles_inserted AFTER INSERT ON roles BEGIN
    INSERT INTO directory_changes (tbl, row_key) VALUES ('roles', json_array(NEW.id));
END;
CREATE TRIGGER roles_updated AFTER UPDATE ON roles BEGIN
    INSERT INTO directory_changes (tbl, row_key) SELECT 'roles', json_array(OLD.id) WHERE json_array(OLD.id) <> json_array(NEW.id);
    INSERT INTO directory_changes (tbl, row_key) VALUES ('roles', json_array(NEW.id));
END;
CREATE TRIGGER roles_deleted AFTER DELETE ON roles BEGIN
    INSERT INTO directory_changes (tbl, row_key) VALUES ('roles', json_array(OLD.id));
END;
CREATE TRIGGER mfa_devices_inserted AFTER INSERT ON mfa_devices BEGIN
    INSERT INTO directory_changes (tbl, row_key) VALUES ('mfa_devices', json_array(NEW.id));
END;
CREATE TRIGGER mfa_devices_updated AFTER UPDATE ON mfa_devices BEGIN
    INSERT INTO directory_changes (tbl, row_key) SELECT 'mfa_devices', json_array(OLD.id) WHERE json_array(OLD.id) <> json_array(NEW.id);
    INSERT INTO directory_changes (tbl, row_key) VALUES ('mfa_devices', json_array(NEW.id));
END;
CREATE TRIGGER mfa_devices_deleted AFTER DELETE ON mfa_devices BEGIN
    INSERT INTO directory_changes (tbl, row_key) VALUES ('mfa_devices', json_array(OLD.id));
END;
CREATE TRIGGER password_policy_inserted AFTER INSERT ON password_policy BEGIN
    INSERT INTO directory_changes (tbl, row_key) VALUES ('password_policy', json_array(NEW.id));
END;
CREATE TRIGGER password_policy_updated AFTER UPDATE ON password_policy BEGIN
    INSERT INTO directory_changes (tbl, row_key) SELECT 'password_policy', json_array(OLD.id) WHERE json_array(OLD.id) <> json_array(NEW.id);
    INSERT INTO directory_changes (tbl, row_key) VALUES ('password_policy', json_array(NEW.id));
END;
CREATE TRIGGER password_policy_deleted AFTER DELETE ON password_policy BEGIN
    INSERT INTO directory_changes (tbl, row_key) VALUES ('password_policy', json_array(OLD.id));
END;
CREATE TRIGGER ssh_public_keys_inserted AFTER INSERT ON ssh_public_keys BEGIN
    INSERT INTO directory_changes (tbl, row_key) VALUES ('ssh_public_keys', json_array(NEW.ssh_public_key_id));
END;
CREATE TRIGGER ssh_public_keys_updated AFTER UPDATE ON ssh_public_keys BEGIN
    INSERT INTO directory_changes (tbl, row_key) SELECT 'ssh_public_keys', json_array(OLD.ssh_public_key_id) WHERE json_array(OLD.ssh_public_key_id) <> json_array(NEW.ssh_public_key_id);
    INSERT INTO directory_changes (tbl, row_key) VALUES ('ssh_public_keys', json_array(NEW.ssh_public_key_id));
END;
CREATE TRIGGER ssh_public_keys_deleted AFTER DELETE ON ssh_public_keys BEGIN
    INSERT INTO directory_changes (tbl, row_key) VALUES ('ssh_public_keys', json_array(OLD.ssh_public_key_id));
END;
CREATE TRIGGER trust_bindings_inserted AFTER INSERT ON trust_bindings BEGIN
    INSERT INTO directory_changes (tbl, row_key) VALUES ('trust_bindings', json_array(NEW.role_id, NEW.arn));
END;
CREATE TRIGGER trust_bindings_updated AFTER UPDATE ON trust_bindings BEGIN
    INSERT INTO directory_changes (tbl, row_key) SELECT 'trust_bindings', json_array(OLD.role_id, OLD.arn) WHERE json_array(OLD.role_id, OLD.arn) <> json_array(NEW.role_id, NEW.arn);
    INSERT INTO directory_changes (tbl, row_key) VALUES ('trust_bindings', json_array(NEW.role_id, NEW.arn));
END;
CREATE TRIGGER trust_bindings_deleted AFTER DELETE ON trust_bindings BEGIN
    INSERT INTO directory_changes (tbl, row_key) VALUES ('trust_bindings', json_array(OLD.role_id, OLD.arn));
END;
CREATE TRIGGER recovery_codes_inserted AFTER INSERT ON recovery_codes BEGIN
    INSERT INTO directory_changes (tbl, row_key) VALUES ('recovery_codes', json_array(NEW.user_id));
END;
CREATE TRIGGER recovery_codes_updated AFTER UPDATE ON recovery_codes BEGIN
    INSERT INTO directory_changes (tbl, row_key) SELECT 'recovery_codes', json_array(OLD.user_id) WHERE json_array(OLD.user_id) <> json_array(NEW.user_id);
    INSERT INTO directory_changes (tbl, row_key) VALUES ('recovery_codes', json_array(NEW.user_id));
END;
CREATE TRIGGER recovery_codes_deleted AFTER DELETE ON recovery_codes BEGIN
    INSERT INTO directory_changes (tbl, row_key) VALUES ('recovery_codes', json_array(OLD.user_id));
END;
"#,
    // 13: the fleet's ledger at the directory of record (issue 14): what
    // hosts report of their logins, so that a TOTP step is used once and
    // failures count across the fleet. Every step a host claimed, kept
    // for a while: a step claimed by two hosts (one of them offline) is a
    // replay. Failures per user and host. And a host's queued audit event
    // that its replica delivered to the local log waits for the agent to
    // take it to the directory of record (`delivered`).
    r#"
CREATE TABLE fleet_totp_claims (
    serial     TEXT NOT NULL,
    step       INTEGER NOT NULL,
    host       TEXT NOT NULL,
    claimed_at INTEGER NOT NULL,
    PRIMARY KEY (serial, step)
);
CREATE TABLE fleet_failures (
    user_name TEXT NOT NULL COLLATE NOCASE,
    host      TEXT NOT NULL,
    at        INTEGER NOT NULL
);
CREATE INDEX fleet_failures_user ON fleet_failures(user_name, at);
ALTER TABLE outbox ADD COLUMN delivered INTEGER NOT NULL DEFAULT 0;
"#,
];
