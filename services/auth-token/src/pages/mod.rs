//! The sign-in pages an MIS sends its users to (seed 003's `redirect_uri`): server-rendered
//! forms (askama templates in `templates/`), no JavaScript. `GET /sign-in` checks the client and
//! the redirect URI before anything else: an unknown client or an unregistered redirect gets an
//! error page and never a redirect (RFC 6749 §4.1.2.1). Then the password, the code by SMS when
//! the user has a factor (first a phone, when the factor has none), and the consent (skipped when an approval covers the scopes); the
//! last step sends the browser to `redirect_uri` with `code` and `state`, or with
//! `error=access_denied`. A sign-in lives in Postgres ([`mithril_store::sign_ins`]): any replica
//! serves its next step. The browser holds it by an HttpOnly, SameSite=Lax cookie; every form
//! carries a CSRF token; both are stored only as SHA-256.

pub mod words;

use std::collections::BTreeMap;

use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use chrono::{Duration, Utc};
use diesel::result::OptionalExtension;
use ehealth_core::pkce::Challenge;
use ehealth_core::redirect::redirect_matches;
use ehealth_core::{ScopeSet, SecretHash, SecretValue};
use mithril_store::connections::{self, Registered};
use mithril_store::sign_ins::{self, SignIn};
use mithril_store::{apps, client_types, clients, factors};
use platform::{ApiError, ApiResult, db};
use serde::Deserialize;
use subtle::ConstantTimeEq;
use uuid::Uuid;

use crate::authorize::approve;
use crate::grants::password::authenticate;
use crate::grants::two_factor::{check_code_for, may_send, send_code};
use crate::startup::AppState;
use words::{Lang, Texts, audience, pick, refusal, scope_words, texts};

const COOKIE: &str = "ehealth_sign_in";

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/sign-in").get(start).post(password))
        .service(web::resource("/sign-in/factor").post(factor))
        .service(web::resource("/sign-in/otp").post(otp))
        .service(web::resource("/sign-in/consent").post(consent));
}

#[derive(Template)]
#[template(path = "sign_in.html")]
struct SignInPage<'a> {
    lang: &'a str,
    t: &'a Texts,
    audience: &'a str,
    error: Option<String>,
    action: &'a str,
    csrf: &'a str,
    client_id: &'a str,
    redirect_uri: &'a str,
    scope: &'a str,
    email: &'a str,
}

#[derive(Template)]
#[template(path = "factor.html")]
struct FactorPage<'a> {
    lang: &'a str,
    t: &'a Texts,
    error: Option<String>,
    action: &'a str,
    csrf: &'a str,
    client_id: &'a str,
    redirect_uri: &'a str,
    scope: &'a str,
}

#[derive(Template)]
#[template(path = "otp.html")]
struct OtpPage<'a> {
    lang: &'a str,
    t: &'a Texts,
    error: Option<String>,
    notice: Option<&'a str>,
    action: &'a str,
    csrf: &'a str,
    client_id: &'a str,
    redirect_uri: &'a str,
    scope: &'a str,
}

#[derive(Template)]
#[template(path = "consent.html")]
struct ConsentPage<'a> {
    lang: &'a str,
    t: &'a Texts,
    client_name: &'a str,
    scopes: Vec<String>,
    action: &'a str,
    csrf: &'a str,
    client_id: &'a str,
    redirect_uri: &'a str,
    scope: &'a str,
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage<'a> {
    lang: &'a str,
    t: &'a Texts,
    message: &'a str,
}

/// The query of `GET /sign-in` and `GET /oauth/authorize` (RFC 6749 §4.1.1, RFC 7636 §4.3):
/// all optional here, each checked in turn.
#[derive(Deserialize)]
pub struct Start {
    response_type: Option<String>,
    client_id: Option<String>,
    redirect_uri: Option<String>,
    scope: Option<String>,
    state: Option<String>,
    code_challenge: Option<String>,
    code_challenge_method: Option<String>,
}

/// Where a sign-in was started: the eHealth pages keep the reference's redirect matching
/// (a registered prefix); the standard endpoint matches exactly (RFC 9700 §2.1) and names
/// itself in the answer (`iss`, RFC 9207).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Flow {
    Ehealth,
    Standard,
}

/// What every form posts back besides its own fields: the sign-in's client, redirect and
/// scope, which must not have changed. A missing field is empty (a missing CSRF token is a
/// wrong one: 403).
#[derive(Deserialize, Default)]
#[serde(default)]
pub struct Posted {
    csrf: String,
    client_id: String,
    redirect_uri: String,
    scope: String,
    email: Option<String>,
    password: Option<String>,
    otp: Option<String>,
    /// The OTP page's second button: a new code instead of checking one.
    resend: Option<String>,
    phone: Option<String>,
    decision: Option<String>,
}

/// A page, or where the browser goes next.
type Page = HttpResponse;

async fn start(state: web::Data<AppState>, req: HttpRequest, q: web::Query<Start>) -> Page {
    let lang = lang_of(&req);
    match begin(&state, lang, q.into_inner(), Flow::Ehealth).await {
        Ok(page) => page,
        Err(e) => error_page(lang, e),
    }
}

#[utoipa::path(get, path = "/oauth/authorize", tag = "oauth2",
    description = "RFC 6749 authorization endpoint: the sign-in pages (HTML). response_type=code, client_id, redirect_uri (matched exactly), scope, state, code_challenge with code_challenge_method=S256 (required for a public connection). Ends in a 303 to redirect_uri with code, state and iss, or with error.",
    params(("response_type" = String, Query), ("client_id" = Uuid, Query),
           ("redirect_uri" = String, Query), ("scope" = String, Query),
           ("state" = Option<String>, Query), ("code_challenge" = Option<String>, Query),
           ("code_challenge_method" = Option<String>, Query)),
    responses((status = 200, description = "the sign-in page (text/html)"),
              (status = 303, description = "to redirect_uri with error (and state, iss)"),
              (status = 400, description = "an error page: unknown client or unregistered redirect_uri (never redirected)")))]
pub async fn authorize(state: web::Data<AppState>, req: HttpRequest) -> Page {
    let lang = lang_of(&req);
    let q = match query_of(&req) {
        Ok(q) => q,
        Err(message) => return refused_page(lang, StatusCode::BAD_REQUEST, message),
    };
    match begin(&state, lang, q, Flow::Standard).await {
        Ok(page) => page,
        Err(e) => error_page(lang, e),
    }
}

/// The standard query, strictly: UTF-8, no parameter twice (RFC 6749 §3.1).
fn query_of(req: &HttpRequest) -> Result<Start, &'static str> {
    const KNOWN: &[&str] = &[
        "response_type",
        "client_id",
        "redirect_uri",
        "scope",
        "state",
        "code_challenge",
        "code_challenge_method",
    ];
    let params = crate::oauth::wire::Params::parse(req.query_string().as_bytes(), KNOWN)
        .map_err(|_| "The request's parameters are malformed or repeated.")?;
    let get = |name: &str| params.get(name).map(str::to_owned);
    Ok(Start {
        response_type: get("response_type"),
        client_id: get("client_id"),
        redirect_uri: get("redirect_uri"),
        scope: get("scope"),
        state: get("state"),
        code_challenge: get("code_challenge"),
        code_challenge_method: get("code_challenge_method"),
    })
}

/// The client and the redirect first (an error page: the redirect is not trusted yet); then
/// the rest of the request, refused by a redirect with `error` (RFC 6749 §4.1.2.1).
async fn begin(state: &AppState, lang: Lang, q: Start, flow: Flow) -> ApiResult<Page> {
    let unknown = || refused_page(lang, StatusCode::BAD_REQUEST, unknown_client(lang));
    let Some(client_id) = q.client_id.as_deref().and_then(|c| c.parse::<Uuid>().ok()) else {
        return Ok(unknown());
    };
    let mut conn = db::conn(&state.pool).await?;
    let Some((client, type_name)) = clients::get_with_type_name(&mut conn, client_id)
        .await
        .optional()?
    else {
        return Ok(unknown());
    };
    let redirect_uri = q.redirect_uri.unwrap_or_default();
    let matching: Vec<Registered> = connections::redirects(&mut conn, client.id)
        .await?
        .into_iter()
        .filter(|r| match flow {
            Flow::Standard => r.redirect_uri == redirect_uri,
            Flow::Ehealth => redirect_matches(&r.redirect_uri, &redirect_uri),
        })
        .collect();
    if client.is_blocked || matching.is_empty() {
        return Ok(refused_page(
            lang,
            StatusCode::BAD_REQUEST,
            unregistered(lang),
        ));
    }
    let back = Return {
        redirect_uri: &redirect_uri,
        state: q.state.as_deref(),
        iss: (flow == Flow::Standard).then_some(state.issuer.as_str()),
    };
    if q.response_type.as_deref() != Some("code") {
        return Ok(back.error("unsupported_response_type", None));
    }
    let challenge = match Challenge::from_request(
        q.code_challenge.as_deref(),
        q.code_challenge_method.as_deref(),
    ) {
        Ok(challenge) => challenge,
        Err(e) => return Ok(back.error("invalid_request", Some(&e.to_string()))),
    };
    if challenge.is_none() && matching.iter().all(|r| r.is_public) {
        let message = "code_challenge is required for a public client";
        return Ok(back.error("invalid_request", Some(message)));
    }
    let requested = ScopeSet::parse(q.scope.as_deref().unwrap_or_default());
    let allowed = ScopeSet::parse(
        &client_types::get(&mut conn, client.client_type_id)
            .await?
            .scope,
    );
    if requested.is_empty() || !requested.is_subset_of(&allowed) {
        return Ok(back.error("invalid_scope", None));
    }
    let session = random()?;
    let csrf = random()?;
    let row = SignIn {
        id: Uuid::now_v7(),
        session_hash: session.hash().to_vec(),
        csrf_hash: csrf.hash().to_vec(),
        client_id: client.id,
        redirect_uri,
        scope: requested.to_string(),
        state: q.state,
        user_id: None,
        step: sign_ins::PASSWORD.into(),
        phone: None,
        expires_at: Utc::now() + Duration::seconds(state.settings.sign_in.ttl_secs),
        inserted_at: Utc::now(),
        standard: flow == Flow::Standard,
        code_challenge: challenge.map(|c| c.as_str().to_owned()),
    };
    sign_ins::create(&mut conn, &row).await?;
    let form = Form {
        row: &row,
        csrf: csrf.expose(),
        lang,
    };
    let page = form.password(audience(&type_name, lang), None, "");
    Ok(page_response(
        StatusCode::OK,
        page,
        Some(cookie(state, session.expose())),
        Some(&row.redirect_uri),
    ))
}

async fn password(state: web::Data<AppState>, req: HttpRequest, form: web::Form<Posted>) -> Page {
    step(
        &state,
        &req,
        form.into_inner(),
        sign_ins::PASSWORD,
        |s, lang, row, posted| Box::pin(after_password(s, lang, row, posted)),
    )
    .await
}

async fn factor(state: web::Data<AppState>, req: HttpRequest, form: web::Form<Posted>) -> Page {
    step(
        &state,
        &req,
        form.into_inner(),
        sign_ins::FACTOR,
        |s, lang, row, posted| Box::pin(after_factor(s, lang, row, posted)),
    )
    .await
}

async fn otp(state: web::Data<AppState>, req: HttpRequest, form: web::Form<Posted>) -> Page {
    step(
        &state,
        &req,
        form.into_inner(),
        sign_ins::OTP,
        |s, lang, row, posted| Box::pin(after_otp(s, lang, row, posted)),
    )
    .await
}

async fn consent(state: web::Data<AppState>, req: HttpRequest, form: web::Form<Posted>) -> Page {
    step(
        &state,
        &req,
        form.into_inner(),
        sign_ins::CONSENT,
        |s, lang, row, posted| Box::pin(after_consent(s, lang, row, posted)),
    )
    .await
}

type StepFuture<'a> = std::pin::Pin<Box<dyn std::future::Future<Output = ApiResult<Page>> + 'a>>;

/// One posted step: the sign-in of the cookie, its CSRF token, its unchanged request, the
/// step it is at; then `next`. A refusal of the checks is an error page and changes nothing.
async fn step<'a>(
    state: &'a AppState,
    req: &HttpRequest,
    posted: Posted,
    at: &str,
    next: impl FnOnce(&'a AppState, Lang, SignIn, Posted) -> StepFuture<'a>,
) -> Page {
    let lang = lang_of(req);
    let found = async {
        let mut conn = db::conn(&state.pool).await?;
        match session_of(req) {
            Some(session) => sign_ins::find(&mut conn, SecretHash::of(&session).as_bytes())
                .await
                .map_err(ApiError::from),
            None => Ok(None),
        }
    };
    let row = match found.await {
        Ok(Some(row)) => row,
        Ok(None) => return refused_page(lang, StatusCode::BAD_REQUEST, expired(lang)),
        Err(e) => return error_page(lang, e),
    };
    let csrf_ok: bool = SecretHash::of(&posted.csrf)
        .as_bytes()
        .ct_eq(&row.csrf_hash)
        .into();
    if !csrf_ok {
        return refused_page(lang, StatusCode::FORBIDDEN, stale_form(lang));
    }
    if posted.client_id != row.client_id.to_string()
        || posted.redirect_uri != row.redirect_uri
        || posted.scope != row.scope
    {
        return refused_page(lang, StatusCode::BAD_REQUEST, changed(lang));
    }
    if row.step != at {
        return refused_page(lang, StatusCode::BAD_REQUEST, expired(lang));
    }
    match next(state, lang, row, posted).await {
        Ok(page) => page,
        Err(e) => error_page(lang, e),
    }
}

async fn after_password(
    state: &AppState,
    lang: Lang,
    row: SignIn,
    posted: Posted,
) -> ApiResult<Page> {
    let mut conn = db::conn(&state.pool).await?;
    let (_, type_name) = clients::get_with_type_name(&mut conn, row.client_id).await?;
    drop(conn);
    let email = posted.email.unwrap_or_default();
    let password = posted.password.unwrap_or_default();
    let form = Form {
        row: &row,
        csrf: &posted.csrf,
        lang,
    };
    let who = audience(&type_name, lang);
    let user = match authenticate(state, &email, password, type_name == "CABINET", true).await {
        Ok(user) => user,
        Err(e) if e.status().is_client_error() || e.status() == StatusCode::UNAUTHORIZED => {
            let message = refusal(e.message().unwrap_or_default(), lang);
            return Ok(page_response(
                e.status(),
                form.password(who, Some(message), &email),
                None,
                Some(&row.redirect_uri),
            ));
        }
        Err(e) => return Err(e),
    };
    let mut conn = db::conn(&state.pool).await?;
    if let Some(factor) = factors::active_sms(&mut conn, user.id).await? {
        let Some(phone) = factor.factor.filter(|p| !p.is_empty()) else {
            // The factor has no phone yet: the user sets one (its code approves it).
            sign_ins::advance(&mut conn, row.id, user.id, sign_ins::FACTOR).await?;
            let page = form.factor(None);
            return Ok(page_response(
                StatusCode::OK,
                page,
                None,
                Some(&row.redirect_uri),
            ));
        };
        let sent = async {
            may_send(state, &mut conn, user.id).await?;
            send_code(state, user.id, row.id, &phone).await
        };
        if let Err(e) = sent.await {
            let message = refusal(e.message().unwrap_or_default(), lang);
            return Ok(page_response(
                e.status(),
                form.password(who, Some(message), &email),
                None,
                Some(&row.redirect_uri),
            ));
        }
        sign_ins::advance(&mut conn, row.id, user.id, sign_ins::OTP).await?;
        return Ok(page_response(
            StatusCode::OK,
            form.otp(None, None),
            None,
            Some(&row.redirect_uri),
        ));
    }
    identified(state, &mut conn, lang, &row, &posted.csrf, user.id).await
}

/// The phone a user without one sets: a code goes there; the OTP step approves it.
async fn after_factor(
    state: &AppState,
    lang: Lang,
    row: SignIn,
    posted: Posted,
) -> ApiResult<Page> {
    let user_id = row
        .user_id
        .ok_or_else(|| ApiError::internal(anyhow::anyhow!("a factor step without its user")))?;
    let phone = posted.phone.unwrap_or_default().trim().to_owned();
    let form = Form {
        row: &row,
        csrf: &posted.csrf,
        lang,
    };
    let refused = |status: StatusCode, message: &str| {
        let page = form.factor(Some(refusal(message, lang)));
        page_response(status, page, None, Some(&row.redirect_uri))
    };
    if !factors::is_phone(&phone) {
        let message = "The phone is +380 and nine digits.";
        return Ok(refused(StatusCode::UNPROCESSABLE_ENTITY, message));
    }
    let mut conn = db::conn(&state.pool).await?;
    let sent = async {
        may_send(state, &mut conn, user_id).await?;
        send_code(state, user_id, row.id, &phone).await
    };
    if let Err(e) = sent.await {
        return Ok(refused(e.status(), e.message().unwrap_or_default()));
    }
    let mut conn = db::conn(&state.pool).await?;
    sign_ins::set_phone(&mut conn, row.id, &phone).await?;
    let page = form.otp(None, None);
    Ok(page_response(
        StatusCode::OK,
        page,
        None,
        Some(&row.redirect_uri),
    ))
}

/// The code sent by SMS: to the factor's phone, or to the phone being set (which it approves).
/// The page's second button sends a new code instead, within the send limit.
async fn after_otp(state: &AppState, lang: Lang, row: SignIn, posted: Posted) -> ApiResult<Page> {
    let user_id = row
        .user_id
        .ok_or_else(|| ApiError::internal(anyhow::anyhow!("an OTP step without its user")))?;
    let mut conn = db::conn(&state.pool).await?;
    let factor = factors::active_sms(&mut conn, user_id).await?;
    let Some(factor) = factor else {
        return Ok(refused_page(lang, StatusCode::CONFLICT, no_phone(lang)));
    };
    let Some(phone) = row
        .phone
        .clone()
        .or(factor.factor)
        .filter(|p| !p.is_empty())
    else {
        return Ok(refused_page(lang, StatusCode::CONFLICT, no_phone(lang)));
    };
    let form = Form {
        row: &row,
        csrf: &posted.csrf,
        lang,
    };
    let again = |status: StatusCode, error: Option<String>, notice: Option<&str>| {
        let page = form.otp(error, notice);
        page_response(status, page, None, Some(&row.redirect_uri))
    };
    if posted.resend.is_some() {
        let sent = async {
            may_send(state, &mut conn, user_id).await?;
            send_code(state, user_id, row.id, &phone).await
        };
        return Ok(match sent.await {
            Ok(()) => again(StatusCode::OK, None, Some(texts(lang).sent_again)),
            Err(e) => again(
                e.status(),
                Some(refusal(e.message().unwrap_or_default(), lang)),
                None,
            ),
        });
    }
    let guess = posted
        .otp
        .as_deref()
        .and_then(|c| c.trim().parse::<u32>().ok())
        .filter(|c| *c < 1_000_000);
    if let Err(e) = check_code_for(state, &mut conn, row.id, user_id, &phone, guess).await {
        if !e.status().is_client_error() {
            return Err(e);
        }
        let message = refusal(e.message().unwrap_or_default(), lang);
        return Ok(again(e.status(), Some(message), None));
    }
    if row.phone.is_some() {
        factors::set_phone(&mut conn, user_id, &phone).await?;
    }
    identified(state, &mut conn, lang, &row, &posted.csrf, user_id).await
}

/// The user is known: the consent page, unless an approval covers the scopes already.
async fn identified(
    state: &AppState,
    conn: &mut db::DbConn,
    lang: Lang,
    row: &SignIn,
    csrf: &str,
    user_id: Uuid,
) -> ApiResult<Page> {
    let requested = ScopeSet::parse(&row.scope);
    let approved = apps::find(conn, user_id, row.client_id).await?;
    if approved.is_some_and(|a| requested.is_subset_of(&ScopeSet::parse(&a.scope))) {
        return code_for(state, conn, row, user_id).await;
    }
    sign_ins::advance(conn, row.id, user_id, sign_ins::CONSENT).await?;
    let client = clients::get(conn, row.client_id).await?;
    let scopes = requested
        .iter()
        .map(|s| scope_words(s, lang).unwrap_or_else(|| s.to_owned()))
        .collect();
    let form = Form { row, csrf, lang };
    Ok(page_response(
        StatusCode::OK,
        form.consent(&client.name, scopes),
        None,
        Some(&row.redirect_uri),
    ))
}

async fn after_consent(
    state: &AppState,
    _lang: Lang,
    row: SignIn,
    posted: Posted,
) -> ApiResult<Page> {
    let user_id = row
        .user_id
        .ok_or_else(|| ApiError::internal(anyhow::anyhow!("a consent step without its user")))?;
    let mut conn = db::conn(&state.pool).await?;
    if posted.decision.as_deref() == Some("approve") {
        return code_for(state, &mut conn, &row, user_id).await;
    }
    if sign_ins::finish(&mut conn, row.id).await? == 0 {
        return Err(ApiError::conflict("the sign-in has ended"));
    }
    Ok(Return::of(state, &row).error("access_denied", None))
}

/// The approval and its code: the browser goes to `redirect_uri` with `code` and `state`. A
/// refusal of the approval (the user's roles do not allow the scopes, say) goes there as an
/// `error`. Either way the sign-in ends.
async fn code_for(
    state: &AppState,
    conn: &mut db::DbConn,
    row: &SignIn,
    user_id: Uuid,
) -> ApiResult<Page> {
    if sign_ins::finish(conn, row.id).await? == 0 {
        return Err(ApiError::conflict("the sign-in has ended"));
    }
    let back = Return::of(state, row);
    match approve(
        state,
        conn,
        user_id,
        row.client_id,
        &row.redirect_uri,
        Some(&row.scope),
        row.code_challenge.as_deref(),
    )
    .await
    {
        Ok(approved) => Ok(redirect(&with_params(&approved.location, &[], &back))),
        Err(e) if e.status() == StatusCode::UNPROCESSABLE_ENTITY => {
            Ok(back.error("invalid_scope", None))
        }
        Err(e) if e.status().is_client_error() => Ok(back.error("access_denied", None)),
        Err(e) => Err(e),
    }
}

/// The fields every form of one sign-in carries.
struct Form<'a> {
    row: &'a SignIn,
    csrf: &'a str,
    lang: Lang,
}

impl Form<'_> {
    fn password(
        &self,
        audience: &str,
        error: Option<String>,
        email: &str,
    ) -> askama::Result<String> {
        let client_id = self.row.client_id.to_string();
        SignInPage {
            lang: self.lang.code(),
            t: texts(self.lang),
            audience,
            error,
            action: "/sign-in",
            csrf: self.csrf,
            client_id: &client_id,
            redirect_uri: &self.row.redirect_uri,
            scope: &self.row.scope,
            email,
        }
        .render()
    }

    fn factor(&self, error: Option<String>) -> askama::Result<String> {
        let client_id = self.row.client_id.to_string();
        FactorPage {
            lang: self.lang.code(),
            t: texts(self.lang),
            error,
            action: "/sign-in/factor",
            csrf: self.csrf,
            client_id: &client_id,
            redirect_uri: &self.row.redirect_uri,
            scope: &self.row.scope,
        }
        .render()
    }

    fn otp(&self, error: Option<String>, notice: Option<&str>) -> askama::Result<String> {
        let client_id = self.row.client_id.to_string();
        OtpPage {
            lang: self.lang.code(),
            t: texts(self.lang),
            error,
            notice,
            action: "/sign-in/otp",
            csrf: self.csrf,
            client_id: &client_id,
            redirect_uri: &self.row.redirect_uri,
            scope: &self.row.scope,
        }
        .render()
    }

    fn consent(&self, client_name: &str, scopes: Vec<String>) -> askama::Result<String> {
        let client_id = self.row.client_id.to_string();
        ConsentPage {
            lang: self.lang.code(),
            t: texts(self.lang),
            client_name,
            scopes,
            action: "/sign-in/consent",
            csrf: self.csrf,
            client_id: &client_id,
            redirect_uri: &self.row.redirect_uri,
            scope: &self.row.scope,
        }
        .render()
    }
}

fn lang_of(req: &HttpRequest) -> Lang {
    let header = req
        .headers()
        .get(header::ACCEPT_LANGUAGE)
        .and_then(|v| v.to_str().ok());
    Lang::from_accept_language(header)
}

fn random() -> ApiResult<SecretValue> {
    SecretValue::generate().map_err(|e| ApiError::internal(anyhow::anyhow!("OS RNG failed: {e}")))
}

/// The session value of the sign-in cookie.
fn session_of(req: &HttpRequest) -> Option<String> {
    req.headers()
        .get_all(header::COOKIE)
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .find_map(|pair| {
            let (name, value) = pair.trim().split_once('=')?;
            (name == COOKIE && !value.is_empty()).then(|| value.to_owned())
        })
}

fn cookie(state: &AppState, value: &str) -> String {
    let secure = if state.settings.sign_in.secure_cookie {
        "; Secure"
    } else {
        ""
    };
    format!(
        "{COOKIE}={value}; Path=/sign-in; HttpOnly; SameSite=Lax; Max-Age={}{secure}",
        state.settings.sign_in.ttl_secs
    )
}

/// A rendered page (or the error page, should a template fail) with the headers every page has.
/// A form's submission may end at the client's redirect URI (`form_to`): the policy names its
/// origin, since browsers hold `form-action` to the redirects that follow a form too.
fn page_response(
    status: StatusCode,
    page: askama::Result<String>,
    set_cookie: Option<String>,
    form_to: Option<&str>,
) -> Page {
    let body = match page {
        Ok(body) => body,
        Err(e) => {
            tracing::error!(error = %e, "a sign-in page did not render");
            return HttpResponse::InternalServerError().finish();
        }
    };
    let mut res = HttpResponse::build(status);
    res.content_type("text/html; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header((header::X_FRAME_OPTIONS, "DENY"))
        .insert_header((header::CONTENT_SECURITY_POLICY, policy(form_to)))
        .insert_header((header::REFERRER_POLICY, "no-referrer"));
    if let Some(c) = set_cookie {
        res.insert_header((header::SET_COOKIE, c));
    }
    res.body(body)
}

/// The pages' content security policy: nothing loaded, inline style only, forms to this
/// origin (and the redirect URI's).
fn policy(form_to: Option<&str>) -> String {
    let origin = form_to
        .and_then(|u| url::Url::parse(u).ok())
        .map(|u| u.origin().ascii_serialization())
        .filter(|o| o != "null")
        .map(|o| format!(" {o}"))
        .unwrap_or_default();
    format!(
        "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'{origin}; frame-ancestors 'none'"
    )
}

fn refused_page(lang: Lang, status: StatusCode, message: &str) -> Page {
    let page = ErrorPage {
        lang: lang.code(),
        t: texts(lang),
        message,
    }
    .render();
    page_response(status, page, None, None)
}

/// An error of the service as a page (a 5xx says only that something went wrong).
fn error_page(lang: Lang, e: ApiError) -> Page {
    let status = e.status();
    if status.is_server_error() {
        tracing::error!(error = %e, "a sign-in step failed");
        let message = pick(
            lang,
            "Сталася помилка. Спробуйте пізніше.",
            "Something went wrong. Try again later.",
        );
        return refused_page(lang, status, message);
    }
    let message = refusal(e.message().unwrap_or_default(), lang);
    let page = ErrorPage {
        lang: lang.code(),
        t: texts(lang),
        message: &message,
    }
    .render();
    page_response(status, page, None, None)
}

fn redirect(location: &str) -> Page {
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, location))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header((header::REFERRER_POLICY, "no-referrer"))
        .finish()
}

/// Where the browser goes back to, and what it carries besides: the client's `state`, and the
/// issuer for a standard sign-in (RFC 9207).
struct Return<'a> {
    redirect_uri: &'a str,
    state: Option<&'a str>,
    iss: Option<&'a str>,
}

impl<'a> Return<'a> {
    fn of(state: &'a AppState, row: &'a SignIn) -> Self {
        Self {
            redirect_uri: &row.redirect_uri,
            state: row.state.as_deref(),
            iss: row.standard.then_some(state.issuer.as_str()),
        }
    }

    /// `redirect_uri` with `error` (RFC 6749 §4.1.2.1).
    fn error(&self, error: &str, description: Option<&str>) -> Page {
        let mut params = vec![("error", error)];
        params.extend(description.map(|d| ("error_description", d)));
        redirect(&with_params(self.redirect_uri, &params, self))
    }
}

/// `url` with `params`, `state` and `iss` added to its query (its own parameters kept).
fn with_params(url: &str, params: &[(&str, &str)], back: &Return<'_>) -> String {
    let Ok(mut parsed) = url::Url::parse(url) else {
        return url.to_owned();
    };
    let mut query: BTreeMap<String, String> = parsed.query_pairs().into_owned().collect();
    let extra = [("state", back.state), ("iss", back.iss)];
    let extra = extra.iter().filter_map(|(k, v)| v.map(|v| (*k, v)));
    for (k, v) in params.iter().copied().chain(extra) {
        query.insert(k.into(), v.into());
    }
    parsed.query_pairs_mut().clear().extend_pairs(query.iter());
    parsed.to_string()
}

fn unknown_client(lang: Lang) -> &'static str {
    pick(lang, "Невідомий застосунок.", "Unknown application.")
}

fn unregistered(lang: Lang) -> &'static str {
    pick(
        lang,
        "Адресу повернення не зареєстровано для цього застосунку.",
        "The return address is not registered for this application.",
    )
}

fn expired(lang: Lang) -> &'static str {
    pick(
        lang,
        "Цей вхід завершено або його строк минув.",
        "This sign-in has ended or expired.",
    )
}

fn stale_form(lang: Lang) -> &'static str {
    pick(
        lang,
        "Форма застаріла або надіслана не з цієї сторінки.",
        "The form is out of date or was not sent from this page.",
    )
}

fn changed(lang: Lang) -> &'static str {
    pick(
        lang,
        "Запит на вхід змінено.",
        "The sign-in request was changed.",
    )
}

fn no_phone(lang: Lang) -> &'static str {
    pick(
        lang,
        "Для входу потрібен номер телефону для кодів: задайте його у своєму застосунку.",
        "Signing in needs a phone for codes: set it in your application first.",
    )
}
