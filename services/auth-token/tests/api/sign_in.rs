//! The sign-in pages over HTTP (the browser's side is `make sign-in-check`, in Chromium): the
//! client and redirect checked before anything else, refusals that change nothing, the cookie
//! and the headers, and the flow to a code with the session carried by hand.

use reqwest::{Response, StatusCode, redirect};
use uuid::Uuid;

use crate::helpers::*;

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(redirect::Policy::none())
        .build()
        .unwrap()
}

fn start_url(
    w: &World,
    client_id: &str,
    redirect_uri: &str,
    scope: &str,
    response_type: &str,
) -> String {
    let q = [
        ("response_type", response_type),
        ("client_id", client_id),
        ("redirect_uri", redirect_uri),
        ("scope", scope),
        ("state", "st-1"),
    ];
    let query: String = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(q)
        .finish();
    format!("{}/sign-in?{query}", w.app.auth)
}

/// The page's hidden CSRF token.
fn csrf_of(page: &str) -> String {
    let at = page.find("name=\"csrf\" value=\"").expect("a CSRF field") + 19;
    page[at..at + page[at..].find('"').unwrap()].to_owned()
}

fn session_of(res: &Response) -> String {
    let set = res.headers()["set-cookie"].to_str().unwrap().to_owned();
    set.split(';').next().unwrap().to_owned()
}

async fn post(w: &World, path: &str, cookie: Option<&str>, form: &[(&str, &str)]) -> Response {
    let mut r = client().post(format!("{}{path}", w.app.auth)).form(form);
    if let Some(c) = cookie {
        r = r.header("cookie", c);
    }
    r.send().await.unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn the_client_and_the_redirect_are_checked_before_anything_else() {
    let w = world().await;
    let msp = w.msp.to_string();
    for (client_id, redirect_uri) in [
        (Uuid::now_v7().to_string(), REDIRECT.to_owned()),
        ("not-a-uuid".to_owned(), REDIRECT.to_owned()),
        (msp.clone(), "https://evil.example/cb".to_owned()),
        (msp.clone(), String::new()),
    ] {
        let res = client()
            .get(start_url(
                &w,
                &client_id,
                &redirect_uri,
                "connection:read",
                "code",
            ))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 400, "{client_id} {redirect_uri}");
        assert!(res.headers().get("location").is_none());
        assert!(res.headers().get("set-cookie").is_none());
        assert!(
            res.headers()["content-type"]
                .to_str()
                .unwrap()
                .starts_with("text/html")
        );
    }
    // With a registered redirect the rest is refused there, with the state.
    for (scope, response_type, error) in [
        ("connection:read", "token", "unsupported_response_type"),
        ("", "code", "invalid_scope"),
        ("declaration:write nonsense:scope", "code", "invalid_scope"),
    ] {
        let res = client()
            .get(start_url(&w, &msp, REDIRECT, scope, response_type))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::SEE_OTHER);
        let location = res.headers()["location"].to_str().unwrap();
        assert!(location.starts_with(REDIRECT), "{location}");
        assert!(
            location.contains(&format!("error={error}")) && location.contains("state=st-1"),
            "{location}"
        );
    }
    // Bad input: a 4xx, nothing written.
    let res = client()
        .get(format!(
            "{}/sign-in?client_id=%FF%FE&redirect_uri=%00",
            w.app.auth
        ))
        .send()
        .await
        .unwrap();
    assert!(res.status().is_client_error(), "{}", res.status());
    for (content_type, body) in [
        ("application/json", "{\"csrf\": 1}"),
        (
            "application/x-www-form-urlencoded",
            "csrf=%FF%FE&email=\u{0}",
        ),
    ] {
        let res = client()
            .post(format!("{}/sign-in", w.app.auth))
            .header("content-type", content_type)
            .body(body)
            .send()
            .await
            .unwrap();
        assert!(
            res.status().is_client_error(),
            "{content_type}: {}",
            res.status()
        );
    }
    assert_eq!(w.app.count("SELECT count(*) AS n FROM sign_ins").await, 0);
    assert_eq!(
        w.app
            .count("SELECT count(*) AS n FROM login_failures")
            .await,
        0
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_sign_in_to_a_code_with_its_cookie_and_csrf_token() {
    let w = world().await;
    let msp = w.msp.to_string();
    let res = client()
        .get(start_url(&w, &msp, REDIRECT, "connection:read", "code"))
        .header("accept-language", "en")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let set = res.headers()["set-cookie"].to_str().unwrap().to_owned();
    for part in ["HttpOnly", "SameSite=Lax", "Secure", "Path=/sign-in"] {
        assert!(set.contains(part), "{set}");
    }
    for (name, value) in [
        ("cache-control", "no-store"),
        ("x-frame-options", "DENY"),
        ("referrer-policy", "no-referrer"),
    ] {
        assert_eq!(res.headers()[name], value);
    }
    let csp = res.headers()["content-security-policy"].to_str().unwrap();
    assert!(
        csp.contains("form-action 'self' https://mis.example.com"),
        "{csp}"
    );
    let cookie = session_of(&res);
    let page = res.text().await.unwrap();
    assert!(
        page.contains("<label for=\"email\">E-mail</label>"),
        "{page}"
    );
    let csrf = csrf_of(&page);
    let form = |csrf: &str, scope: &str| {
        vec![
            ("csrf", csrf.to_owned()),
            ("client_id", msp.clone()),
            ("redirect_uri", REDIRECT.to_owned()),
            ("scope", scope.to_owned()),
            ("email", w.email.clone()),
            ("password", PASSWORD.to_owned()),
        ]
    };
    let send = |cookie: Option<String>, f: Vec<(&'static str, String)>, path: &'static str| {
        let w = &w;
        async move {
            let pairs: Vec<(&str, &str)> = f.iter().map(|(k, v)| (*k, v.as_str())).collect();
            post(w, path, cookie.as_deref(), &pairs).await
        }
    };
    // No cookie, a wrong token, a changed request: refused, nothing moves on.
    let res = send(None, form(&csrf, "connection:read"), "/sign-in").await;
    assert_eq!(res.status(), 400);
    let res = send(
        Some(cookie.clone()),
        form("forged", "connection:read"),
        "/sign-in",
    )
    .await;
    assert_eq!(res.status(), 403);
    let res = send(
        Some(cookie.clone()),
        form(&csrf, "connection:read connection:write"),
        "/sign-in",
    )
    .await;
    assert_eq!(res.status(), 400);
    // A step out of turn.
    let res = send(
        Some(cookie.clone()),
        form(&csrf, "connection:read"),
        "/sign-in/consent",
    )
    .await;
    assert_eq!(res.status(), 400);
    assert_eq!(
        w.app
            .count("SELECT count(*) AS n FROM sign_ins WHERE step = 'password' AND user_id IS NULL")
            .await,
        1
    );
    assert_eq!(
        w.app
            .count("SELECT count(*) AS n FROM login_failures")
            .await,
        0,
        "no password was checked"
    );

    // The password; no approval yet: the consent page.
    let res = send(
        Some(cookie.clone()),
        form(&csrf, "connection:read"),
        "/sign-in",
    )
    .await;
    assert_eq!(res.status(), 200);
    let page = res.text().await.unwrap();
    assert!(page.contains("Перегляд: підключення"), "{page}");
    let mut approve = form(&csrf, "connection:read");
    approve.push(("decision", "approve".into()));
    let res = send(Some(cookie.clone()), approve.clone(), "/sign-in/consent").await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let location = res.headers()["location"].to_str().unwrap().to_owned();
    assert!(
        location.starts_with(REDIRECT)
            && location.contains("code=")
            && location.contains("state=st-1"),
        "{location}"
    );
    let code = url::Url::parse(&location)
        .unwrap()
        .query_pairs()
        .find(|(k, _)| k == "code")
        .unwrap()
        .1
        .into_owned();
    let res = w.tokens(&w.exchange_body(&code)).await;
    assert_eq!(res.status(), 201);
    // The sign-in is over: the same form again is refused.
    assert_eq!(w.app.count("SELECT count(*) AS n FROM sign_ins").await, 0);
    let res = send(Some(cookie), approve, "/sign-in/consent").await;
    assert_eq!(res.status(), 400);
}
