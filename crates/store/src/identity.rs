use async_trait::async_trait;
use diesel::prelude::*;
use diesel_async::AsyncConnection;
use diesel_async::RunQueryDsl;
use hydracore_auth::{RefreshToken, RefreshTokenId, RefreshTokenRepository, TokenFamilyId};
use hydracore_core::audit::AuditEvent;
use hydracore_core::{Page, PageKey, PageRequest, RepoError};
use hydracore_scopes::Role;
use hydracore_tenants::{
    Email, Member, Membership, MembershipChange, MembershipRepository, Tenant, TenantId,
    TenantName, TenantRole, User, UserId, UserRepository,
};
use time::OffsetDateTime;

use crate::audit::record;
use crate::tenants::tenant_values;
use crate::{DbId, DbTime, Store, corrupt, db};

#[derive(Queryable)]
struct UserRow {
    id: DbId,
    email: String,
    password_hash: String,
    active_tenant_id: Option<DbId>,
    created_at: DbTime,
}

macro_rules! user_columns {
    ($s:ident) => {
        (
            $s::users::id,
            $s::users::email,
            $s::users::password_hash,
            $s::users::active_tenant_id,
            $s::users::created_at,
        )
    };
}

impl TryFrom<UserRow> for User {
    type Error = RepoError;

    fn try_from(r: UserRow) -> Result<Self, RepoError> {
        Ok(User {
            id: UserId(r.id.0),
            email: Email::parse(&r.email).map_err(|e| corrupt(e.to_string()))?,
            password_hash: r.password_hash,
            active_tenant_id: r.active_tenant_id.map(|t| TenantId(t.0)),
            created_at: r.created_at.0,
        })
    }
}

/// The column values of a membership row, from the schema module `$s`.
macro_rules! membership_values {
    ($s:ident, $tenant:expr, $user:expr, $role:expr, $at:expr) => {
        (
            $s::memberships::tenant_id.eq(DbId($tenant)),
            $s::memberships::user_id.eq(DbId($user)),
            $s::memberships::role.eq($role.as_str()),
            $s::memberships::created_at.eq(DbTime($at)),
        )
    };
}

fn role(s: &str) -> Result<Role, RepoError> {
    s.parse::<Role>().map_err(corrupt)
}

#[async_trait]
impl UserRepository for Store {
    async fn insert_with_tenant(
        &self,
        user: &User,
        tenant: &Tenant,
        event: &AuditEvent,
    ) -> Result<(), RepoError> {
        db!(self, |conn, s| {
            conn.transaction::<_, diesel::result::Error, _>(async |conn| {
                diesel::insert_into(s::tenants::table)
                    .values(tenant_values!(s, tenant))
                    .execute(conn)
                    .await?;
                diesel::insert_into(s::users::table)
                    .values((
                        s::users::id.eq(DbId(user.id.0)),
                        s::users::email.eq(user.email.as_str()),
                        s::users::password_hash.eq(&user.password_hash),
                        s::users::active_tenant_id.eq(Some(DbId(tenant.id.0))),
                        s::users::created_at.eq(DbTime(user.created_at)),
                    ))
                    .execute(conn)
                    .await?;
                diesel::insert_into(s::memberships::table)
                    .values(membership_values!(
                        s,
                        tenant.id.0,
                        user.id.0,
                        Role::Owner,
                        user.created_at
                    ))
                    .execute(conn)
                    .await?;
                record!(conn, s, event)
            })
            .await
        })
    }

    async fn find(&self, id: UserId) -> Result<Option<User>, RepoError> {
        let row: Option<UserRow> = db!(self, |conn, s| {
            s::users::table
                .filter(s::users::id.eq(DbId(id.0)))
                .select(user_columns!(s))
                .first(conn)
                .await
                .optional()
        })?;
        row.map(User::try_from).transpose()
    }

    async fn find_by_email(&self, email: &Email) -> Result<Option<User>, RepoError> {
        let row: Option<UserRow> = db!(self, |conn, s| {
            s::users::table
                .filter(s::users::email.eq(email.as_str()))
                .select(user_columns!(s))
                .first(conn)
                .await
                .optional()
        })?;
        row.map(User::try_from).transpose()
    }

    async fn set_active_tenant(
        &self,
        user: UserId,
        tenant: TenantId,
        event: &AuditEvent,
    ) -> Result<bool, RepoError> {
        db!(self, |conn, s| {
            conn.transaction::<_, diesel::result::Error, _>(async |conn| {
                let n = diesel::update(
                    s::users::table
                        .filter(s::users::id.eq(DbId(user.0)))
                        .filter(diesel::dsl::exists(
                            s::memberships::table
                                .filter(s::memberships::tenant_id.eq(DbId(tenant.0)))
                                .filter(s::memberships::user_id.eq(DbId(user.0))),
                        )),
                )
                .set(s::users::active_tenant_id.eq(Some(DbId(tenant.0))))
                .execute(conn)
                .await?;
                if n == 1 {
                    record!(conn, s, event)?;
                }
                Ok(n == 1)
            })
            .await
        })
    }
}

#[derive(Queryable)]
struct MemberRow {
    user_id: DbId,
    email: String,
    role: String,
    created_at: DbTime,
}

#[derive(Queryable)]
struct TenantRoleRow {
    id: DbId,
    name: String,
    created_at: DbTime,
    role: String,
}

/// The outcome of a guarded membership change, decided inside its transaction.
enum Guarded {
    Missing,
    LastOwner,
    NotGranted(Role),
    Done(Membership),
}

#[async_trait]
impl MembershipRepository for Store {
    async fn insert_tenant_with_owner(
        &self,
        tenant: &Tenant,
        owner: UserId,
        max_owned: usize,
        event: &AuditEvent,
    ) -> Result<bool, RepoError> {
        let max_owned = i64::try_from(max_owned).unwrap_or(i64::MAX);
        db!(self, |conn, s| {
            conn.transaction::<_, diesel::result::Error, _>(async |conn| {
                // Writing the owner's row first makes one user's tenant creations run
                // one after the other (a row lock on PostgreSQL, the write lock on
                // SQLite), so the count below cannot go stale.
                diesel::update(s::users::table.filter(s::users::id.eq(DbId(owner.0))))
                    .set(s::users::email.eq(s::users::email))
                    .execute(conn)
                    .await?;
                let owned: i64 = s::memberships::table
                    .filter(s::memberships::user_id.eq(DbId(owner.0)))
                    .filter(s::memberships::role.eq(Role::Owner.as_str()))
                    .count()
                    .get_result(conn)
                    .await?;
                if owned >= max_owned {
                    return Ok(false);
                }
                diesel::insert_into(s::tenants::table)
                    .values(tenant_values!(s, tenant))
                    .execute(conn)
                    .await?;
                diesel::insert_into(s::memberships::table)
                    .values(membership_values!(
                        s,
                        tenant.id.0,
                        owner.0,
                        Role::Owner,
                        tenant.created_at
                    ))
                    .execute(conn)
                    .await?;
                record!(conn, s, event)?;
                Ok(true)
            })
            .await
        })
    }

    async fn insert(&self, m: &Membership, event: &AuditEvent) -> Result<(), RepoError> {
        db!(self, |conn, s| {
            conn.transaction::<_, diesel::result::Error, _>(async |conn| {
                diesel::insert_into(s::memberships::table)
                    .values(membership_values!(
                        s,
                        m.tenant_id.0,
                        m.user_id.0,
                        m.role,
                        m.created_at
                    ))
                    .execute(conn)
                    .await?;
                record!(conn, s, event)
            })
            .await
        })
    }

    async fn find(&self, tenant: TenantId, user: UserId) -> Result<Option<Membership>, RepoError> {
        let row: Option<(String, DbTime)> = db!(self, |conn, s| {
            s::memberships::table
                .filter(s::memberships::tenant_id.eq(DbId(tenant.0)))
                .filter(s::memberships::user_id.eq(DbId(user.0)))
                .select((s::memberships::role, s::memberships::created_at))
                .first(conn)
                .await
                .optional()
        })?;
        row.map(|(r, at)| {
            Ok(Membership {
                tenant_id: tenant,
                user_id: user,
                role: role(&r)?,
                created_at: at.0,
            })
        })
        .transpose()
    }

    async fn list(&self, tenant: TenantId, page: PageRequest) -> Result<Page<Member>, RepoError> {
        let rows: Vec<MemberRow> = db!(self, |conn, s| {
            let mut q = s::memberships::table
                .inner_join(s::users::table)
                .filter(s::memberships::tenant_id.eq(DbId(tenant.0)))
                .select((
                    s::memberships::user_id,
                    s::users::email,
                    s::memberships::role,
                    s::memberships::created_at,
                ))
                .order((s::memberships::created_at, s::memberships::user_id))
                .limit(page.fetch_limit())
                .into_boxed();
            if let Some(after) = page.after {
                let (t, id) = (DbTime(after.created_at), DbId(after.id));
                // As in `keyset!`: the `>=` bounds the index range scan.
                q = q.filter(s::memberships::created_at.ge(t)).filter(
                    s::memberships::created_at
                        .gt(t)
                        .or(s::memberships::created_at
                            .eq(t)
                            .and(s::memberships::user_id.gt(id))),
                );
            }
            q.load(conn).await
        })?;
        let members = rows
            .into_iter()
            .map(|r| {
                Ok(Member {
                    user_id: UserId(r.user_id.0),
                    email: Email::parse(&r.email).map_err(|e| corrupt(e.to_string()))?,
                    role: role(&r.role)?,
                    created_at: r.created_at.0,
                })
            })
            .collect::<Result<Vec<_>, RepoError>>()?;
        Ok(Page::from_overfetch(members, &page, |m| PageKey {
            created_at: m.created_at,
            id: m.user_id.0,
        }))
    }

    async fn tenants_of(&self, user: UserId) -> Result<Vec<TenantRole>, RepoError> {
        let rows: Vec<TenantRoleRow> = db!(self, |conn, s| {
            s::memberships::table
                .inner_join(s::tenants::table)
                .filter(s::memberships::user_id.eq(DbId(user.0)))
                .select((
                    s::tenants::id,
                    s::tenants::name,
                    s::tenants::created_at,
                    s::memberships::role,
                ))
                .order((s::memberships::created_at, s::memberships::tenant_id))
                .load(conn)
                .await
        })?;
        rows.into_iter()
            .map(|r| {
                Ok(TenantRole {
                    tenant: Tenant {
                        id: TenantId(r.id.0),
                        name: TenantName::parse(&r.name).map_err(|e| corrupt(e.to_string()))?,
                        created_at: r.created_at.0,
                    },
                    role: role(&r.role)?,
                })
            })
            .collect()
    }

    async fn change_role(
        &self,
        tenant: TenantId,
        user: UserId,
        new_role: Role,
        may_manage: &[Role],
        event: &AuditEvent,
    ) -> Result<MembershipChange, RepoError> {
        self.guarded(tenant, user, Some(new_role), may_manage, event)
            .await
    }

    async fn remove(
        &self,
        tenant: TenantId,
        user: UserId,
        may_manage: &[Role],
        event: &AuditEvent,
    ) -> Result<MembershipChange, RepoError> {
        self.guarded(tenant, user, None, may_manage, event).await
    }
}

impl Store {
    /// Changes (`Some(role)`) or removes (`None`) a membership in one transaction that
    /// first writes the tenant's row, so concurrent changes of one tenant's members
    /// run one after the other (a row lock on PostgreSQL, the write lock on SQLite) and
    /// neither the member's role nor the owner count they check can go stale.
    async fn guarded(
        &self,
        tenant: TenantId,
        user: UserId,
        new_role: Option<Role>,
        may_manage: &[Role],
        event: &AuditEvent,
    ) -> Result<MembershipChange, RepoError> {
        let outcome: Result<Guarded, RepoError> = db!(self, |conn, s| {
            conn.transaction::<_, diesel::result::Error, _>(async |conn| {
                diesel::update(s::tenants::table.filter(s::tenants::id.eq(DbId(tenant.0))))
                    .set(s::tenants::name.eq(s::tenants::name))
                    .execute(conn)
                    .await?;
                let mine = s::memberships::table
                    .filter(s::memberships::tenant_id.eq(DbId(tenant.0)))
                    .filter(s::memberships::user_id.eq(DbId(user.0)));
                let current: Option<(String, DbTime)> = mine
                    .select((s::memberships::role, s::memberships::created_at))
                    .first(conn)
                    .await
                    .optional()?;
                let Some((current_role, created_at)) = current else {
                    return Ok(Ok(Guarded::Missing));
                };
                let current_role = match role(&current_role) {
                    Ok(r) => r,
                    Err(e) => return Ok(Err(e)),
                };
                if !may_manage.contains(&current_role) {
                    return Ok(Ok(Guarded::NotGranted(current_role)));
                }
                if current_role == Role::Owner && new_role != Some(Role::Owner) {
                    let owners: i64 = s::memberships::table
                        .filter(s::memberships::tenant_id.eq(DbId(tenant.0)))
                        .filter(s::memberships::role.eq(Role::Owner.as_str()))
                        .count()
                        .get_result(conn)
                        .await?;
                    if owners <= 1 {
                        return Ok(Ok(Guarded::LastOwner));
                    }
                }
                match new_role {
                    Some(r) => {
                        diesel::update(mine)
                            .set(s::memberships::role.eq(r.as_str()))
                            .execute(conn)
                            .await?;
                    }
                    None => {
                        diesel::delete(mine).execute(conn).await?;
                        diesel::update(
                            s::users::table
                                .filter(s::users::id.eq(DbId(user.0)))
                                .filter(s::users::active_tenant_id.eq(DbId(tenant.0))),
                        )
                        .set(s::users::active_tenant_id.eq(None::<DbId>))
                        .execute(conn)
                        .await?;
                    }
                }
                record!(conn, s, event)?;
                Ok(Ok(Guarded::Done(Membership {
                    tenant_id: tenant,
                    user_id: user,
                    role: current_role,
                    created_at: created_at.0,
                })))
            })
            .await
        })?;
        Ok(match outcome? {
            Guarded::Missing => MembershipChange::NotFound,
            Guarded::LastOwner => MembershipChange::LastOwner,
            Guarded::NotGranted(r) => MembershipChange::NotGranted(r),
            Guarded::Done(before) => MembershipChange::Done(before),
        })
    }
}

/// The column values of a refresh token row, from the schema module `$s`.
macro_rules! refresh_values {
    ($s:ident, $token:expr, $hash:expr) => {{
        let t: &RefreshToken = $token;
        (
            $s::refresh_tokens::id.eq(DbId(t.id.0)),
            $s::refresh_tokens::family_id.eq(DbId(t.family_id.0)),
            $s::refresh_tokens::user_id.eq(DbId(t.user_id.0)),
            $s::refresh_tokens::token_hash.eq($hash.as_slice()),
            $s::refresh_tokens::created_at.eq(DbTime(t.created_at)),
            $s::refresh_tokens::expires_at.eq(DbTime(t.expires_at)),
            $s::refresh_tokens::used_at.eq(t.used_at.map(DbTime)),
            $s::refresh_tokens::revoked_at.eq(t.revoked_at.map(DbTime)),
        )
    }};
}

#[derive(Queryable)]
struct RefreshRow {
    id: DbId,
    family_id: DbId,
    user_id: DbId,
    created_at: DbTime,
    expires_at: DbTime,
    used_at: Option<DbTime>,
    revoked_at: Option<DbTime>,
}

#[async_trait]
impl RefreshTokenRepository for Store {
    async fn insert(
        &self,
        t: &RefreshToken,
        hash: &[u8; 32],
        event: Option<&AuditEvent>,
    ) -> Result<(), RepoError> {
        db!(self, |conn, s| {
            conn.transaction::<_, diesel::result::Error, _>(async |conn| {
                diesel::insert_into(s::refresh_tokens::table)
                    .values(refresh_values!(s, t, hash))
                    .execute(conn)
                    .await?;
                match event {
                    Some(e) => record!(conn, s, e),
                    None => Ok(()),
                }
            })
            .await
        })
    }

    async fn find_by_hash(&self, hash: &[u8; 32]) -> Result<Option<RefreshToken>, RepoError> {
        let row: Option<RefreshRow> = db!(self, |conn, s| {
            s::refresh_tokens::table
                .filter(s::refresh_tokens::token_hash.eq(hash.as_slice()))
                .select((
                    s::refresh_tokens::id,
                    s::refresh_tokens::family_id,
                    s::refresh_tokens::user_id,
                    s::refresh_tokens::created_at,
                    s::refresh_tokens::expires_at,
                    s::refresh_tokens::used_at,
                    s::refresh_tokens::revoked_at,
                ))
                .first(conn)
                .await
                .optional()
        })?;
        Ok(row.map(|r| RefreshToken {
            id: RefreshTokenId(r.id.0),
            family_id: TokenFamilyId(r.family_id.0),
            user_id: UserId(r.user_id.0),
            created_at: r.created_at.0,
            expires_at: r.expires_at.0,
            used_at: r.used_at.map(|t| t.0),
            revoked_at: r.revoked_at.map(|t| t.0),
        }))
    }

    async fn rotate(
        &self,
        old: RefreshTokenId,
        at: OffsetDateTime,
        new: &RefreshToken,
        hash: &[u8; 32],
    ) -> Result<bool, RepoError> {
        db!(self, |conn, s| {
            conn.transaction::<_, diesel::result::Error, _>(async |conn| {
                let n = diesel::update(
                    s::refresh_tokens::table
                        .filter(s::refresh_tokens::id.eq(DbId(old.0)))
                        .filter(s::refresh_tokens::used_at.is_null())
                        .filter(s::refresh_tokens::revoked_at.is_null()),
                )
                .set(s::refresh_tokens::used_at.eq(Some(DbTime(at))))
                .execute(conn)
                .await?;
                if n != 1 {
                    return Ok(false);
                }
                diesel::insert_into(s::refresh_tokens::table)
                    .values(refresh_values!(s, new, hash))
                    .execute(conn)
                    .await?;
                Ok(true)
            })
            .await
        })
    }

    async fn revoke_family(
        &self,
        family: TokenFamilyId,
        at: OffsetDateTime,
        event: Option<&AuditEvent>,
    ) -> Result<(), RepoError> {
        db!(self, |conn, s| {
            conn.transaction::<_, diesel::result::Error, _>(async |conn| {
                diesel::update(
                    s::refresh_tokens::table
                        .filter(s::refresh_tokens::family_id.eq(DbId(family.0)))
                        .filter(s::refresh_tokens::revoked_at.is_null()),
                )
                .set(s::refresh_tokens::revoked_at.eq(Some(DbTime(at))))
                .execute(conn)
                .await?;
                match event {
                    Some(e) => record!(conn, s, e),
                    None => Ok(()),
                }
            })
            .await
        })
    }
}
