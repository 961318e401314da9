//! The tables, declared once and expanded per backend with that backend's native
//! SQL types (`sql::Id`, `sql::Instant`, `sql::Json`), so every query can be written once
//! against `schema::pg` and `schema::sqlite` alike.

macro_rules! define_tables {
    ($b:ident) => {
        diesel::table! {
            tenants (id) {
                id -> crate::schema::$b::sql::Id,
                name -> Text,
                created_at -> crate::schema::$b::sql::Instant,
            }
        }

        diesel::table! {
            api_keys (id) {
                id -> crate::schema::$b::sql::Id,
                tenant_id -> crate::schema::$b::sql::Id,
                name -> Text,
                prefix -> Text,
                key_hash -> Binary,
                scopes -> Text,
                created_at -> crate::schema::$b::sql::Instant,
                expires_at -> Nullable<crate::schema::$b::sql::Instant>,
                revoked_at -> Nullable<crate::schema::$b::sql::Instant>,
                last_used_at -> Nullable<crate::schema::$b::sql::Instant>,
                rate_limit_requests -> Nullable<Integer>,
                rate_limit_per_seconds -> Nullable<Integer>,
                rotated_at -> Nullable<crate::schema::$b::sql::Instant>,
            }
        }

        diesel::table! {
            api_key_usage (key_id, hour) {
                key_id -> crate::schema::$b::sql::Id,
                tenant_id -> crate::schema::$b::sql::Id,
                hour -> crate::schema::$b::sql::Instant,
                ok -> BigInt,
                client_error -> BigInt,
                forbidden -> BigInt,
                rate_limited -> BigInt,
                server_error -> BigInt,
            }
        }

        diesel::table! {
            runtime_images (id) {
                id -> crate::schema::$b::sql::Id,
                name -> Text,
                version -> Text,
                digest -> Text,
                created_at -> crate::schema::$b::sql::Instant,
            }
        }

        diesel::table! {
            runtime_image_channels (channel) {
                channel -> Text,
                image_id -> crate::schema::$b::sql::Id,
                promoted_at -> crate::schema::$b::sql::Instant,
            }
        }

        diesel::table! {
            instances (id) {
                id -> crate::schema::$b::sql::Id,
                tenant_id -> crate::schema::$b::sql::Id,
                name -> Text,
                status -> Text,
                runtime_image -> Text,
                config -> crate::schema::$b::sql::Json,
                created_at -> crate::schema::$b::sql::Instant,
                updated_at -> crate::schema::$b::sql::Instant,
                status_reason -> Nullable<Text>,
            }
        }

        diesel::table! {
            mcp_call_log (id) {
                id -> crate::schema::$b::sql::Id,
                tenant_id -> crate::schema::$b::sql::Id,
                key_id -> Nullable<crate::schema::$b::sql::Id>,
                tool -> Text,
                scope -> Text,
                status -> Text,
                latency_us -> BigInt,
                created_at -> crate::schema::$b::sql::Instant,
                grant_id -> Nullable<crate::schema::$b::sql::Id>,
                client_name -> Nullable<Text>,
            }
        }

        diesel::table! {
            users (id) {
                id -> crate::schema::$b::sql::Id,
                email -> Text,
                password_hash -> Text,
                active_tenant_id -> Nullable<crate::schema::$b::sql::Id>,
                created_at -> crate::schema::$b::sql::Instant,
            }
        }

        diesel::table! {
            memberships (tenant_id, user_id) {
                tenant_id -> crate::schema::$b::sql::Id,
                user_id -> crate::schema::$b::sql::Id,
                role -> Text,
                created_at -> crate::schema::$b::sql::Instant,
            }
        }

        diesel::table! {
            refresh_tokens (id) {
                id -> crate::schema::$b::sql::Id,
                family_id -> crate::schema::$b::sql::Id,
                user_id -> crate::schema::$b::sql::Id,
                token_hash -> Binary,
                created_at -> crate::schema::$b::sql::Instant,
                expires_at -> crate::schema::$b::sql::Instant,
                used_at -> Nullable<crate::schema::$b::sql::Instant>,
                revoked_at -> Nullable<crate::schema::$b::sql::Instant>,
            }
        }

        diesel::table! {
            audit_events (id) {
                id -> crate::schema::$b::sql::Id,
                tenant_id -> Nullable<crate::schema::$b::sql::Id>,
                created_at -> crate::schema::$b::sql::Instant,
                action -> Text,
                actor_kind -> Text,
                actor_id -> Nullable<crate::schema::$b::sql::Id>,
                actor_name -> Text,
                target_kind -> Text,
                target_id -> crate::schema::$b::sql::Id,
                target_name -> Text,
                fields -> Text,
                request_id -> Nullable<Text>,
                client -> Nullable<Text>,
            }
        }

        diesel::table! {
            console_sessions (id) {
                id -> crate::schema::$b::sql::Id,
                user_id -> crate::schema::$b::sql::Id,
                token_hash -> Binary,
                created_at -> crate::schema::$b::sql::Instant,
                expires_at -> crate::schema::$b::sql::Instant,
            }
        }

        diesel::table! {
            mcp_credentials (id) {
                id -> crate::schema::$b::sql::Id,
                tenant_id -> crate::schema::$b::sql::Id,
                name -> Text,
                server_url -> Text,
                auth_kind -> Text,
                header_name -> Nullable<Text>,
                secret_hint -> Text,
                key_id -> Text,
                nonce -> Binary,
                ciphertext -> Binary,
                created_at -> crate::schema::$b::sql::Instant,
            }
        }

        diesel::table! {
            idempotency_keys (owner, idem_key) {
                owner -> Text,
                idem_key -> Text,
                fingerprint -> Binary,
                status -> Nullable<Integer>,
                body -> Nullable<Binary>,
                created_at -> crate::schema::$b::sql::Instant,
                expires_at -> crate::schema::$b::sql::Instant,
                seal_key_id -> Nullable<Text>,
                seal_nonce -> Nullable<Binary>,
            }
        }

        diesel::table! {
            oauth_clients (id) {
                id -> Text,
                name -> Text,
                redirect_uris -> Text,
                created_at -> crate::schema::$b::sql::Instant,
            }
        }

        diesel::table! {
            oauth_grants (id) {
                id -> crate::schema::$b::sql::Id,
                tenant_id -> crate::schema::$b::sql::Id,
                user_id -> crate::schema::$b::sql::Id,
                client_id -> Text,
                client_name -> Text,
                scopes -> Text,
                resource -> Text,
                created_at -> crate::schema::$b::sql::Instant,
                last_used_at -> Nullable<crate::schema::$b::sql::Instant>,
                revoked_at -> Nullable<crate::schema::$b::sql::Instant>,
            }
        }

        diesel::table! {
            oauth_tokens (token_hash) {
                token_hash -> Binary,
                grant_id -> crate::schema::$b::sql::Id,
                kind -> Text,
                scopes -> Text,
                redirect_uri -> Nullable<Text>,
                challenge -> Nullable<Text>,
                created_at -> crate::schema::$b::sql::Instant,
                expires_at -> crate::schema::$b::sql::Instant,
                used_at -> Nullable<crate::schema::$b::sql::Instant>,
            }
        }

        diesel::joinable!(oauth_tokens -> oauth_grants (grant_id));
        diesel::allow_tables_to_appear_in_same_query!(oauth_tokens, oauth_grants);
        diesel::joinable!(runtime_image_channels -> runtime_images (image_id));
        diesel::joinable!(memberships -> users (user_id));
        diesel::joinable!(memberships -> tenants (tenant_id));
        diesel::allow_tables_to_appear_in_same_query!(runtime_images, runtime_image_channels);
        diesel::allow_tables_to_appear_in_same_query!(memberships, users, tenants);
    };
}

/// PostgreSQL: native `uuid`, `timestamptz`, `json` (kept as the text it was given).
pub mod pg {
    pub mod sql {
        pub type Id = diesel::sql_types::Uuid;
        pub type Instant = diesel::sql_types::Timestamptz;
        pub type Json = diesel::sql_types::Json;
    }
    define_tables!(pg);

    /// Announces a changed key to every node, delivered when the enclosing transaction
    /// commits (and never if it rolls back).
    pub async fn announce_key(
        conn: &mut diesel_async::AsyncPgConnection,
        id: uuid::Uuid,
    ) -> diesel::QueryResult<()> {
        use diesel_async::RunQueryDsl;
        diesel::sql_query("SELECT pg_notify($1, $2)")
            .bind::<diesel::sql_types::Text, _>(crate::key_events::CHANNEL)
            .bind::<diesel::sql_types::Text, _>(id.to_string())
            .execute(conn)
            .await
            .map(|_| ())
    }
}

/// SQLite: 16-byte `BLOB` ids, fixed-width UTC `TEXT` timestamps, `TEXT` JSON.
pub mod sqlite {
    pub mod sql {
        pub type Id = diesel::sql_types::Binary;
        pub type Instant = diesel::sql_types::Text;
        pub type Json = diesel::sql_types::Json;
    }
    define_tables!(sqlite);

    /// One node serves a SQLite file: there is nobody to tell.
    #[allow(
        clippy::unused_async,
        reason = "the same call as PostgreSQL's, which awaits"
    )]
    pub async fn announce_key(
        _conn: &mut crate::SqliteConn,
        _id: uuid::Uuid,
    ) -> diesel::QueryResult<()> {
        Ok(())
    }
}
