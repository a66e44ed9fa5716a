// CloudFront Function (cloudfront-js-2.0), viewer request: which object answers a request.
//
// The same rule as s3pypi_core/routing.py (and the Lambda@Edge handler when basic auth is on),
// checked against the same cases (tests/routing_cases.json):
// - `/[P/]NAME/` and `/[P/]` are pages: HTML by default, `index.json` when the Accept header
//   prefers the JSON simple API (PEP 691), as pip and uv do, and the human view `browse.html`
//   for a browser (it accepts application/xhtml+xml, which no installer names);
// - the root page without a prefix is `index.html` (an object key cannot be empty); with
//   INDEX_HTML (buckets published with `--index.html`) every HTML page is `.../index.html`;
// - `/[P/]pypi/NAME/json` and `/[P/]pypi/NAME/VERSION/json` are PyPI's JSON API, kept in the
//   project's directory (`[P/]NAME/json`, where Renovate and Dependabot look);
// - any other path is an object key as is (distributions, `.metadata` files).
//
// Terraform replaces the next line with the module's `index_html` setting.
var INDEX_HTML = false;

var JSON_TYPES = ["application/vnd.pypi.simple.v1+json", "application/vnd.pypi.simple.latest+json"];
var HTML_TYPES = [
  "application/vnd.pypi.simple.v1+html",
  "text/html",
  "application/vnd.pypi.simple.latest+html",
];
var WILDCARD_TYPES = ["*/*", "text/*"];
var SIMPLE_API_PREFIX = "application/vnd.pypi.simple.";
var XHTML_TYPE = "application/xhtml+xml";
var BROWSE_PAGE = "browse.html";
// `/[P/]pypi/NAME/json` and `/[P/]pypi/NAME/VERSION/json`, for a normalized NAME.
var PYPI_JSON_API = /^(\/(?:[^\/]+\/)*?)pypi\/([a-z0-9](?:[a-z0-9-]*[a-z0-9])?\/(?:[^\/]+\/)?json)$/;

// The quality of a `q=` parameter; anything unparsable counts as 0, as in routing.py.
function quality(params) {
  var q = 1.0;
  for (var i = 0; i < params.length; i++) {
    var eq = params[i].indexOf("=");
    var name = (eq < 0 ? params[i] : params[i].slice(0, eq)).trim().toLowerCase();
    if (name === "q") {
      var value = eq < 0 ? "" : params[i].slice(eq + 1).trim();
      q = /^[-+]?([0-9]+\.?[0-9]*|\.[0-9]+)(e[-+]?[0-9]+)?$/i.test(value) ? Number(value) : 0.0;
    }
  }
  return q;
}

// Whether JSON's quality is strictly higher than the best HTML (or wildcard) type's.
function wantsJson(accept) {
  if (!accept) {
    return false;
  }
  var jsonQ = 0.0;
  var htmlQ = 0.0;
  var items = accept.split(",");
  for (var i = 0; i < items.length; i++) {
    var parts = items[i].split(";");
    var mediaType = parts[0].trim().toLowerCase();
    var q = quality(parts.slice(1));
    if (JSON_TYPES.indexOf(mediaType) >= 0) {
      jsonQ = Math.max(jsonQ, q);
    } else if (HTML_TYPES.indexOf(mediaType) >= 0 || WILDCARD_TYPES.indexOf(mediaType) >= 0) {
      htmlQ = Math.max(htmlQ, q);
    }
  }
  return jsonQ > htmlQ;
}

// Whether a page request is a browser's: it accepts XHTML and no simple API type.
function isBrowser(accept) {
  if (!accept) {
    return false;
  }
  var xhtmlQ = 0.0;
  var simpleQ = 0.0;
  var items = accept.split(",");
  for (var i = 0; i < items.length; i++) {
    var parts = items[i].split(";");
    var mediaType = parts[0].trim().toLowerCase();
    var q = quality(parts.slice(1));
    if (mediaType === XHTML_TYPE) {
      xhtmlQ = Math.max(xhtmlQ, q);
    } else if (mediaType.indexOf(SIMPLE_API_PREFIX) === 0) {
      simpleQ = Math.max(simpleQ, q);
    }
  }
  return xhtmlQ > 0 && simpleQ <= 0;
}

function handler(event) {
  var request = event.request;
  var accept = request.headers.accept ? request.headers.accept.value : null;
  var uri = request.uri;
  if (uri.charAt(0) !== "/") {
    uri = "/" + uri;
  }
  if (uri.charAt(uri.length - 1) === "/") {
    if (wantsJson(accept)) {
      uri += "index.json";
    } else if (isBrowser(accept)) {
      uri += BROWSE_PAGE;
    } else if (INDEX_HTML || uri === "/") {
      uri += "index.html";
    }
  } else {
    var api = PYPI_JSON_API.exec(uri);
    if (api) {
      uri = api[1] + api[2];
    }
  }
  // S3 reads a literal '+' in a path as a space; '%2B' is the '+' of a local version.
  request.uri = uri.replace(/\+/g, "%2B");
  return request;
}
