//! `/api/auth`: accounts, session tokens and API keys.

use crate::strict::Text;
use poem::Request;
use poem::web::Data;
use poem_openapi::param::Path;
use poem_openapi::{ApiResponse, Object, OpenApi, payload::Json};
use signal_sentinel::Secret;
use signal_sentinel::auth::MAX_PASSWORD_LEN;
use signal_sentinel::domain::{ApiKey, ApiKeyId, Email, User};
use signal_sentinel::service::{MAX_DISPLAY_NAME_LEN, MAX_KEY_NAME_LEN};

use super::{ApiTags, NoContent};
use crate::AppState;
use crate::error::ApiError;
use crate::security::{Auth, client_key};

/// An account as its owner sees it.
#[derive(Debug, Clone, Object)]
pub struct UserOut {
    /// Account id.
    pub id: i64,
    /// E-mail address (the login).
    pub email: String,
    /// Name to show.
    #[oai(nullable)]
    pub display_name: Option<String>,
    /// When the account was opened.
    pub created_at: chrono::DateTime<chrono::Utc>,
}

impl From<User> for UserOut {
    fn from(u: User) -> Self {
        Self {
            id: u.id.get(),
            email: u.email.as_str().to_owned(),
            display_name: u.display_name,
            created_at: u.created_at,
        }
    }
}

/// A new account.
#[derive(Object)]
pub struct RegisterIn {
    /// E-mail address, the login.
    pub email: Text<{ Email::MAX_LEN }>,
    /// 8 to 1024 characters.
    pub password: Text<{ MAX_PASSWORD_LEN }>,
    /// Name to show.
    #[oai(nullable)]
    pub display_name: Option<Text<{ MAX_DISPLAY_NAME_LEN }>>,
}

/// Credentials.
#[derive(Object)]
pub struct LoginIn {
    /// E-mail address.
    pub email: Text<{ Email::MAX_LEN }>,
    /// Password.
    pub password: Text<{ MAX_PASSWORD_LEN }>,
}

/// A password change.
#[derive(Object)]
pub struct PasswordChangeIn {
    /// The password now.
    pub current_password: Text<{ MAX_PASSWORD_LEN }>,
    /// The new one, 8 to 1024 characters.
    pub new_password: Text<{ MAX_PASSWORD_LEN }>,
}

macro_rules! redacted_debug {
    ($($t:ty),*) => {$(
        impl std::fmt::Debug for $t {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(concat!(stringify!($t), " { [redacted] }"))
            }
        }
    )*};
}
redacted_debug!(
    RegisterIn,
    LoginIn,
    PasswordChangeIn,
    TokenOut,
    CreatedApiKeyOut
);

/// A session token.
#[derive(Object)]
pub struct TokenOut {
    /// Send as `Authorization: Bearer <access_token>`.
    pub access_token: String,
    /// Always `bearer`.
    pub token_type: String,
    /// When it stops working.
    pub expires_at: chrono::DateTime<chrono::Utc>,
    /// Seconds until then.
    pub expires_in: i64,
}

/// An API key as listed (never the key itself).
#[derive(Debug, Clone, Object)]
pub struct ApiKeyOut {
    /// Key id, for revoking.
    pub id: i64,
    /// Its name.
    pub name: String,
    /// The key's first characters, to recognise it.
    pub prefix: String,
    /// When it was created.
    pub created_at: chrono::DateTime<chrono::Utc>,
    /// When it was last used (to the minute).
    #[oai(nullable)]
    pub last_used_at: Option<chrono::DateTime<chrono::Utc>>,
    /// When it was revoked.
    #[oai(nullable)]
    pub revoked_at: Option<chrono::DateTime<chrono::Utc>>,
}

impl From<ApiKey> for ApiKeyOut {
    fn from(k: ApiKey) -> Self {
        Self {
            id: k.id.get(),
            name: k.name,
            prefix: k.prefix,
            created_at: k.created_at,
            last_used_at: k.last_used_at,
            revoked_at: k.revoked_at,
        }
    }
}

/// A new API key.
#[derive(Debug, Object)]
pub struct ApiKeyIn {
    /// What it is for (1 to 64 characters).
    pub name: Text<{ MAX_KEY_NAME_LEN }>,
}

/// A newly created API key: the key is shown this once.
#[derive(Object)]
pub struct CreatedApiKeyOut {
    /// The key: send it as `X-API-Key` (or as a bearer token). It cannot be shown again.
    pub key: String,
    /// The key's record.
    #[oai(flatten)]
    pub info: ApiKeyOut,
}

/// Account created.
#[derive(Debug, ApiResponse)]
pub enum RegisterResponse {
    /// The new account.
    #[oai(status = 201)]
    Created(Json<UserOut>),
}

/// Key created.
#[derive(Debug, ApiResponse)]
pub enum CreateKeyResponse {
    /// The key, shown once.
    #[oai(status = 201)]
    Created(Json<CreatedApiKeyOut>),
}

/// Accounts, tokens and API keys.
#[derive(Debug, Clone, Copy, Default)]
pub struct AuthApi;

#[OpenApi(prefix_path = "/auth", tag = "ApiTags::Auth")]
impl AuthApi {
    /// Open an account.
    ///
    /// Limited per client address (429 with `Retry-After` past it).
    #[oai(path = "/register", method = "post", operation_id = "register")]
    async fn register(
        &self,
        state: Data<&AppState>,
        req: &Request,
        body: Json<RegisterIn>,
    ) -> Result<RegisterResponse, ApiError> {
        let addr = req
            .remote_addr()
            .as_socket_addr()
            .map(std::net::SocketAddr::ip);
        state.limits.auth_per_address.check(&client_key(addr))?;
        let Json(body) = body;
        let user = state
            .services
            .register(
                &body.email,
                Secret::new(body.password),
                body.display_name.map(String::from),
            )
            .await?;
        Ok(RegisterResponse::Created(Json(user.into())))
    }

    /// Log in: a session token for `Authorization: Bearer …`.
    ///
    /// Limited per client address and per account from one address (429 with `Retry-After`
    /// past it). Past `LOGIN_FAILURES_BEFORE_SLOWDOWN` wrong passwords in 15 minutes on one
    /// account, from anywhere, its logins take turns one a second (an answer may be slow),
    /// except from an address that signed in to it recently; an attempt that would wait over
    /// 10 s answers 429. Wrong address and wrong password answer the same.
    #[oai(path = "/login", method = "post", operation_id = "login")]
    async fn login(
        &self,
        state: Data<&AppState>,
        req: &Request,
        body: Json<LoginIn>,
    ) -> Result<Json<TokenOut>, ApiError> {
        let addr = req
            .remote_addr()
            .as_socket_addr()
            .map(std::net::SocketAddr::ip);
        let client = client_key(addr);
        state.limits.auth_per_address.check(&client)?;
        let Json(body) = body;
        // Per account *and* address: someone guessing an owner's password from elsewhere is
        // limited without locking the owner out (OWASP's advice against account lockout).
        state
            .limits
            .login_per_account_address
            .check(&format!("{}|{client}", body.email.trim().to_lowercase()))?;
        let (_, token) = state
            .services
            .login(
                &body.email,
                Secret::new(body.password),
                addr.map(|a| a.to_string()).as_deref(),
            )
            .await?;
        let expires_in = (token.expires_at - state.services.now())
            .num_seconds()
            .max(0);
        Ok(Json(TokenOut {
            access_token: token.token,
            token_type: "bearer".into(),
            expires_at: token.expires_at,
            expires_in,
        }))
    }

    /// The account of the caller.
    #[oai(path = "/me", method = "get", operation_id = "me")]
    async fn me(&self, state: Data<&AppState>, auth: Auth) -> Result<Json<UserOut>, ApiError> {
        let who = auth.principal(&state).await?;
        Ok(Json(state.services.me(who).await?.into()))
    }

    /// Change the caller's password.
    ///
    /// Tokens already issued stay valid until they expire.
    #[oai(path = "/password", method = "post", operation_id = "change_password")]
    async fn change_password(
        &self,
        state: Data<&AppState>,
        auth: Auth,
        body: Json<PasswordChangeIn>,
    ) -> Result<NoContent, ApiError> {
        let who = auth.principal(&state).await?;
        let Json(body) = body;
        state
            .services
            .change_password(
                who,
                Secret::new(body.current_password),
                Secret::new(body.new_password),
            )
            .await?;
        Ok(NoContent::Done)
    }

    /// Create an API key for scripts; the key is in the answer and never again.
    #[oai(path = "/api-keys", method = "post", operation_id = "create_api_key")]
    async fn create_api_key(
        &self,
        state: Data<&AppState>,
        auth: Auth,
        body: Json<ApiKeyIn>,
    ) -> Result<CreateKeyResponse, ApiError> {
        let who = auth.principal(&state).await?;
        let (key, secret) = state.services.create_api_key(who, &body.0.name).await?;
        Ok(CreateKeyResponse::Created(Json(CreatedApiKeyOut {
            key: secret.expose().to_owned(),
            info: key.into(),
        })))
    }

    /// The caller's API keys (names, prefixes and dates; never the keys).
    #[oai(path = "/api-keys", method = "get", operation_id = "list_api_keys")]
    async fn list_api_keys(
        &self,
        state: Data<&AppState>,
        auth: Auth,
    ) -> Result<Json<Vec<ApiKeyOut>>, ApiError> {
        let who = auth.principal(&state).await?;
        let keys = state.services.list_api_keys(who).await?;
        Ok(Json(keys.into_iter().map(ApiKeyOut::from).collect()))
    }

    /// Revoke an API key: the next request with it is refused.
    #[oai(
        path = "/api-keys/:key_id",
        method = "delete",
        operation_id = "revoke_api_key"
    )]
    async fn revoke_api_key(
        &self,
        state: Data<&AppState>,
        auth: Auth,
        key_id: Path<i64>,
    ) -> Result<NoContent, ApiError> {
        let who = auth.principal(&state).await?;
        state
            .services
            .revoke_api_key(who, ApiKeyId::new(key_id.0))
            .await?;
        Ok(NoContent::Done)
    }
}
