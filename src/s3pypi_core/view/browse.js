// The human view of an s3pypi index: the project list with a search box, and a project's
// README, versions, files and install commands. Static: it reads the index's JSON documents
// (the simple API's index.json and PyPI's JSON in NAME/json, written at publish time) from the
// same place the page came from, and makes no other request. No dependencies.
//
// Everything is built as DOM nodes with textContent; the one piece of HTML from outside, a
// README, was sanitised when it was published and is sanitised again here before it is shown.
"use strict";

(function () {
  var SIMPLE_JSON = "application/vnd.pypi.simple.v1+json";
  var FIRST_RESULTS = 200;

  var body = document.body;
  var projectName = body.getAttribute("data-project");
  var pageDir = new URL("./", location.href);
  var indexUrl = projectName ? new URL("../", pageDir) : pageDir;
  var main;

  // DOM helpers

  function el(tag, attributes) {
    var node = document.createElement(tag);
    var names = Object.keys(attributes || {});
    for (var i = 0; i < names.length; i++) {
      var value = attributes[names[i]];
      if (value === null || value === undefined || value === false) continue;
      if (names[i] === "text") node.textContent = value;
      else node.setAttribute(names[i], value === true ? "" : value);
    }
    for (var j = 2; j < arguments.length; j++) append(node, arguments[j]);
    return node;
  }

  function append(node, child) {
    if (child === null || child === undefined || child === false) return;
    if (Array.isArray(child)) child.forEach(function (c) { append(node, c); });
    else node.appendChild(typeof child === "string" ? document.createTextNode(child) : child);
  }

  // Formatting

  function normalize(name) {
    return name.toLowerCase().replace(/[-_.]+/g, "-");
  }

  function formatSize(bytes) {
    if (typeof bytes !== "number") return "";
    var units = ["bytes", "kB", "MB", "GB"];
    var value = bytes;
    var unit = 0;
    while (value >= 1000 && unit < units.length - 1) {
      value /= 1000;
      unit++;
    }
    return (unit === 0 ? String(value) : value.toFixed(value < 10 ? 1 : 0)) + " " + units[unit];
  }

  function timeElement(iso) {
    if (!iso) return el("span", { class: "muted", text: "unknown" });
    var date = new Date(iso);
    if (isNaN(date.getTime())) return el("span", { text: iso });
    return el("time", {
      datetime: date.toISOString(),
      title: date.toLocaleString(),
      text: date.toLocaleDateString(undefined, { year: "numeric", month: "short", day: "numeric" }),
    });
  }

  function pluralize(count, word) {
    return count.toLocaleString() + " " + word + (count === 1 ? "" : "s");
  }

  // Fetching the index's documents

  function fetchJson(url, accept) {
    return fetch(url, {
      headers: { Accept: accept || "application/json" },
      // A negotiated URL (a page directory) must not be cached as the page itself.
      cache: accept ? "no-store" : "no-cache",
      credentials: "same-origin",
    }).then(function (response) {
      if (!response.ok) {
        var error = new Error(response.status + " " + response.statusText);
        error.status = response.status;
        throw error;
      }
      return response.json();
    });
  }

  // The simple API's JSON page of a directory: index.json, or (s3pypi serve builds a root
  // page when none was published) what the directory answers pip with.
  function simplePage(directory) {
    return fetchJson(new URL("index.json", directory)).catch(function () {
      return fetchJson(directory, SIMPLE_JSON);
    });
  }

  // Copying to the clipboard

  function copyButton(text, label) {
    var button = el("button", { type: "button", class: "copy", "aria-label": label, text: "Copy" });
    button.addEventListener("click", function () {
      var done = function () {
        button.textContent = "Copied";
        setTimeout(function () { button.textContent = "Copy"; }, 1500);
      };
      if (navigator.clipboard && window.isSecureContext) {
        navigator.clipboard.writeText(text).then(done, function () { selectText(button); });
      } else {
        selectText(button);
      }
    });
    return button;
  }

  function selectText(button) {
    var code = button.parentNode.querySelector("code");
    if (!code) return;
    var range = document.createRange();
    range.selectNodeContents(code);
    var selection = window.getSelection();
    selection.removeAllRanges();
    selection.addRange(range);
  }

  function command(label, text) {
    return el("div", { class: "command" },
      el("span", { class: "command-label", text: label }),
      el("code", { text: text }),
      copyButton(text, "Copy the " + label + " command"));
  }

  // The frame

  function frame(title) {
    var header = el("header", { class: "top" },
      el("div", { class: "top-inner" },
        el("a", { class: "brand", href: indexUrl.pathname }, el("span", { class: "logo", "aria-hidden": "true" }), "Package index"),
        el("span", { class: "index-url", text: indexUrl.href })));
    main = el("main", { id: "main", tabindex: "-1" });
    var skip = el("a", { class: "skip", href: "#main", text: "Skip to content" });
    body.replaceChildren(skip, header, main);
    document.title = title;
  }

  function showError(message, detail) {
    main.replaceChildren(el("div", { class: "notice error", role: "alert" },
      el("p", { text: message }), detail ? el("p", { class: "muted", text: detail }) : null));
  }

  // The index: every project, filtered as one types

  function showIndex() {
    frame("Python package index");
    main.setAttribute("aria-busy", "true");
    main.append(el("p", { class: "muted", text: "Loading the projects…" }));
    simplePage(indexUrl).then(function (page) {
      var names = (page.projects || []).map(function (p) { return p.name; }).sort();
      renderIndex(names);
    }, function (error) {
      showError("This index has no project list.",
        error.status === 404 || error.status === 403
          ? "It is written when projects are published with --put-root-index (or by s3pypi reindex --put-root-index)."
          : String(error));
    }).then(function () { main.removeAttribute("aria-busy"); });
  }

  function renderIndex(names) {
    var entries = names.map(function (name) { return { name: name, key: normalize(name) }; });
    var input = el("input", {
      id: "search", type: "search", autocomplete: "off", spellcheck: "false",
      placeholder: "Search " + pluralize(names.length, "project"), "aria-controls": "projects",
      "aria-describedby": "count",
    });
    var count = el("p", { id: "count", class: "muted", "aria-live": "polite" });
    var list = el("ul", { id: "projects", class: "projects" });
    var more = el("button", { type: "button", class: "more", hidden: true });
    var matches = [];
    var shown = 0;

    function render(limit) {
      var fragment = document.createDocumentFragment();
      for (var i = shown; i < Math.min(limit, matches.length); i++) {
        fragment.appendChild(el("li", null, el("a", { href: encodeURIComponent(matches[i].name) + "/", text: matches[i].name })));
      }
      list.appendChild(fragment);
      shown = Math.min(limit, matches.length);
      more.hidden = shown >= matches.length;
      more.textContent = "Show all " + matches.length.toLocaleString();
    }

    function filter() {
      var query = normalize(input.value.trim());
      if (!query) {
        matches = entries;
      } else {
        var exact = [], prefix = [], inner = [];
        for (var i = 0; i < entries.length; i++) {
          var at = entries[i].key.indexOf(query);
          if (at < 0) continue;
          (entries[i].key === query ? exact : at === 0 ? prefix : inner).push(entries[i]);
        }
        matches = exact.concat(prefix, inner);
      }
      list.replaceChildren();
      shown = 0;
      render(FIRST_RESULTS);
      count.textContent = query
        ? pluralize(matches.length, "project") + " matching “" + input.value.trim() + "”"
        : pluralize(entries.length, "project");
      var url = new URL(location.href);
      if (input.value) url.searchParams.set("q", input.value); else url.searchParams.delete("q");
      history.replaceState(null, "", url.pathname + url.search);
    }

    input.addEventListener("input", filter);
    input.addEventListener("keydown", function (event) {
      var first = list.querySelector("a");
      if (event.key === "Enter" && first) {
        location.href = first.href;
      } else if (event.key === "ArrowDown" && first) {
        event.preventDefault();
        first.focus();
      }
    });
    list.addEventListener("keydown", function (event) {
      var item = event.target.parentNode;
      var next = event.key === "ArrowDown" ? item.nextElementSibling : event.key === "ArrowUp" ? item.previousElementSibling : null;
      if (event.key === "ArrowDown" || event.key === "ArrowUp") {
        event.preventDefault();
        if (next) next.querySelector("a").focus();
        else if (event.key === "ArrowUp") input.focus();
      }
    });
    more.addEventListener("click", function () { render(matches.length); });
    document.addEventListener("keydown", function (event) {
      if (event.key === "/" && document.activeElement !== input) {
        event.preventDefault();
        input.focus();
      }
    });

    main.replaceChildren(
      el("section", { class: "hero" },
        el("h1", { text: "Projects" }),
        el("label", { for: "search", class: "search-label", text: "Search projects" }),
        el("div", { class: "search" }, input),
        count),
      el("p", { class: "hint" }, "Install from this index: ",
        el("code", { text: "pip install --index-url " + indexUrl.href + " NAME" })),
      list, more);
    input.value = new URL(location.href).searchParams.get("q") || "";
    filter();
  }

  // A project

  function showProject() {
    frame(projectName + " · Python package index");
    main.setAttribute("aria-busy", "true");
    main.append(el("p", { class: "muted", text: "Loading " + projectName + "…" }));
    var wanted = new URL(location.href).searchParams.get("version");
    // PyPI's JSON documents live in the project's directory: json, VERSION/json.
    var project = fetchJson(new URL("json", pageDir)).catch(function (error) {
      // Published before this view existed and not reindexed yet: the simple API's page.
      return simplePage(pageDir).then(fromSimplePage, function () { throw error; });
    });
    project.then(function (doc) {
      var version = wanted && doc.releases[wanted] ? wanted : doc.info && doc.info.version;
      var release = version && version !== (doc.info && doc.info.version) && !doc.simpleOnly
        ? fetchJson(new URL(encodeURIComponent(version) + "/json", pageDir)).catch(function () { return null; })
        : Promise.resolve(null);
      return release.then(function (releaseDoc) { renderProject(doc, version, releaseDoc); });
    }).catch(function (error) {
      showError(error.status === 404 || error.status === 403
        ? "There is no project " + projectName + " in this index."
        : "Cannot read " + projectName + ": " + error.message);
    }).then(function () { main.removeAttribute("aria-busy"); });
  }

  // A project document like PyPI's from the simple API's page (no README, no metadata).
  function fromSimplePage(page) {
    var releases = {};
    (page.versions || []).forEach(function (v) { releases[v] = []; });
    (page.files || []).forEach(function (file) {
      var version = versionOf(file.filename);
      (releases[version] = releases[version] || []).push({
        filename: file.filename,
        url: file.url,
        size: file.size,
        digests: file.hashes || {},
        requires_python: file["requires-python"],
        upload_time_iso_8601: file["upload-time"],
        yanked: !!file.yanked,
        yanked_reason: typeof file.yanked === "string" ? file.yanked : null,
        packagetype: /\.whl$/.test(file.filename) ? "bdist_wheel" : "sdist",
      });
    });
    var versions = Object.keys(releases);
    var latest = versions[versions.length - 1];
    return {
      info: { name: page.name || projectName, version: latest, summary: "", project_urls: {} },
      releases: releases,
      urls: releases[latest] || [],
      simpleOnly: true,
    };
  }

  function versionOf(filename) {
    var stem = filename.replace(/\.(whl|tar\.gz|tar\.bz2|tar\.xz|zip)$/, "");
    var parts = /\.whl$/.test(filename) ? stem.split("-") : [stem.slice(0, stem.lastIndexOf("-")), stem.slice(stem.lastIndexOf("-") + 1)];
    return parts[1];
  }

  function isYanked(files) {
    return files.length > 0 && files.every(function (f) { return f.yanked; });
  }

  function firstUpload(files) {
    var times = files.map(function (f) { return f.upload_time_iso_8601; }).filter(Boolean).sort();
    return times[0];
  }

  function isPrerelease(version) {
    return /(a|b|rc|alpha|beta|c|pre|preview|dev)[-_.]?\d*/i.test(version.replace(/\+.*$/, ""));
  }

  function renderProject(doc, version, releaseDoc) {
    var info = (releaseDoc && releaseDoc.info) || doc.info || {};
    var latest = doc.info && doc.info.version;
    var files = (releaseDoc && releaseDoc.urls) || doc.releases[version] || [];
    var name = info.name || projectName;
    var pin = version && version !== latest ? "==" + version : "";
    document.title = name + " " + (version || "") + " · Python package index";

    var notices = [];
    if (isYanked(files)) {
      var reason = files.map(function (f) { return f.yanked_reason; }).filter(Boolean)[0];
      notices.push(el("div", { class: "notice yanked", role: "note" },
        el("strong", { text: "Yanked release. " }),
        reason ? "Reason: " + reason : "No reason was given.",
        " Installers skip it unless it is pinned with ==."));
    }
    if (version && latest && version !== latest) {
      notices.push(el("div", { class: "notice" }, "This is not the latest release: ",
        el("a", { href: "./", text: name + " " + latest }), "."));
    }

    var hero = el("section", { class: "hero project-hero" },
      el("nav", { class: "crumbs", "aria-label": "Breadcrumb" }, el("a", { href: "../", text: "All projects" }), " / ", name),
      el("h1", null, name, version ? [" ", el("span", { class: "version", text: version })] : null),
      info.summary ? el("p", { class: "summary", text: info.summary }) : null,
      notices,
      el("div", { class: "install", role: "group", "aria-label": "Install" },
        command("pip", "pip install --index-url " + indexUrl.href + " " + name + pin),
        command("uv", "uv pip install --index-url " + indexUrl.href + " " + name + pin)));

    var readme = el("article", { class: "readme", id: "description", "aria-label": "Project description" });
    if (info.description_html) {
      insertReadme(readme, info.description_html);
    } else {
      readme.append(el("p", { class: "muted", text: doc.simpleOnly
        ? "No description: this project was published before the index showed them (s3pypi reindex adds them)."
        : "No description." }));
    }

    var aside = el("aside", { class: "sidebar" },
      metaSection(info, files),
      linksSection(info),
      dependencySection(info),
      versionsSection(doc, version));

    main.replaceChildren(hero,
      el("div", { class: "columns" }, el("div", { class: "content" }, readme, filesSection(files, version)), aside));
  }

  function metaSection(info, files) {
    var rows = [];
    function row(label, value) {
      if (value) rows.push(el("dt", { text: label }), el("dd", null, value));
    }
    var requiresPython = info.requires_python || (files.filter(function (f) { return f.requires_python; })[0] || {}).requires_python;
    row("Requires-Python", requiresPython ? el("code", { text: requiresPython }) : null);
    row("Released", firstUpload(files) ? timeElement(firstUpload(files)) : null);
    row("License", info.license_expression || (info.license && info.license.length < 80 ? info.license : null));
    row("Author", info.author || info.author_email);
    row("Maintainer", info.maintainer || info.maintainer_email);
    if (!rows.length) return null;
    return el("section", { "aria-labelledby": "meta-title" }, el("h2", { id: "meta-title", text: "Details" }), el("dl", { class: "meta" }, rows));
  }

  function linksSection(info) {
    var urls = info.project_urls || {};
    var labels = Object.keys(urls).filter(function (label) { return /^https?:\/\//i.test(urls[label]); });
    if (!labels.length) return null;
    return el("section", { "aria-labelledby": "links-title" },
      el("h2", { id: "links-title", text: "Links" }),
      el("ul", { class: "links" }, labels.map(function (label) {
        return el("li", null, el("a", { href: urls[label], rel: "nofollow noopener noreferrer", text: label }));
      })));
  }

  // Requires-Dist, grouped by extra; names that this index has link to their project.
  function dependencySection(info) {
    var requirements = info.requires_dist || [];
    if (!requirements.length) return null;
    var groups = {};
    var order = [];
    var links = [];
    requirements.forEach(function (requirement) {
      var match = /^\s*([A-Za-z0-9][A-Za-z0-9._-]*)\s*(\[[^\]]*\])?\s*([^;]*)(?:;\s*(.*))?$/.exec(requirement);
      if (!match) return;
      var marker = (match[4] || "").trim();
      var extra = /extra\s*==\s*["']([^"']+)["']/.exec(marker);
      var group = extra ? extra[1] : "";
      marker = marker.replace(/\s*(and\s+)?extra\s*==\s*["'][^"']+["']/, "").replace(/^and\s+/, "").trim();
      if (!groups[group]) { groups[group] = []; order.push(group); }
      var target = normalize(match[1]);
      var nameNode = el("span", { class: "dep-name", "data-project": target, text: match[1] });
      links.push(nameNode);
      groups[group].push(el("li", null, nameNode,
        match[2] ? el("span", { class: "muted", text: match[2] }) : null,
        match[3].trim() ? el("code", { class: "spec", text: " " + match[3].trim() }) : null,
        marker ? el("span", { class: "marker muted", text: " ; " + marker }) : null));
    });
    order.sort(function (a, b) { return a === "" ? -1 : b === "" ? 1 : a < b ? -1 : 1; });
    linkKnownProjects(links);
    return el("section", { "aria-labelledby": "deps-title" },
      el("h2", { id: "deps-title", text: "Dependencies" }),
      order.map(function (group) {
        return [group ? el("h3", { text: "Extra: " + group }) : null, el("ul", { class: "deps" }, groups[group])];
      }));
  }

  function linkKnownProjects(nodes) {
    if (!nodes.length) return;
    simplePage(indexUrl).then(function (page) {
      var known = {};
      (page.projects || []).forEach(function (p) { known[normalize(p.name)] = true; });
      return function (name) { return Promise.resolve(!!known[name]); };
    }, function () {
      // No project list: ask for each project's document.
      return function (name) {
        return fetch(new URL(encodeURIComponent(name) + "/json", indexUrl), { method: "HEAD", cache: "no-cache" })
          .then(function (r) { return r.ok; }, function () { return false; });
      };
    }).then(function (isKnown) {
      nodes.forEach(function (node) {
        var target = node.getAttribute("data-project");
        isKnown(target).then(function (known) {
          if (!known) return;
          var link = el("a", { class: "dep-name", href: "../" + encodeURIComponent(target) + "/", text: node.textContent });
          node.replaceWith(link);
        });
      });
    });
  }

  function versionsSection(doc, current) {
    var versions = Object.keys(doc.releases || {}).reverse();  // the documents list them oldest first
    return el("section", { "aria-labelledby": "versions-title" },
      el("h2", { id: "versions-title", text: "Versions" }),
      el("ol", { class: "versions", reversed: true }, versions.map(function (version) {
        var files = doc.releases[version];
        var yanked = isYanked(files);
        var reason = yanked ? files.map(function (f) { return f.yanked_reason; }).filter(Boolean)[0] : null;
        return el("li", { class: version === current ? "current" : null, "aria-current": version === current ? "page" : null },
          el("a", { href: "?version=" + encodeURIComponent(version), text: version }),
          isPrerelease(version) ? el("span", { class: "badge", text: "pre-release" }) : null,
          yanked ? el("span", { class: "badge yanked", title: reason || "yanked", text: "yanked" }) : null,
          " ", timeElement(firstUpload(files)),
          reason ? el("span", { class: "reason", text: reason }) : null);
      })));
  }

  function filesSection(files, version) {
    return el("section", { class: "files", "aria-labelledby": "files-title" },
      el("h2", { id: "files-title", text: "Files" + (version ? " of " + version : "") }),
      files.length ? el("ul", { class: "file-list" }, files.map(function (file) {
        var sha256 = (file.digests || {}).sha256;
        var href = file.url || encodeURIComponent(file.filename);
        return el("li", { class: "file" + (file.yanked ? " is-yanked" : "") },
          el("div", { class: "file-head" },
            el("a", { class: "filename", href: href, download: file.filename, text: file.filename }),
            el("span", { class: "badge", text: file.packagetype === "bdist_wheel" ? "wheel" : "source" }),
            file.yanked ? el("span", { class: "badge yanked", text: "yanked" }) : null),
          el("div", { class: "file-meta muted" },
            el("span", { text: formatSize(file.size) }),
            file.upload_time_iso_8601 ? [" · uploaded ", timeElement(file.upload_time_iso_8601)] : null,
            file.requires_python ? [" · Requires-Python ", el("code", { text: file.requires_python })] : null),
          sha256 ? el("div", { class: "hash" },
            el("span", { class: "hash-label", text: "SHA256" }),
            el("code", { text: sha256 }),
            copyButton(sha256, "Copy the SHA256 of " + file.filename)) : null);
      })) : el("p", { class: "muted", text: "No files." }));
  }

  // A README: sanitised at publish time (readme_renderer, nh3); parsed here without running
  // anything and cleaned again, so that even a page written by hand into the bucket cannot
  // run script or load from elsewhere.
  var DROPPED = "script,style,iframe,frame,frameset,object,embed,applet,form,input,button,textarea,select,option,link,meta,base,svg,math,template,noscript";

  function insertReadme(container, html) {
    var parsed = new DOMParser().parseFromString("<!DOCTYPE html><body>" + html, "text/html");
    parsed.querySelectorAll(DROPPED).forEach(function (node) { node.remove(); });
    parsed.body.querySelectorAll("*").forEach(function (node) {
      Array.prototype.slice.call(node.attributes).forEach(function (attribute) {
        var name = attribute.name.toLowerCase();
        if (/^on/.test(name) || name === "style" || name === "srcset" || name === "srcdoc" || name === "formaction") {
          node.removeAttribute(attribute.name);
        } else if ((name === "href" || name === "src" || name === "xlink:href") && !safeUrl(attribute.value, name === "src")) {
          node.removeAttribute(attribute.name);
        }
      });
      if (node.tagName === "A" && node.hasAttribute("href")) {
        node.setAttribute("rel", "nofollow noopener noreferrer");
      }
      if (node.tagName === "IMG" && node.hasAttribute("src") && new URL(node.getAttribute("src"), location.href).origin !== location.origin && !/^data:/i.test(node.getAttribute("src"))) {
        // Not loaded (nothing from elsewhere): a link to the image instead.
        node.replaceWith(el("a", { class: "external-image", href: node.getAttribute("src"), rel: "nofollow noopener noreferrer", text: node.getAttribute("alt") || "image" }));
      }
    });
    var nodes = Array.prototype.slice.call(parsed.body.childNodes);
    container.replaceChildren.apply(container, nodes.map(function (node) { return document.adoptNode(node); }));
  }

  function safeUrl(value, isImage) {
    var url;
    try {
      url = new URL(value, location.href);
    } catch (error) {
      return false;
    }
    if (url.protocol === "http:" || url.protocol === "https:" || url.protocol === "mailto:") return true;
    return isImage && /^data:image\/(png|gif|jpeg|webp);/i.test(value);
  }

  if (projectName) showProject(); else showIndex();
})();
