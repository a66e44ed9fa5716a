// CloudFront Function (cloudfront-js-2.0), viewer request: which object answers a request.
//
// The same rule as s3pypi_core/routing.py (and the Lambda@Edge handler when basic auth is on),
// checked against the same cases (tests/routing_cases.json):
// - `/[P/]NAME/` and `/[P/]` are pages: HTML by default, `index.json` when the Accept header
//   prefers the JSON simple API (PEP 691), as pip and uv do;
// - the root page without a prefix is `index.html` (an object key cannot be empty); with
//   INDEX_HTML (buckets published with `--index.html`) every HTML page is `.../index.html`;
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
    } else if (INDEX_HTML || uri === "/") {
      uri += "index.html";
    }
  }
  // S3 reads a literal '+' in a path as a space; '%2B' is the '+' of a local version.
  request.uri = uri.replace(/\+/g, "%2B");
  return request;
}
