//! The two transports of the proxy port (the gatekeeper's own HTTP/1.1 code and hyper) apply one
//! forwarding plan: the same requests through each reach the upstream as the same request and
//! bring the caller the same answer, framing aside.

use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::*;

/// One request of the comparison.
struct Case {
    name: &'static str,
    method: Method,
    path: &'static str,
    token: bool,
    headers: &'static [(&'static str, &'static str)],
    body: Option<Value>,
}

const TRACE: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

fn cases() -> Vec<Case> {
    let spoofed: &'static [(&'static str, &'static str)] = &[
        ("x-consumer-id", "00000000-0000-0000-0000-000000000000"),
        ("x-consumer-signature", "t=1,v1=00"),
        ("x-forwarded-for", "203.0.113.9"),
        ("forwarded", "for=203.0.113.9;host=evil.example"),
        ("x-custom", "kept as it came"),
    ];
    vec![
        Case {
            name: "token, query, spoofed headers",
            method: Method::GET,
            path: "/echo/read?x=1&y=%20",
            token: true,
            headers: spoofed,
            body: None,
        },
        Case {
            name: "token and a body",
            method: Method::POST,
            path: "/echo/read/deeper",
            token: true,
            headers: &[],
            body: Some(json!({"a": [1, 2, "three"]})),
        },
        Case {
            name: "HEAD",
            method: Method::HEAD,
            path: "/echo/read",
            token: true,
            headers: &[],
            body: None,
        },
        Case {
            name: "no token",
            method: Method::GET,
            path: "/echo/read",
            token: false,
            headers: &[],
            body: None,
        },
        Case {
            name: "a scope missing",
            method: Method::GET,
            path: "/echo/admin",
            token: true,
            headers: &[],
            body: None,
        },
        Case {
            name: "no route",
            method: Method::GET,
            path: "/nowhere",
            token: false,
            headers: &[],
            body: None,
        },
        Case {
            name: "open route, another host",
            method: Method::DELETE,
            path: "/open/x",
            token: false,
            headers: &[("host", "other.example")],
            body: None,
        },
        Case {
            name: "a body over the route's limit",
            method: Method::POST,
            path: "/open/x",
            token: false,
            headers: &[],
            body: Some(json!({"pad": "x".repeat(2000)})),
        },
        Case {
            name: "an upstream status",
            method: Method::GET,
            path: "/open/status/418",
            token: false,
            headers: &[],
            body: None,
        },
    ]
}

/// What the caller got, with the values each hop makes afresh (the parent id of the trace,
/// the signature's time and digits, the date) masked.
async fn observed(gw: &Gateway, w: &World, token: &str, case: &Case) -> Value {
    let mut req = gw
        .req(case.method.clone(), case.path)
        .header("x-request-id", "differential-0001")
        .header("traceparent", TRACE);
    if case.token {
        req = req.bearer_auth(token).header("api-key", &w.api_key);
    }
    for (name, value) in case.headers {
        req = req.header(*name, *value);
    }
    if let Some(body) = &case.body {
        req = req.json(body);
    }
    let res = req.send().await.unwrap();
    let status = res.status().as_u16();
    let mut headers = serde_json::Map::new();
    for (name, value) in res.headers() {
        if matches!(name.as_str(), "date" | "connection" | "keep-alive") {
            continue;
        }
        headers.insert(
            name.as_str().to_owned(),
            json!(mask(name.as_str(), value.to_str().unwrap())),
        );
    }
    let text = res.text().await.unwrap();
    let mut body: Value = serde_json::from_str(&text).unwrap_or(Value::String(text));
    if let Some(sent) = body.get_mut("headers").and_then(Value::as_object_mut) {
        for (name, value) in sent.iter_mut() {
            *value = json!(mask(name, value.as_str().unwrap_or_default()));
        }
        // Framing: a body's length is stated by both; neither sends anything else about it.
        assert!(
            !sent.contains_key("transfer-encoding"),
            "{}: {sent:?}",
            case.name
        );
    }
    json!({"status": status, "headers": headers, "body": body})
}

fn mask(name: &str, value: &str) -> String {
    match name {
        // This hop's own span id: new on every request.
        "traceparent" => format!("{}-<span>-{}", &value[..35], &value[53..]),
        "x-consumer-signature" => {
            assert!(value.starts_with("t=") && value.contains(",v1="), "{value}");
            "<signature>".into()
        }
        "host" if value.starts_with("127.0.0.1:") => "127.0.0.1:<port>".into(),
        "x-forwarded-host" if value.starts_with("127.0.0.1:") => "127.0.0.1:<port>".into(),
        _ => value.to_owned(),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn both_transports_send_the_same_request_and_give_the_same_answer() {
    let s = setup_with(|s| s.forwarding.own_http1 = true).await;
    let hyper = gateway(&fill(ROUTES, &s.upstreams), &s.w.app.auth, |s| {
        s.forwarding.own_http1 = false
    })
    .await;
    let (token, _) = s.w.access().await;
    for case in cases() {
        let own = observed(&s.gw, &s.w, &token, &case).await;
        let other = observed(&hyper, &s.w, &token, &case).await;
        // meta.url names the gateway's own port: the two listen on different ones.
        let own = replace_port(own, &s.gw.url);
        let other = replace_port(other, &hyper.url);
        assert_eq!(own, other, "{}", case.name);
    }
}

fn replace_port(v: Value, url: &str) -> Value {
    serde_json::from_str(
        &v.to_string()
            .replace(url.trim_start_matches("http://"), "<gateway>"),
    )
    .unwrap()
}
