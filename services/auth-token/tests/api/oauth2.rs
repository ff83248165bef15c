//! Standard OAuth 2 (RFC 6749, 7636, 7662, 7009, 8414, 9700) over the same clients and tokens:
//! the code flow through the sign-in pages with PKCE, the token endpoint's client
//! authentication and every §5.2 error, refresh rotation with reuse detection, introspection,
//! revocation and the metadata. The stock-client run (authlib, through the gateway) is
//! `make oauth-check`.

use base64::Engine;
use reqwest::{Method, Response, StatusCode, redirect};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::helpers::*;

const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

fn browser() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(redirect::Policy::none())
        .build()
        .unwrap()
}

fn query(pairs: &[(&str, &str)]) -> String {
    url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs)
        .finish()
}

fn authorize_url(w: &World, client: Uuid, redirect_uri: &str, extra: &[(&str, &str)]) -> String {
    let client = client.to_string();
    let mut q = vec![
        ("response_type", "code"),
        ("client_id", client.as_str()),
        ("redirect_uri", redirect_uri),
        ("scope", "connection:read"),
        ("state", "st-9"),
    ];
    q.extend_from_slice(extra);
    format!("{}/oauth/authorize?{}", w.app.auth, query(&q))
}

fn field_of(page: &str, name: &str) -> String {
    let marker = format!("name=\"{name}\" value=\"");
    let at = page
        .find(&marker)
        .unwrap_or_else(|| panic!("{name} in {page}"))
        + marker.len();
    page[at..at + page[at..].find('"').unwrap()]
        .replace("&#x2F;", "/")
        .replace("&amp;", "&")
}

/// The query of a redirect's `location`.
fn location_query(res: &Response) -> Vec<(String, String)> {
    let location = res.headers()["location"].to_str().unwrap();
    url::Url::parse(location)
        .unwrap()
        .query_pairs()
        .into_owned()
        .collect()
}

fn param(q: &[(String, String)], name: &str) -> Option<String> {
    q.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone())
}

/// The browser's way to a code: the authorize URL, the password, the consent (when asked).
async fn sign_in(w: &World, url: &str) -> Vec<(String, String)> {
    let res = browser().get(url).send().await.unwrap();
    assert_eq!(res.status(), 200, "{url}");
    let cookie = res.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    let page = res.text().await.unwrap();
    let mut form: Vec<(String, String)> = ["csrf", "client_id", "redirect_uri", "scope"]
        .iter()
        .map(|n| ((*n).to_owned(), field_of(&page, n)))
        .collect();
    let post = |path: &str, form: &[(String, String)]| {
        browser()
            .post(format!("{}{path}", w.app.auth))
            .header("cookie", cookie.clone())
            .form(form)
            .send()
    };
    let mut with_password = form.clone();
    with_password.push(("email".into(), w.email.clone()));
    with_password.push(("password".into(), PASSWORD.into()));
    let mut res = post("/sign-in", &with_password).await.unwrap();
    if res.status() == StatusCode::OK {
        form.push(("decision".into(), "approve".into()));
        res = post("/sign-in/consent", &form).await.unwrap();
    }
    assert_eq!(res.status(), 303);
    location_query(&res)
}

/// A code for the MSP at [`REDIRECT`], with the PKCE challenge of [`VERIFIER`].
async fn code(w: &World) -> String {
    let url = authorize_url(
        w,
        w.msp,
        REDIRECT,
        &[
            ("code_challenge", CHALLENGE),
            ("code_challenge_method", "S256"),
        ],
    );
    param(&sign_in(w, &url).await, "code").unwrap()
}

fn basic(client: Uuid, secret: &str) -> String {
    let raw = format!("{client}:{secret}");
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(raw)
    )
}

async fn post_form(w: &World, path: &str, auth: Option<&str>, form: &[(&str, &str)]) -> Response {
    let mut r = w.app.http.post(format!("{}{path}", w.app.auth)).form(form);
    if let Some(a) = auth {
        r = r.header("authorization", a);
    }
    r.send().await.unwrap()
}

/// POST /oauth/token as the MSP with client_secret_basic.
async fn token(w: &World, form: &[(&str, &str)]) -> Response {
    post_form(w, "/oauth/token", Some(&basic(w.msp, &w.secret)), form).await
}

/// The exchange of `code` (issued with [`CHALLENGE`] for [`REDIRECT`]).
fn code_form(code: &str) -> [(&'static str, &str); 4] {
    [
        ("grant_type", "authorization_code"),
        ("code", code),
        ("redirect_uri", REDIRECT),
        ("code_verifier", VERIFIER),
    ]
}

async fn exchange(w: &World, code: &str) -> Value {
    let res = token(w, &code_form(code)).await;
    assert_eq!(res.status(), 200);
    res.json().await.unwrap()
}

async fn refresh(w: &World, refresh_token: &str) -> Response {
    token(
        w,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh_token),
        ],
    )
    .await
}

async fn introspect(w: &World, auth: &str, token: &str) -> Value {
    let res = post_form(w, "/oauth/introspect", Some(auth), &[("token", token)]).await;
    assert_eq!(res.status(), 200);
    res.json().await.unwrap()
}

/// `(status, error)` of an RFC 6749 §5.2 answer.
async fn rfc_error(res: Response) -> (u16, String) {
    let status = res.status().as_u16();
    assert_eq!(res.headers()["cache-control"], "no-store");
    let body: Value = res.json().await.unwrap();
    assert!(body["error_description"].is_string(), "{body}");
    (status, body["error"].as_str().unwrap().to_owned())
}

async fn tokens_count(w: &World) -> i64 {
    w.app.count("SELECT count(*) AS n FROM tokens").await
}

#[tokio::test(flavor = "multi_thread")]
async fn the_code_flow_with_pkce_then_refresh_introspect_and_revoke() {
    let w = world().await;
    let url = authorize_url(
        &w,
        w.msp,
        REDIRECT,
        &[
            ("code_challenge", CHALLENGE),
            ("code_challenge_method", "S256"),
        ],
    );
    let back = sign_in(&w, &url).await;
    assert_eq!(param(&back, "state").as_deref(), Some("st-9"));
    assert_eq!(
        param(&back, "iss"),
        Some(w.app.settings.oauth.issuer.clone())
    );
    let code = param(&back, "code").unwrap();

    let res = token(&w, &code_form(&code)).await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["cache-control"], "no-store");
    assert_eq!(res.headers()["pragma"], "no-cache");
    let issued: Value = res.json().await.unwrap();
    assert_eq!(issued["token_type"], "Bearer");
    assert_eq!(issued["scope"], "connection:read");
    assert_eq!(issued["expires_in"], w.app.settings.tokens.access_ttl_secs);
    let access = issued["access_token"].as_str().unwrap();
    let refresh_token = issued["refresh_token"].as_str().unwrap();
    // The gatekeeper's verify takes it like any access token.
    assert_eq!(w.verify(access, Some(&w.api_key)).await.status(), 200);

    let me = basic(w.msp, &w.secret);
    let seen = introspect(&w, &me, access).await;
    assert_eq!(seen["active"], true);
    assert_eq!(seen["scope"], "connection:read");
    assert_eq!(seen["client_id"], w.msp.to_string());
    assert_eq!(seen["sub"], w.user.to_string());
    assert_eq!(seen["token_type"], "Bearer");
    assert_eq!(
        introspect(&w, &me, refresh_token).await["token_type"],
        "refresh_token"
    );

    // Refresh rotates: a new pair; the old refresh token is no longer active.
    let res = refresh(&w, refresh_token).await;
    assert_eq!(res.status(), 200);
    let rotated: Value = res.json().await.unwrap();
    let new_refresh = rotated["refresh_token"].as_str().unwrap();
    assert_ne!(new_refresh, refresh_token);
    assert_eq!(
        introspect(&w, &me, refresh_token).await,
        json!({"active": false})
    );
    assert_eq!(introspect(&w, &me, new_refresh).await["active"], true);
    // A narrower scope is granted; a wider one is invalid_scope.
    let res = token(
        &w,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", new_refresh),
            ("scope", "connection:read connection:write"),
        ],
    )
    .await;
    assert_eq!(rfc_error(res).await, (400, "invalid_scope".into()));

    // Revoking the refresh token ends the grant: both access tokens too.
    let new_access = rotated["access_token"].as_str().unwrap();
    let res = post_form(&w, "/oauth/revoke", Some(&me), &[("token", new_refresh)]).await;
    assert_eq!(res.status(), 200);
    for t in [access, new_access, new_refresh] {
        assert_eq!(introspect(&w, &me, t).await, json!({"active": false}));
    }
    assert_eq!(w.verify(new_access, Some(&w.api_key)).await.status(), 401);
    // Revoking again, or an unknown token: 200 and nothing else.
    let res = post_form(&w, "/oauth/revoke", Some(&me), &[("token", new_refresh)]).await;
    assert_eq!(res.status(), 200);
    let res = post_form(&w, "/oauth/revoke", Some(&me), &[("token", "nope")]).await;
    assert_eq!(res.status(), 200);
}

#[tokio::test(flavor = "multi_thread")]
async fn each_rfc_6749_error_of_the_token_endpoint() {
    let w = world().await;
    let code = code(&w).await;
    let before = tokens_count(&w).await;
    let exchange_form = code_form(&code);
    let msp = w.msp.to_string();
    // invalid_request: grant_type or code missing; a parameter twice; two auth methods.
    let res = token(&w, &[("code", &code)]).await;
    assert_eq!(rfc_error(res).await, (400, "invalid_request".into()));
    let res = token(
        &w,
        &[
            ("grant_type", "authorization_code"),
            ("redirect_uri", REDIRECT),
        ],
    )
    .await;
    assert_eq!(rfc_error(res).await, (400, "invalid_request".into()));
    let res = w
        .app
        .http
        .post(format!("{}/oauth/token", w.app.auth))
        .header("authorization", basic(w.msp, &w.secret))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!(
            "grant_type=authorization_code&code={code}&code=x&redirect_uri=r"
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(rfc_error(res).await, (400, "invalid_request".into()));
    let mut both = exchange_form.to_vec();
    both.push(("client_secret", &w.secret));
    let res = token(&w, &both).await;
    assert_eq!(rfc_error(res).await, (400, "invalid_request".into()));
    // invalid_client: a wrong secret (Basic or posted), an unknown client, no authentication
    // for a client without a public connection. 401 with WWW-Authenticate.
    for res in [
        post_form(
            &w,
            "/oauth/token",
            Some(&basic(w.msp, "wrong")),
            &exchange_form,
        )
        .await,
        post_form(
            &w,
            "/oauth/token",
            Some(&basic(Uuid::now_v7(), &w.secret)),
            &exchange_form,
        )
        .await,
        post_form(&w, "/oauth/token", Some("Basic !!!"), &exchange_form).await,
        post_form(
            &w,
            "/oauth/token",
            None,
            &[
                exchange_form.as_slice(),
                &[("client_id", &msp), ("client_secret", "wrong")],
            ]
            .concat(),
        )
        .await,
        post_form(
            &w,
            "/oauth/token",
            None,
            &[exchange_form.as_slice(), &[("client_id", &msp)]].concat(),
        )
        .await,
        post_form(&w, "/oauth/token", None, &exchange_form).await,
    ] {
        assert_eq!(res.headers()["www-authenticate"], "Basic realm=\"eHealth\"");
        assert_eq!(rfc_error(res).await, (401, "invalid_client".into()));
    }
    // unsupported_grant_type.
    for grant in ["password", "client_credentials"] {
        let res = token(&w, &[("grant_type", grant)]).await;
        assert_eq!(rfc_error(res).await, (400, "unsupported_grant_type".into()));
    }
    // invalid_grant: an unknown code; another redirect_uri than the request's.
    let res = token(
        &w,
        &[
            ("grant_type", "authorization_code"),
            ("code", "nope"),
            ("redirect_uri", REDIRECT),
        ],
    )
    .await;
    assert_eq!(rfc_error(res).await, (400, "invalid_grant".into()));
    let other = format!("{REDIRECT}/other");
    let res = token(
        &w,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", &other),
            ("code_verifier", VERIFIER),
        ],
    )
    .await;
    assert_eq!(rfc_error(res).await, (400, "invalid_grant".into()));
    // unauthorized_client: a blocked client.
    w.app
        .exec(&format!(
            "UPDATE clients SET is_blocked = true WHERE id = '{}'",
            w.msp
        ))
        .await;
    let res = token(&w, &exchange_form).await;
    assert_eq!(rfc_error(res).await, (400, "unauthorized_client".into()));
    assert_eq!(tokens_count(&w).await, before, "no refusal wrote a token");
    w.app
        .exec(&format!(
            "UPDATE clients SET is_blocked = false WHERE id = '{}'",
            w.msp
        ))
        .await;
    // client_secret_post works as well as Basic; the code is unused after all refusals.
    let res = post_form(
        &w,
        "/oauth/token",
        None,
        &[
            exchange_form.as_slice(),
            &[("client_id", &msp), ("client_secret", &w.secret)],
        ]
        .concat(),
    )
    .await;
    assert_eq!(res.status(), 200);
}

#[tokio::test(flavor = "multi_thread")]
async fn pkce_is_s256_only_and_a_challenged_code_needs_its_verifier() {
    let w = world().await;
    // plain, or a challenge without a method (plain by default): refused at the redirect.
    for extra in [
        vec![
            ("code_challenge", CHALLENGE),
            ("code_challenge_method", "plain"),
        ],
        vec![("code_challenge", CHALLENGE)],
        vec![
            ("code_challenge", "short"),
            ("code_challenge_method", "S256"),
        ],
    ] {
        let res = browser()
            .get(authorize_url(&w, w.msp, REDIRECT, &extra))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 303);
        let q = location_query(&res);
        assert_eq!(param(&q, "error").as_deref(), Some("invalid_request"));
        assert_eq!(param(&q, "state").as_deref(), Some("st-9"));
    }
    assert_eq!(w.app.count("SELECT count(*) AS n FROM sign_ins").await, 0);

    let code = code(&w).await;
    let before = tokens_count(&w).await;
    let with = |verifier: Option<&'static str>| {
        let mut f = vec![
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("redirect_uri", REDIRECT),
        ];
        f.extend(verifier.map(|v| ("code_verifier", v)));
        f
    };
    // Absent: invalid_request. Another verifier: invalid_grant. Malformed: invalid_request.
    assert_eq!(
        rfc_error(token(&w, &with(None)).await).await,
        (400, "invalid_request".into())
    );
    let wrong = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXK";
    assert_eq!(
        rfc_error(token(&w, &with(Some(wrong))).await).await,
        (400, "invalid_grant".into())
    );
    assert_eq!(
        rfc_error(token(&w, &with(Some("short"))).await).await,
        (400, "invalid_request".into())
    );
    // The eHealth endpoint does not redeem it (it has no verifier to check).
    let res = w.tokens(&w.exchange_body(&code)).await;
    assert_error(res, 401, "invalid_grant", Some("The code was issued with a PKCE challenge: redeem it at /oauth/token with its code_verifier.")).await;
    assert_eq!(tokens_count(&w).await, before);
    assert_eq!(token(&w, &with(Some(VERIFIER))).await.status(), 200);

    // A code issued without a challenge, redeemed with a verifier: a downgrade, refused.
    let plain_code = w.code().await;
    let res = token(
        &w,
        &[
            ("grant_type", "authorization_code"),
            ("code", &plain_code),
            ("redirect_uri", REDIRECT),
            ("code_verifier", VERIFIER),
        ],
    )
    .await;
    assert_eq!(rfc_error(res).await, (400, "invalid_grant".into()));
    // Without one, a confidential client redeems it.
    let res = token(
        &w,
        &[
            ("grant_type", "authorization_code"),
            ("code", &plain_code),
            ("redirect_uri", REDIRECT),
        ],
    )
    .await;
    assert_eq!(res.status(), 200);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_public_connection_has_no_secret_and_needs_pkce() {
    let w = world().await;
    let app_redirect = "https://app.example.com/cb";
    let res = w
        .app
        .mithril_req(
            Method::PUT,
            &format!("/admin/clients/{}/connections", w.msp),
        )
        .json(&json!({"consumer_id": w.front, "redirect_uri": app_redirect, "is_public": true}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    let created = json_of(res).await;
    assert_eq!(created["data"]["is_public"], true);
    assert_eq!(created["data"]["secret"], Value::Null);
    let connection = created["data"]["id"].as_str().unwrap().to_owned();
    // It has no secret to refresh, and it cannot turn confidential in place.
    let res = w
        .app
        .mithril_req(
            Method::PATCH,
            &format!(
                "/admin/clients/{}/connections/{connection}/actions/refresh_secret",
                w.msp
            ),
        )
        .send()
        .await
        .unwrap();
    assert_error(
        res,
        409,
        "request_conflict",
        Some("A public connection has no secret."),
    )
    .await;
    let res = w
        .app
        .mithril_req(
            Method::PUT,
            &format!("/admin/clients/{}/connections", w.msp),
        )
        .json(&json!({"consumer_id": w.front, "redirect_uri": app_redirect}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 409);

    // Without a challenge: refused at the redirect.
    let res = browser()
        .get(authorize_url(&w, w.msp, app_redirect, &[]))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    assert_eq!(
        param(&location_query(&res), "error").as_deref(),
        Some("invalid_request")
    );

    let url = authorize_url(
        &w,
        w.msp,
        app_redirect,
        &[
            ("code_challenge", CHALLENGE),
            ("code_challenge_method", "S256"),
        ],
    );
    let code = param(&sign_in(&w, &url).await, "code").unwrap();
    let msp = w.msp.to_string();
    let form = |verifier: &'static str| {
        vec![
            ("grant_type", "authorization_code"),
            ("client_id", msp.as_str()),
            ("code", code.as_str()),
            ("redirect_uri", app_redirect),
            ("code_verifier", verifier),
        ]
    };
    let wrong = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXK";
    let res = post_form(&w, "/oauth/token", None, &form(wrong)).await;
    assert_eq!(rfc_error(res).await, (400, "invalid_grant".into()));
    let res = post_form(&w, "/oauth/token", None, &form(VERIFIER)).await;
    assert_eq!(res.status(), 200);
    let issued: Value = res.json().await.unwrap();
    // Its refresh token rotates with the client id alone.
    let res = post_form(
        &w,
        "/oauth/token",
        None,
        &[
            ("grant_type", "refresh_token"),
            ("client_id", &msp),
            ("refresh_token", issued["refresh_token"].as_str().unwrap()),
        ],
    )
    .await;
    assert_eq!(res.status(), 200);
    // A public client may not introspect (RFC 7662 wants the caller authenticated).
    let res = post_form(
        &w,
        "/oauth/introspect",
        None,
        &[
            ("client_id", &msp),
            ("token", issued["access_token"].as_str().unwrap()),
        ],
    )
    .await;
    assert_eq!(rfc_error(res).await, (401, "invalid_client".into()));

    // A code of the confidential connection's redirect is not the public client's to redeem.
    let confidential = w.code().await;
    let res = post_form(
        &w,
        "/oauth/token",
        None,
        &[
            ("grant_type", "authorization_code"),
            ("client_id", &msp),
            ("code", &confidential),
            ("redirect_uri", REDIRECT),
        ],
    )
    .await;
    assert_eq!(rfc_error(res).await, (400, "invalid_grant".into()));
}

#[tokio::test(flavor = "multi_thread")]
async fn redirect_uris_match_exactly_on_the_standard_endpoint() {
    let w = world().await;
    for redirect_uri in [
        format!("{REDIRECT}/deeper"),
        format!("{REDIRECT}?x=1"),
        format!("{REDIRECT}/"),
    ] {
        let res = browser()
            .get(authorize_url(
                &w,
                w.msp,
                &redirect_uri,
                &[
                    ("code_challenge", CHALLENGE),
                    ("code_challenge_method", "S256"),
                ],
            ))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 400, "{redirect_uri}");
        assert!(res.headers().get("location").is_none());
    }
    // The eHealth pages keep the reference's prefix rule.
    let url = format!(
        "{}/sign-in?{}",
        w.app.auth,
        query(&[
            ("response_type", "code"),
            ("client_id", &w.msp.to_string()),
            ("redirect_uri", &format!("{REDIRECT}/deeper")),
            ("scope", "connection:read"),
        ])
    );
    assert_eq!(browser().get(url).send().await.unwrap().status(), 200);
    assert_eq!(
        w.app
            .count("SELECT count(*) AS n FROM sign_ins WHERE standard")
            .await,
        0
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_reused_refresh_token_or_code_ends_its_whole_grant() {
    let w = world().await;
    let me = basic(w.msp, &w.secret);
    let code = code(&w).await;
    let first = exchange(&w, &code).await;
    let old_refresh = first["refresh_token"].as_str().unwrap();
    let res = refresh(&w, old_refresh).await;
    assert_eq!(res.status(), 200);
    let second: Value = res.json().await.unwrap();
    // The old one again (a thief's copy, or the client's): refused, and the family ends.
    let res = refresh(&w, old_refresh).await;
    assert_eq!(rfc_error(res).await, (400, "invalid_grant".into()));
    for t in ["access_token", "refresh_token"] {
        let v = second[t].as_str().unwrap();
        assert_eq!(
            introspect(&w, &me, v).await,
            json!({"active": false}),
            "{t}"
        );
    }
    assert_eq!(
        refresh(&w, second["refresh_token"].as_str().unwrap())
            .await
            .status(),
        400
    );
    // The eHealth refresh endpoint never redeems a standard refresh token.
    let other = exchange(&w, &self::code(&w).await).await;
    let res = w
        .tokens(
            &json!({"token": {"grant_type": "refresh_token", "client_id": w.msp,
            "client_secret": w.secret, "refresh_token": other["refresh_token"]}}),
        )
        .await;
    assert_error(res, 401, "token_not_found", Some("Token not found.")).await;

    // A code redeemed twice: the second is refused and the tokens of the first end.
    let code = self::code(&w).await;
    let issued = exchange(&w, &code).await;
    let res = token(&w, &code_form(&code)).await;
    assert_eq!(rfc_error(res).await, (400, "invalid_grant".into()));
    let access = issued["access_token"].as_str().unwrap();
    assert_eq!(introspect(&w, &me, access).await, json!({"active": false}));
    assert_eq!(w.verify(access, Some(&w.api_key)).await.status(), 401);
}

#[tokio::test(flavor = "multi_thread")]
async fn concurrent_refreshes_with_one_token_leave_no_live_grant() {
    let w = world().await;
    let issued = exchange(&w, &code(&w).await).await;
    let old = issued["refresh_token"].as_str().unwrap();
    let answers = futures_util::future::join_all((0..8).map(|_| refresh(&w, old))).await;
    let ok = answers.iter().filter(|r| r.status() == 200).count();
    assert!(ok <= 1, "one rotation at most, got {ok}");
    assert!(
        answers
            .iter()
            .all(|r| r.status() == 200 || r.status() == 400)
    );
    // Whoever won, the reuse by the others ended the family.
    let live = w
        .app
        .count("SELECT count(*) AS n FROM tokens WHERE details ? 'family' AND expires_at > extract(epoch FROM now())")
        .await;
    assert_eq!(live, 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn introspection_and_revocation_are_for_the_tokens_own_client() {
    let w = world().await;
    let issued = exchange(&w, &code(&w).await).await;
    let access = issued["access_token"].as_str().unwrap();
    // The MIS authenticates with its own connection; the MSP's token is not its business.
    let mis = basic(w.mis, &w.api_key);
    assert_eq!(introspect(&w, &mis, access).await, json!({"active": false}));
    let res = post_form(&w, "/oauth/revoke", Some(&mis), &[("token", access)]).await;
    assert_eq!(rfc_error(res).await, (400, "unauthorized_client".into()));
    // Another consumer's connection of the same client does not act for this one's tokens.
    let (_, other_secret) = w
        .app
        .connection(w.msp, w.front, "https://other.example.com/cb")
        .await;
    let other = basic(w.msp, &other_secret);
    assert_eq!(
        introspect(&w, &other, access).await,
        json!({"active": false})
    );
    let res = post_form(&w, "/oauth/revoke", Some(&other), &[("token", access)]).await;
    assert_eq!(rfc_error(res).await, (400, "unauthorized_client".into()));
    let res = post_form(
        &w,
        "/oauth/token",
        Some(&other),
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", issued["refresh_token"].as_str().unwrap()),
        ],
    )
    .await;
    assert_eq!(rfc_error(res).await, (400, "invalid_grant".into()));
    // Given the introspection permission (a resource server), it sees any token.
    w.app
        .mithril(
            Method::PATCH,
            &format!("/admin/clients/{}", w.mis),
            Some(json!({"client": {"priv_settings": {"access_type": "DIRECT", "introspection": true}}})),
        )
        .await;
    assert_eq!(introspect(&w, &mis, access).await["active"], true);
    // An unknown hint is unsupported_token_type; the right one works.
    let me = basic(w.msp, &w.secret);
    let res = post_form(
        &w,
        "/oauth/revoke",
        Some(&me),
        &[("token", access), ("token_type_hint", "id_token")],
    )
    .await;
    assert_eq!(rfc_error(res).await, (400, "unsupported_token_type".into()));
    let res = post_form(
        &w,
        "/oauth/revoke",
        Some(&me),
        &[("token", access), ("token_type_hint", "access_token")],
    )
    .await;
    assert_eq!(res.status(), 200);
    assert_eq!(introspect(&w, &mis, access).await, json!({"active": false}));
    // An access token ends alone: the refresh token still works.
    assert_eq!(
        refresh(&w, issued["refresh_token"].as_str().unwrap())
            .await
            .status(),
        200
    );
    // No token: invalid_request.
    let res = post_form(&w, "/oauth/introspect", Some(&me), &[]).await;
    assert_eq!(rfc_error(res).await, (400, "invalid_request".into()));
    // The connection's redirect URI changes (seed 001): the tokens issued through it are still
    // its own.
    let before = exchange(&w, &code(&w).await).await;
    w.app
        .exec(&format!(
            "UPDATE connections SET redirect_uri = 'https://mis.example.com/moved' \
             WHERE client_id = '{}' AND consumer_id = '{}'",
            w.msp, w.mis
        ))
        .await;
    let access = before["access_token"].as_str().unwrap();
    assert_eq!(introspect(&w, &me, access).await["active"], true);
    let res = refresh(&w, before["refresh_token"].as_str().unwrap()).await;
    assert_eq!(res.status(), 200);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_metadata_names_the_endpoints_under_the_issuer() {
    let w = world_with(|s| s.oauth.issuer = "https://api.example.org/".into()).await;
    let res = w
        .app
        .http
        .get(format!(
            "{}/.well-known/oauth-authorization-server",
            w.app.auth
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let m: Value = res.json().await.unwrap();
    assert_eq!(m["issuer"], "https://api.example.org");
    assert_eq!(
        m["authorization_endpoint"],
        "https://api.example.org/oauth/authorize"
    );
    assert_eq!(m["token_endpoint"], "https://api.example.org/oauth/token");
    assert_eq!(
        m["introspection_endpoint"],
        "https://api.example.org/oauth/introspect"
    );
    assert_eq!(
        m["revocation_endpoint"],
        "https://api.example.org/oauth/revoke"
    );
    assert_eq!(m["code_challenge_methods_supported"], json!(["S256"]));
    assert_eq!(
        m["grant_types_supported"],
        json!(["authorization_code", "refresh_token"])
    );
    assert_eq!(
        m["token_endpoint_auth_methods_supported"],
        json!(["client_secret_basic", "client_secret_post", "none"])
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_input_on_every_standard_endpoint_is_a_4xx_that_writes_nothing() {
    let w = world().await;
    let code = code(&w).await;
    let before = tokens_count(&w).await;
    let me = basic(w.msp, &w.secret);
    let valid = format!(
        "grant_type=authorization_code&code={code}&redirect_uri={}&code_verifier={VERIFIER}",
        url::form_urlencoded::byte_serialize(REDIRECT.as_bytes()).collect::<String>()
    );
    let oversized = format!("{valid}&pad={}", "a".repeat(17 * 1024));
    let cases: Vec<(&str, Vec<u8>, u16)> = vec![
        (
            "application/json",
            br#"{"grant_type":"authorization_code"}"#.to_vec(),
            415,
        ),
        ("text/plain", valid.clone().into_bytes(), 415),
        (
            "application/x-www-form-urlencoded",
            oversized.into_bytes(),
            413,
        ),
        (
            "application/x-www-form-urlencoded",
            format!("{valid}&client_id=%FF%FE").into_bytes(),
            400,
        ),
        (
            "application/x-www-form-urlencoded",
            [valid.as_bytes(), b"&client_secret=\xff"].concat(),
            400,
        ),
        (
            "application/x-www-form-urlencoded",
            format!("{valid}&client_id=a%00b").into_bytes(),
            400,
        ),
        (
            "application/x-www-form-urlencoded",
            b"grant_type=authorization_code&token=%00&code=%00".to_vec(),
            400,
        ),
    ];
    for path in ["/oauth/token", "/oauth/introspect", "/oauth/revoke"] {
        for (content_type, body, status) in &cases {
            let res = w
                .app
                .http
                .post(format!("{}{path}", w.app.auth))
                .header("authorization", &me)
                .header("content-type", *content_type)
                .body(body.clone())
                .send()
                .await
                .unwrap();
            assert_eq!(res.status().as_u16(), *status, "{path} {content_type}");
            let body: Value = res.json().await.unwrap();
            assert_eq!(body["error"], "invalid_request", "{path}");
        }
    }
    // A query that is not UTF-8, or repeats a parameter: the error page, no sign-in.
    for q in ["client_id=%FF", "client_id=a&client_id=b"] {
        let res = browser()
            .get(format!("{}/oauth/authorize?{q}", w.app.auth))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 400);
    }
    assert_eq!(tokens_count(&w).await, before);
    assert_eq!(w.app.count("SELECT count(*) AS n FROM sign_ins").await, 0);
    // The code is still good.
    assert_eq!(exchange(&w, &code).await["token_type"], "Bearer");
}

#[test]
fn the_test_verifier_is_the_challenge_of_rfc_7636() {
    let digest = Sha256::digest(VERIFIER.as_bytes());
    assert_eq!(
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(digest),
        CHALLENGE
    );
}
