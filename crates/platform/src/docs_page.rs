//! `/docs`: Swagger UI over the service's own `/openapi.json`, served from inside the binary
//! (`assets/swagger-ui`, the npm package swagger-ui-dist 5.35.0, Apache-2.0): no script, style
//! or font comes from another host, so the page works on a network without internet.

/// Paths under which the page loads its script and style (relative to the page).
pub const SCRIPT_PATH: &str = "/docs/swagger-ui-bundle.js";
pub const STYLE_PATH: &str = "/docs/swagger-ui.css";

pub const SCRIPT: &[u8] = include_bytes!("../assets/swagger-ui/swagger-ui-bundle.js");
pub const STYLE: &[u8] = include_bytes!("../assets/swagger-ui/swagger-ui.css");

/// The page for a document titled `title`, found at `/openapi.json`. The document's address and
/// the assets' are relative, so the page works behind a proxy that adds a path prefix.
pub fn html(title: &str) -> String {
    let title = escape(title);
    format!(
        r##"<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<link rel="stylesheet" href="docs/swagger-ui.css">
</head>
<body>
<div id="swagger-ui"></div>
<script src="docs/swagger-ui-bundle.js"></script>
<script>
window.ui = SwaggerUIBundle({{
  url: "openapi.json",
  dom_id: "#swagger-ui",
  deepLinking: true,
  validatorUrl: null
}});
</script>
</body>
</html>
"##
    )
}

/// The asset at `path`, with its content type.
pub fn asset(path: &str) -> Option<(&'static [u8], &'static str)> {
    match path {
        SCRIPT_PATH => Some((SCRIPT, "application/javascript; charset=utf-8")),
        STYLE_PATH => Some((STYLE, "text/css; charset=utf-8")),
        _ => None,
    }
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_loads_only_its_own_assets() {
        let page = html("a <b> & \"c\"");
        assert!(page.contains("<title>a &lt;b&gt; &amp; &quot;c&quot;</title>"));
        assert!(
            !page.contains("http://") && !page.contains("https://"),
            "{page}"
        );
        assert!(asset(SCRIPT_PATH).is_some_and(|(b, _)| b.len() > 1_000_000));
        assert!(asset(STYLE_PATH).is_some());
        assert!(asset("/docs/other.js").is_none());
    }
}
