//! `/settings/api-keys`: the tenant's keys; minting one (shown once), changing,
//! rotating and revoking it.

use actix_web::http::StatusCode;
use actix_web::web::{self, Path, Query, ServiceConfig};
use actix_web::{HttpRequest, HttpResponse};
use askama::Template;
use hydracore_api::{
    self as api, ApiKeyDto, ApiKeyUsageDto, CreateApiKeyRequest, CreatedApiKeyDto, RateLimitDto,
    RotateApiKeyRequest, Timestamp, UpdateApiKeyRequest, UsageRange,
};
use hydracore_keys::ApiKeyId;
use hydracore_scopes::{CATALOGUE, Scope};
use time::{Date, Duration, OffsetDateTime, Time};

use super::{Confirm, ListQuery, Pager, chrome};
use crate::request::{Action, Fields, Signed};
use crate::view::{self, Chrome, FormErrors, Refusal, Section, iso, relative, when};

/// This page's section of the navigation.
pub const SECTION: Section = Section {
    href: "/settings/api-keys",
    label: "API keys",
    need: None,
};

/// A key as a row or its page shows it.
pub struct KeyView {
    pub id: String,
    pub name: String,
    pub prefix: String,
    pub scopes: Vec<String>,
    pub created: String,
    pub created_iso: String,
    pub last_used: String,
    pub expires: String,
    /// `(class, text)` when the key has expired or expires within 7 days.
    pub expiry_badge: Option<(&'static str, String)>,
    pub rate_limit: String,
    /// The last 36 hours, on the list.
    pub spark: Option<Sparkline>,
}

impl KeyView {
    fn new(k: &ApiKeyDto, now: OffsetDateTime) -> Self {
        let expiry_badge = k.expires_at.as_ref().and_then(|t| {
            if t.0 <= now {
                Some(("expired", "expired".to_owned()))
            } else if t.0 - now < Duration::days(7) {
                Some(("soon", format!("expires {}", relative(t.0, now))))
            } else {
                None
            }
        });
        Self {
            id: k.id.to_string(),
            name: k.name.clone(),
            prefix: k.prefix.clone(),
            scopes: k.scopes.clone(),
            created: when(k.created_at.0),
            created_iso: iso(k.created_at.0),
            last_used: k
                .last_used_at
                .as_ref()
                .map_or_else(|| "never".to_owned(), |t| relative(t.0, now)),
            expires: k
                .expires_at
                .as_ref()
                .map_or_else(|| "never".to_owned(), |t| when(t.0)),
            expiry_badge,
            rate_limit: k
                .rate_limit
                .as_ref()
                .map_or_else(|| "server default".to_owned(), limit_text),
            spark: None,
        }
    }
}

/// A key's last 36 hours as a line of hourly totals: the `points` of an SVG
/// `polyline` in a 105 × 24 box, and what it says in words.
pub struct Sparkline {
    pub points: String,
    pub label: String,
}

impl Sparkline {
    const HOURS: usize = 36;
    const HEIGHT: f64 = 24.0;

    fn new(usage: &ApiKeyUsageDto) -> Self {
        let mut hours = [0_u64; Self::HOURS];
        let mut refused = 0;
        for b in &usage.buckets {
            let i = (b.hour.0 - usage.since.0).whole_hours();
            if let Some(slot) = usize::try_from(i).ok().and_then(|i| hours.get_mut(i)) {
                *slot += total(b);
                refused += total(b) - b.ok;
            }
        }
        let all: u64 = hours.iter().sum();
        let peak = hours.iter().copied().max().unwrap_or(0).max(1);
        let points = hours
            .iter()
            .enumerate()
            .map(|(i, &n)| {
                #[allow(clippy::cast_precision_loss, reason = "a drawing's coordinates")]
                let y = Self::HEIGHT - 1.0 - (Self::HEIGHT - 2.0) * n as f64 / peak as f64;
                format!("{},{y:.1}", i * 3)
            })
            .collect::<Vec<_>>()
            .join(" ");
        let label = match (all, refused) {
            (0, _) => "No requests in the last 36 hours".to_owned(),
            (n, 0) => format!("{n} requests in the last 36 hours"),
            (n, r) => format!("{n} requests in the last 36 hours, {r} of them refused or failed"),
        };
        Self { points, label }
    }
}

fn total(b: &api::ApiKeyUsageBucketDto) -> u64 {
    b.ok + b.client_error + b.forbidden + b.rate_limited + b.server_error
}

/// One part of a day's bar: a class saying which outcomes it counts, and where it
/// lies in the chart's 300 × 100 box.
pub struct BarPart {
    pub class: &'static str,
    pub y: String,
    pub height: String,
}

/// One day's bar of the 30-day chart.
pub struct DayBar {
    pub x: u32,
    pub parts: Vec<BarPart>,
    /// The day and its numbers, as the bar's tooltip.
    pub title: String,
}

/// A key's last 30 days, one stacked bar a day: served, refused (4xx, 403, 429) and
/// failed (5xx).
pub struct UsageChart {
    pub bars: Vec<DayBar>,
    pub label: String,
}

impl UsageChart {
    const DAYS: usize = 30;

    /// The range the chart reads: the 30 UTC days up to the end of today.
    fn range(now: OffsetDateTime) -> UsageRange {
        let until = now
            .date()
            .next_day()
            .unwrap_or(now.date())
            .midnight()
            .assume_utc();
        UsageRange {
            since: Some(Timestamp(until - Duration::days(Self::DAYS as i64))),
            until: Some(Timestamp(until)),
        }
    }

    fn new(usage: &ApiKeyUsageDto) -> Self {
        let mut days = [(0_u64, 0_u64, 0_u64); Self::DAYS];
        for b in &usage.buckets {
            let i = (b.hour.0 - usage.since.0).whole_days();
            if let Some(day) = usize::try_from(i).ok().and_then(|i| days.get_mut(i)) {
                day.0 += b.ok;
                day.1 += b.client_error + b.forbidden + b.rate_limited;
                day.2 += b.server_error;
            }
        }
        let peak = days
            .iter()
            .map(|d| d.0 + d.1 + d.2)
            .max()
            .unwrap_or(0)
            .max(1);
        #[allow(clippy::cast_precision_loss, reason = "a drawing's coordinates")]
        let scale = |n: u64| 100.0 * n as f64 / peak as f64;
        let format = time::macros::format_description!("[year]-[month]-[day]");
        let bars = days
            .iter()
            .enumerate()
            .map(|(i, &(ok, refused, failed))| {
                let mut top = 100.0;
                let mut parts = Vec::new();
                for (class, n) in [
                    ("bar-ok", ok),
                    ("bar-refused", refused),
                    ("bar-error", failed),
                ] {
                    if n > 0 {
                        let h = scale(n);
                        top -= h;
                        parts.push(BarPart {
                            class,
                            y: format!("{top:.2}"),
                            height: format!("{h:.2}"),
                        });
                    }
                }
                let day = (usage.since.0 + Duration::days(i as i64))
                    .format(format)
                    .unwrap_or_default();
                DayBar {
                    x: u32::try_from(i * 10).unwrap_or(0),
                    parts,
                    title: format!("{day}: {ok} served, {refused} refused, {failed} failed"),
                }
            })
            .collect();
        let (ok, refused, failed) = days
            .iter()
            .fold((0, 0, 0), |a, d| (a.0 + d.0, a.1 + d.1, a.2 + d.2));
        Self {
            bars,
            label: format!(
                "Requests per day in the last 30 days: {ok} served, {refused} refused, {failed} failed"
            ),
        }
    }
}

fn limit_text(r: &RateLimitDto) -> String {
    format!("{} requests / {} s", r.requests, r.per_seconds)
}

/// One preset of the scope picker.
pub struct Preset {
    pub id: &'static str,
    pub label: &'static str,
    /// The scopes it ticks, space-separated (read by the page's script).
    pub scopes: String,
}

pub struct ScopeOption {
    pub id: String,
    pub value: String,
    pub summary: String,
    pub checked: bool,
    /// Whether the person holds it (and so may grant it).
    pub held: bool,
}

pub struct ScopeGroup {
    pub resource: &'static str,
    pub description: &'static str,
    pub options: Vec<ScopeOption>,
}

/// The scope picker: the catalogue grouped by resource, each scope with its line.
pub struct ScopePicker {
    pub prefix: &'static str,
    pub presets: Vec<Preset>,
    pub preset: &'static str,
    pub groups: Vec<ScopeGroup>,
}

/// Every `:read` scope the person holds.
fn read_only(signed: &Signed) -> Vec<String> {
    CATALOGUE
        .iter()
        .filter(|spec| spec.verbs.iter().any(|v| v.name == "read"))
        .map(|spec| Scope::of(spec.resource, "read"))
        .filter(|s| signed.principal.scopes.allows(s))
        .map(|s| s.to_string())
        .collect()
}

/// Everything the person's role allows, as the role holds it.
fn everything(signed: &Signed) -> Vec<String> {
    signed.principal.scopes.to_strings()
}

impl ScopePicker {
    fn new(signed: &Signed, preset: &'static str, checked: &[String]) -> Self {
        let presets = vec![
            Preset {
                id: "custom",
                label: "Custom: the scopes ticked below",
                scopes: String::new(),
            },
            Preset {
                id: "read-only",
                label: "Read-only: every read scope you hold",
                scopes: read_only(signed).join(" "),
            },
            Preset {
                id: "role",
                label: "Everything your role allows",
                scopes: everything(signed).join(" "),
            },
        ];
        let groups = CATALOGUE
            .iter()
            .map(|spec| ScopeGroup {
                resource: spec.resource,
                description: spec.description,
                options: spec
                    .verbs
                    .iter()
                    .map(|v| v.name)
                    .chain(["*"])
                    .map(|verb| {
                        let scope = Scope::of(spec.resource, verb);
                        let value = scope.to_string();
                        ScopeOption {
                            id: value.replace([':', '*'], "-").replace("--", "-all"),
                            checked: checked.contains(&value),
                            held: signed.principal.scopes.allows(&scope),
                            summary: spec.summary(verb),
                            value,
                        }
                    })
                    .collect(),
            })
            .collect();
        Self {
            prefix: "",
            presets,
            preset,
            groups,
        }
    }
}

pub struct ExpiryChoice {
    pub value: &'static str,
    pub label: &'static str,
}

/// The expiry choices, and which is chosen.
pub struct Expiry {
    pub prefix: &'static str,
    pub choices: Vec<ExpiryChoice>,
    pub selected: String,
    pub date: String,
}

impl Expiry {
    fn new(editing: bool, selected: &str, date: &str) -> Self {
        let mut choices = Vec::new();
        if editing {
            choices.push(ExpiryChoice {
                value: "keep",
                label: "Keep as it is",
            });
        }
        choices.extend([
            ExpiryChoice {
                value: "never",
                label: "Never",
            },
            ExpiryChoice {
                value: "7",
                label: "In 7 days",
            },
            ExpiryChoice {
                value: "30",
                label: "In 30 days",
            },
            ExpiryChoice {
                value: "90",
                label: "In 90 days",
            },
            ExpiryChoice {
                value: "date",
                label: "On a date",
            },
        ]);
        Self {
            prefix: "",
            choices,
            selected: selected.to_owned(),
            date: date.to_owned(),
        }
    }
}

#[derive(Default)]
pub struct RateForm {
    pub requests: String,
    pub per_seconds: String,
}

/// What the create and change forms hold, as typed.
struct KeyForm {
    name: String,
    checked: Vec<String>,
    preset: &'static str,
    expires: String,
    expires_on: String,
    rate: RateForm,
}

impl KeyForm {
    fn read(f: &Fields) -> Self {
        Self {
            name: f.text("name").to_owned(),
            checked: f.all("scopes"),
            preset: match f.text("preset") {
                "read-only" => "read-only",
                "role" => "role",
                _ => "custom",
            },
            expires: f.text("expires").to_owned(),
            expires_on: f.text("expires_on").to_owned(),
            rate: RateForm {
                requests: f.text("rate_requests").trim().to_owned(),
                per_seconds: f.text("rate_per_seconds").trim().to_owned(),
            },
        }
    }

    fn of_key(k: &ApiKeyDto) -> Self {
        Self {
            name: k.name.clone(),
            checked: k.scopes.clone(),
            preset: "custom",
            expires: "keep".into(),
            expires_on: String::new(),
            rate: k
                .rate_limit
                .as_ref()
                .map_or_else(RateForm::default, |r| RateForm {
                    requests: r.requests.to_string(),
                    per_seconds: r.per_seconds.to_string(),
                }),
        }
    }

    /// The scopes asked for: the preset's, or those ticked.
    fn scopes(&self, signed: &Signed) -> Vec<String> {
        match self.preset {
            "read-only" => read_only(signed),
            "role" => everything(signed),
            _ => self.checked.clone(),
        }
    }

    /// The expiry asked for: `None` to keep it, `Some(None)` for never.
    fn expires_at(&self, now: OffsetDateTime) -> Result<Option<Option<Timestamp>>, FormErrors> {
        let days = |n| Ok(Some(Some(Timestamp(now + Duration::days(n)))));
        match self.expires.as_str() {
            "keep" => Ok(None),
            "never" | "" => Ok(Some(None)),
            "7" => days(7),
            "30" => days(30),
            "90" => days(90),
            "date" => {
                let format = time::macros::format_description!("[year]-[month]-[day]");
                Date::parse(self.expires_on.trim(), format)
                    .map(|d| Some(Some(Timestamp(d.with_time(Time::MIDNIGHT).assume_utc()))))
                    .map_err(|_| {
                        FormErrors::field("expires_at", "Choose the date the key expires on")
                    })
            }
            _ => Err(FormErrors::field(
                "expires_at",
                "Choose when the key expires",
            )),
        }
    }

    /// The rate limit asked for: `None` for the server default.
    fn rate_limit(&self) -> Result<Option<RateLimitDto>, FormErrors> {
        let number = |field: &str, text: &str| {
            text.parse::<u32>().map_err(|_| {
                FormErrors::field(
                    field,
                    "Write a whole number of 1 or more, without separators",
                )
            })
        };
        match (
            self.rate.requests.is_empty(),
            self.rate.per_seconds.is_empty(),
        ) {
            (true, true) => Ok(None),
            (false, false) => Ok(Some(RateLimitDto {
                requests: number("rate_limit.requests", &self.rate.requests)?,
                per_seconds: number("rate_limit.per_seconds", &self.rate.per_seconds)?,
            })),
            _ => Err(FormErrors::field(
                "rate_limit",
                "Give both numbers, or neither for the server default",
            )),
        }
    }
}

#[derive(Template)]
#[template(path = "api_keys.html")]
struct ListPage {
    chrome: Chrome,
    rows: Vec<KeyView>,
    pager: Pager,
    may_write: bool,
    name: String,
    picker: ScopePicker,
    expiry: Expiry,
    rate: RateForm,
    default_limit: String,
    errors: FormErrors,
}

#[derive(Template)]
#[template(path = "key.html")]
struct KeyPage {
    chrome: Chrome,
    k: KeyView,
    usage: UsageChart,
    may_write: bool,
    name: String,
    picker: ScopePicker,
    expiry: Expiry,
    rate: RateForm,
    default_limit: String,
    errors: FormErrors,
    rotate_error: Option<String>,
}

#[derive(Template)]
#[template(path = "key_secret.html")]
struct SecretPage {
    chrome: Chrome,
    heading: &'static str,
    name: String,
    prefix: String,
    key: String,
    rotation_note: Option<String>,
    curl: String,
    mcp: String,
}

fn default_limit(signed: &Signed) -> String {
    limit_text(&signed.state.default_rate_limit.into())
}

fn now(signed: &Signed) -> OffsetDateTime {
    signed.state.clock.now()
}

async fn list_page(
    signed: &Signed,
    q: &ListQuery,
    status: StatusCode,
    form: Option<KeyForm>,
    errors: FormErrors,
) -> Result<HttpResponse, Refusal> {
    let caller = signed.caller()?;
    let page = api::list_api_keys(&signed.state.api, &caller, q.page()?).await?;
    let ids: Vec<ApiKeyId> = page.items.iter().map(|k| ApiKeyId(k.id)).collect();
    let usage =
        api::list_api_key_usage(&signed.state.api, &caller, &ids, UsageRange::default()).await?;
    let now = now(signed);
    let form = form.unwrap_or_else(|| KeyForm {
        name: String::new(),
        checked: Vec::new(),
        preset: "custom",
        expires: "never".into(),
        expires_on: String::new(),
        rate: RateForm::default(),
    });
    let body = ListPage {
        chrome: chrome(signed, "API keys", &SECTION, q.done.as_deref()).await?,
        pager: Pager::new("/settings/api-keys", q, &page, &[]),
        rows: page
            .items
            .iter()
            .zip(&usage)
            .map(|(k, u)| KeyView {
                spark: Some(Sparkline::new(u)),
                ..KeyView::new(k, now)
            })
            .collect(),
        may_write: signed.may(&api::API_KEYS_WRITE),
        picker: ScopePicker::new(signed, form.preset, &form.checked),
        expiry: Expiry::new(false, &form.expires, &form.expires_on),
        name: form.name,
        rate: form.rate,
        default_limit: default_limit(signed),
        errors,
    };
    Ok(view::page(status, &body))
}

async fn list(signed: Signed, q: Query<ListQuery>) -> Result<HttpResponse, Refusal> {
    list_page(&signed, &q, StatusCode::OK, None, FormErrors::none()).await
}

/// The page that shows a new key's plaintext, once.
async fn secret_page(
    signed: &Signed,
    key: CreatedApiKeyDto,
    heading: &'static str,
    rotation_note: Option<String>,
) -> Result<HttpResponse, Refusal> {
    let base = signed.state.public_url.trim_end_matches('/');
    let curl = format!(
        "curl -H \"X-Api-Key: {key}\" {base}/v1/instances",
        key = key.key
    );
    let mcp = serde_json::to_string_pretty(&serde_json::json!({
        "mcpServers": {
            "hydracore": {
                "type": "http",
                "url": format!("{base}/mcp"),
                "headers": { "X-Api-Key": key.key }
            }
        }
    }))
    .unwrap_or_default();
    let body = SecretPage {
        chrome: chrome(signed, heading, &SECTION, None).await?,
        heading,
        name: key.name,
        prefix: key.prefix,
        key: key.key,
        rotation_note,
        curl,
        mcp,
    };
    Ok(view::page(StatusCode::CREATED, &body))
}

async fn create(action: Action) -> Result<HttpResponse, Refusal> {
    let signed = &action.signed;
    let form = KeyForm::read(&action.form);
    let q = ListQuery::default();
    let request = form
        .expires_at(now(signed))
        .and_then(|e| Ok((e, form.rate_limit()?)))
        .map(|(expires_at, rate_limit)| CreateApiKeyRequest {
            name: form.name.clone(),
            scopes: form.scopes(signed),
            expires_at: expires_at.flatten(),
            rate_limit,
        });
    let request = match request {
        Ok(r) => r,
        Err(errors) => {
            return list_page(
                signed,
                &q,
                StatusCode::UNPROCESSABLE_ENTITY,
                Some(form),
                errors,
            )
            .await;
        }
    };
    match api::create_api_key(&signed.state.api, &signed.caller()?, request).await {
        Ok(key) => secret_page(signed, key, "Your new API key", None).await,
        Err(problem) => {
            let (status, errors) = view::form_problem(problem)?;
            list_page(signed, &q, status, Some(form), errors).await
        }
    }
}

fn key_id(id: &str) -> Result<ApiKeyId, Refusal> {
    super::path_id(id, "API key not found")
}

async fn key_page(
    signed: &Signed,
    key: &ApiKeyDto,
    done: Option<&str>,
    status: StatusCode,
    form: Option<KeyForm>,
    errors: FormErrors,
    rotate_error: Option<String>,
) -> Result<HttpResponse, Refusal> {
    let form = form.unwrap_or_else(|| KeyForm::of_key(key));
    let usage = api::get_api_key_usage(
        &signed.state.api,
        &signed.caller()?,
        ApiKeyId(key.id),
        UsageChart::range(now(signed)),
    )
    .await?;
    let body = KeyPage {
        chrome: chrome(signed, &key.name, &SECTION, done).await?,
        k: KeyView::new(key, now(signed)),
        usage: UsageChart::new(&usage),
        may_write: signed.may(&api::API_KEYS_WRITE),
        picker: ScopePicker::new(signed, form.preset, &form.checked),
        expiry: Expiry::new(true, &form.expires, &form.expires_on),
        name: form.name,
        rate: form.rate,
        default_limit: default_limit(signed),
        errors,
        rotate_error,
    };
    Ok(view::page(status, &body))
}

async fn detail(
    signed: Signed,
    id: Path<String>,
    q: Query<ListQuery>,
) -> Result<HttpResponse, Refusal> {
    let id = key_id(&id)?;
    let key = api::get_api_key(&signed.state.api, &signed.caller()?, id).await?;
    key_page(
        &signed,
        &key,
        q.done.as_deref(),
        StatusCode::OK,
        None,
        FormErrors::none(),
        None,
    )
    .await
}

async fn update(
    req: HttpRequest,
    action: Action,
    id: Path<String>,
) -> Result<HttpResponse, Refusal> {
    let signed = &action.signed;
    let id = key_id(&id)?;
    let caller = signed.caller()?;
    let form = KeyForm::read(&action.form);
    let request = form
        .expires_at(now(signed))
        .and_then(|e| Ok((e, form.rate_limit()?)))
        .map(|(expires_at, rate_limit)| UpdateApiKeyRequest {
            name: Some(form.name.clone()),
            scopes: Some(form.scopes(signed)),
            expires_at,
            rate_limit: Some(rate_limit),
        });
    let (status, errors) = match request {
        Err(errors) => (StatusCode::UNPROCESSABLE_ENTITY, errors),
        Ok(request) => match api::update_api_key(&signed.state.api, &caller, id, request).await {
            Ok(k) => {
                return Ok(view::see_other(
                    &req,
                    &format!("/settings/api-keys/{}?done=key-updated", k.id),
                ));
            }
            Err(problem) => view::form_problem(problem)?,
        },
    };
    let key = api::get_api_key(&signed.state.api, &caller, id).await?;
    key_page(signed, &key, None, status, Some(form), errors, None).await
}

async fn rotate(action: Action, id: Path<String>) -> Result<HttpResponse, Refusal> {
    let signed = &action.signed;
    let id = key_id(&id)?;
    let caller = signed.caller()?;
    let grace = action.form.text("grace_seconds").parse::<u32>().ok();
    let request = RotateApiKeyRequest {
        grace_seconds: Some(grace.unwrap_or(900)),
    };
    match api::rotate_api_key(&signed.state.api, &caller, id, Some(request)).await {
        Ok(key) => {
            let grace = grace.unwrap_or(900);
            let note = if grace == 0 {
                "The old key stopped working at once.".to_owned()
            } else {
                format!(
                    "The old key keeps working until {}, so what uses it can switch over.",
                    when(now(signed) + Duration::seconds(i64::from(grace)))
                )
            };
            secret_page(signed, key, "Your rotated API key", Some(note)).await
        }
        Err(problem) => {
            let (status, errors) = view::form_problem(problem)?;
            let key = api::get_api_key(&signed.state.api, &caller, id).await?;
            let message = errors.all().join(" ");
            key_page(
                signed,
                &key,
                None,
                status,
                None,
                FormErrors::none(),
                Some(message),
            )
            .await
        }
    }
}

async fn confirm_revoke(signed: Signed, id: Path<String>) -> Result<HttpResponse, Refusal> {
    let id = key_id(&id)?;
    let key = api::get_api_key(&signed.state.api, &signed.caller()?, id).await?;
    Ok(view::ok(&Confirm {
        chrome: chrome(&signed, "Revoke API key", &SECTION, None).await?,
        heading: format!("Revoke {}?", key.name),
        text: format!(
            "The key {}… stops working at once, everywhere. Whatever uses it gets 401 from its next request. This cannot be undone.",
            key.prefix
        ),
        action: format!("/settings/api-keys/{}/revoke", key.id),
        button: "Revoke key",
        cancel: "/settings/api-keys".into(),
        error: None,
    }))
}

async fn revoke(
    req: HttpRequest,
    action: Action,
    id: Path<String>,
) -> Result<HttpResponse, Refusal> {
    let signed = &action.signed;
    let id = key_id(&id)?;
    let caller = signed.caller()?;
    match api::revoke_api_key(&signed.state.api, &caller, id).await {
        Ok(()) => Ok(view::see_other(&req, "/settings/api-keys?done=key-revoked")),
        Err(problem) => {
            let (status, errors) = view::form_problem(problem)?;
            let key = api::get_api_key(&signed.state.api, &caller, id).await?;
            let body = Confirm {
                chrome: chrome(signed, "Revoke API key", &SECTION, None).await?,
                heading: format!("Revoke {}?", key.name),
                text: String::new(),
                action: format!("/settings/api-keys/{}/revoke", key.id),
                button: "Revoke key",
                cancel: "/settings/api-keys".into(),
                error: Some(errors.all().join(" ")),
            };
            Ok(view::page(status, &body))
        }
    }
}

pub fn configure(cfg: &mut ServiceConfig) {
    cfg.service(
        web::resource("/settings/api-keys")
            .route(web::get().to(list))
            .route(web::post().to(create)),
    )
    .service(
        web::resource("/settings/api-keys/{id}")
            .route(web::get().to(detail))
            .route(web::post().to(update)),
    )
    .route("/settings/api-keys/{id}/rotate", web::post().to(rotate))
    .service(
        web::resource("/settings/api-keys/{id}/revoke")
            .route(web::get().to(confirm_revoke))
            .route(web::post().to(revoke)),
    );
}
