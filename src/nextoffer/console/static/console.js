/* nextoffer console: credentials as the API's headers, navigation, and forms that write
   through the JSON API. No inline script anywhere (the CSP forbids it); htmx loads fragments. */
(function () {
  "use strict";

  const STORE = "nextoffer.console";
  const body = document.body;
  const openMode = body.dataset.openMode === "true";
  const content = document.getElementById("content");
  const signIn = document.getElementById("sign-in");
  const tenantForm = document.getElementById("tenant");
  const orgSelect = document.getElementById("tenant-org");
  const sandboxSelect = document.getElementById("tenant-sandbox");
  let state = read();
  let grants = [];

  function read() {
    try {
      return JSON.parse(sessionStorage.getItem(STORE)) || {};
    } catch (_err) {
      return {};
    }
  }

  function keep() {
    sessionStorage.setItem(STORE, JSON.stringify(state));
  }

  /* -- the API's headers, on every htmx request and every fetch ------------------------- */

  function headers(extra) {
    const out = Object.assign({}, extra || {});
    if (state.token) out["Authorization"] = "Bearer " + state.token;
    if (state.apiKey) out["x-api-key"] = state.apiKey;
    if (state.org) out["x-gw-ims-org-id"] = state.org;
    if (state.sandbox) out["x-sandbox-name"] = state.sandbox;
    return out;
  }

  body.addEventListener("htmx:configRequest", function (event) {
    Object.assign(event.detail.headers, headers());
  });
  body.addEventListener("htmx:beforeRequest", function (event) {
    if (event.detail.target === content) content.setAttribute("aria-busy", "true");
  });
  body.addEventListener("htmx:afterRequest", function (event) {
    if (event.detail.target === content) content.removeAttribute("aria-busy");
  });

  async function api(method, url, payload, extra) {
    const init = { method: method, headers: headers(extra) };
    if (payload !== undefined) {
      init.body = JSON.stringify(payload);
      init.headers["Content-Type"] = "application/json";
    }
    let response;
    try {
      response = await fetch(url, init);
    } catch (err) {
      return { status: 0, ok: false, body: { title: "Network error", detail: String(err) } };
    }
    const text = await response.text();
    let parsed = null;
    try {
      parsed = text ? JSON.parse(text) : null;
    } catch (_err) {
      parsed = { title: "Unexpected answer", detail: text.slice(0, 200) };
    }
    return { status: response.status, ok: response.ok, body: parsed };
  }
  window.nextofferConsole = { api: api, headers: headers, go: go };

  /* -- navigation: links and filter forms load fragments; the address bar follows ----- */

  function fragmentUrl(href) {
    const url = new URL(href, location.href);
    return "/console/fragments" + url.pathname.slice("/console".length) + url.search;
  }

  function loadContent(href) {
    return htmx.ajax("GET", fragmentUrl(href), { target: "#content", swap: "innerHTML" });
  }

  function go(href) {
    history.pushState({}, "", href);
    return loadContent(href).then(function () {
      content.focus({ preventScroll: false });
    });
  }

  function isConsoleLink(url) {
    return (
      url.origin === location.origin &&
      (url.pathname === "/console" || url.pathname.startsWith("/console/")) &&
      !url.pathname.startsWith("/console/static/")
    );
  }

  document.addEventListener("click", function (event) {
    const link = event.target.closest("a[href]");
    if (!link || event.defaultPrevented || event.button !== 0) return;
    if (event.metaKey || event.ctrlKey || event.shiftKey || event.altKey || link.target) return;
    const url = new URL(link.href, location.href);
    if (!isConsoleLink(url) || url.hash && url.pathname === location.pathname) return;
    event.preventDefault();
    closeNav();
    go(url.pathname + url.search);
  });

  window.addEventListener("popstate", function () {
    loadContent(location.href);
  });

  function markCurrent() {
    const here = location.pathname;
    document.querySelectorAll("#nav a").forEach(function (a) {
      const path = new URL(a.href).pathname;
      const current = here === path || here.startsWith(path + "/");
      if (current) a.setAttribute("aria-current", "page");
      else a.removeAttribute("aria-current");
    });
  }

  body.addEventListener("htmx:afterSwap", function (event) {
    if (event.detail.target !== content) return;
    markCurrent();
    const h1 = content.querySelector("h1");
    document.title = (h1 ? h1.textContent.replace(/\s+/g, " ").trim() + " · " : "") + "nextoffer console";
  });

  body.addEventListener("htmx:sendError", function () {
    content.innerHTML = "";
    const p = document.createElement("p");
    p.className = "error";
    p.setAttribute("role", "alert");
    p.textContent = "The server did not answer. Is nextoffer still running?";
    content.appendChild(p);
  });

  const navToggle = document.getElementById("nav-toggle");
  function closeNav() {
    document.getElementById("nav").classList.remove("open");
    navToggle.setAttribute("aria-expanded", "false");
  }
  navToggle.addEventListener("click", function () {
    const nav = document.getElementById("nav");
    const open = nav.classList.toggle("open");
    navToggle.setAttribute("aria-expanded", open ? "true" : "false");
  });

  /* -- sign-in, org and sandbox --------------------------------------------------------- */

  function showSignIn(message) {
    signIn.hidden = false;
    content.hidden = true;
    const error = document.getElementById("sign-in-error");
    error.hidden = !message;
    error.textContent = message || "";
    document.getElementById("sign-in-token").focus();
  }

  function showContent() {
    signIn.hidden = true;
    content.hidden = false;
  }

  function option(select, value, label) {
    const o = document.createElement("option");
    o.value = value;
    o.textContent = label || value;
    select.appendChild(o);
    return o;
  }

  function fillTenant() {
    orgSelect.replaceChildren();
    sandboxSelect.replaceChildren();
    const orgs = grants.map(function (g) { return g.org; });
    if (state.org && orgs.indexOf(state.org) < 0) orgs.push(state.org);
    orgs.forEach(function (org) { option(orgSelect, org); });
    orgSelect.value = state.org || "";
    const grant = grants.find(function (g) { return g.org === state.org; });
    const sandboxes = grant ? grant.sandboxes.slice() : [];
    if (state.sandbox && sandboxes.indexOf(state.sandbox) < 0) sandboxes.push(state.sandbox);
    sandboxes.forEach(function (name) { option(sandboxSelect, name); });
    if (!sandboxes.length) option(sandboxSelect, "", "(none)");
    sandboxSelect.value = state.sandbox || "";
    tenantForm.hidden = false;
  }

  async function whoami() {
    const answer = await api("GET", "/v1/whoami");
    if (!answer.ok) return answer;
    grants = answer.body.grants || [];
    if (!state.org || !state.sandbox) {
      const pick = answer.body.default;
      if (pick) {
        state.org = state.org || pick.org;
        state.sandbox = state.sandbox || pick.sandbox;
      }
    }
    keep();
    fillTenant();
    document.getElementById("who").textContent = answer.body.openMode
      ? "open mode"
      : answer.body.user;
    document.getElementById("sign-out").hidden = answer.body.openMode;
    return answer;
  }

  async function start() {
    if (!openMode && !state.token) {
      showSignIn();
      return;
    }
    const answer = await whoami();
    if (answer.status === 401) {
      showSignIn(answer.body && answer.body.detail);
      return;
    }
    showContent();
    markCurrent();
    await loadContent(location.href);
  }

  orgSelect.addEventListener("change", function () {
    state.org = orgSelect.value;
    const grant = grants.find(function (g) { return g.org === state.org; });
    state.sandbox = grant && grant.sandboxes.length ? grant.sandboxes[0] : "";
    keep();
    fillTenant();
    loadContent(location.href);
  });

  sandboxSelect.addEventListener("change", function () {
    state.sandbox = sandboxSelect.value;
    keep();
    loadContent(location.href);
  });

  document.getElementById("sign-out").addEventListener("click", function () {
    sessionStorage.removeItem(STORE);
    state = {};
    grants = [];
    tenantForm.hidden = true;
    content.replaceChildren();
    showSignIn();
  });

  async function submitSignIn(form) {
    const data = new FormData(form);
    state = {
      token: String(data.get("token") || "").trim(),
      apiKey: String(data.get("apiKey") || "").trim(),
      org: String(data.get("org") || "").trim(),
      sandbox: String(data.get("sandbox") || "").trim(),
    };
    const answer = await whoami();
    if (!answer.ok) {
      state = {};
      sessionStorage.removeItem(STORE);
      showSignIn((answer.body && answer.body.detail) || "Sign-in failed");
      return;
    }
    form.reset();
    showContent();
    await loadContent(location.href);
    content.focus();
  }

  /* -- forms that write through the JSON API -------------------------------------------- */

  function unescapePointer(token) {
    return token.replace(/~1/g, "/").replace(/~0/g, "~");
  }

  function converted(el) {
    if (el.multiple) {
      const values = Array.from(el.selectedOptions, function (o) { return o.value; }).filter(Boolean);
      return values.length ? values : undefined;
    }
    const value = el.value;
    if (value === "") return undefined;
    switch (el.dataset.type) {
      case "integer": {
        const n = Number(value);
        return Number.isInteger(n) ? n : value; // the API names what is wrong with it
      }
      case "boolean":
        return value === "true";
      case "datetime":
        return value.length === 16 ? value + ":00Z" : value.length === 19 ? value + "Z" : value;
      case "lines": {
        const lines = value.split("\n").map(function (s) { return s.trim(); }).filter(Boolean);
        return lines.length ? lines : undefined;
      }
      default:
        return value;
    }
  }

  function setAt(root, pointer, value) {
    const parts = pointer.split("/").slice(1).map(unescapePointer);
    let node = root;
    for (let i = 0; i < parts.length - 1; i++) {
      if (node[parts[i]] === undefined) node[parts[i]] = /^\d+$/.test(parts[i + 1]) ? [] : {};
      node = node[parts[i]];
    }
    node[parts[parts.length - 1]] = value;
  }

  function compact(value) {
    if (Array.isArray(value)) {
      return value.filter(function (v) { return v !== undefined; }).map(compact);
    }
    if (value && typeof value === "object") {
      Object.keys(value).forEach(function (k) { value[k] = compact(value[k]); });
    }
    return value;
  }

  function documentOf(form) {
    const doc = {};
    Array.from(form.elements).forEach(function (el) {
      if (!el.name || el.name.charAt(0) !== "/" || el.disabled) return;
      const value = converted(el);
      if (value !== undefined) setAt(doc, el.name, value);
    });
    return compact(doc);
  }

  function clearProblems(scope) {
    scope.querySelectorAll(".field-error").forEach(function (e) { e.remove(); });
    scope.querySelectorAll("[aria-invalid]").forEach(function (el) {
      el.removeAttribute("aria-invalid");
      const described = (el.getAttribute("aria-describedby") || "")
        .split(" ")
        .filter(function (id) { return id && !id.endsWith("-error"); });
      if (described.length) el.setAttribute("aria-describedby", described.join(" "));
      else el.removeAttribute("aria-describedby");
    });
    const box = scope.querySelector(".form-problem");
    if (box) {
      box.hidden = true;
      box.replaceChildren();
    }
  }

  function fieldFor(form, pointer) {
    const exact = Array.from(form.elements).find(function (el) { return el.name === pointer; });
    if (exact) return { input: exact, holder: exact.closest(".field") };
    const group = form.querySelector('[data-group="' + CSS.escape(pointer) + '"]');
    if (group) return { input: group.querySelector("input, select, textarea"), holder: group };
    const inside = Array.from(form.elements).find(function (el) {
      return el.name && el.name.startsWith(pointer + "/");
    });
    if (inside) {
      const item = inside.closest("[data-item]") || inside.closest(".field");
      return { input: inside, holder: item.querySelector("fieldset") || item };
    }
    return null;
  }

  let errorCount = 0;
  function placeError(form, pointer, message) {
    let target = null;
    let at = pointer;
    while (at && !target) {
      target = fieldFor(form, at);
      if (!target) at = at.slice(0, at.lastIndexOf("/"));
    }
    if (!target) return false;
    const p = document.createElement("p");
    p.className = "field-error";
    p.id = "problem-" + ++errorCount + "-error";
    p.textContent = message;
    target.holder.appendChild(p);
    if (target.input) {
      target.input.setAttribute("aria-invalid", "true");
      const described = target.input.getAttribute("aria-describedby");
      target.input.setAttribute("aria-describedby", (described ? described + " " : "") + p.id);
    }
    return true;
  }

  function text(tag, value, className) {
    const el = document.createElement(tag);
    el.textContent = value;
    if (className) el.className = className;
    return el;
  }

  function showProblem(scope, answer, singular) {
    const box = scope.querySelector(".form-problem");
    const problem = answer.body || {};
    box.replaceChildren();
    if (answer.status === 412) {
      box.appendChild(
        text(
          "p",
          "This " + (singular || "object") + " changed since you opened it: someone saved " +
            "another version. Reload it to see the current version (your changes here are " +
            "not saved).",
          "stale"
        )
      );
      const reload = text("button", "Reload");
      reload.type = "button";
      reload.dataset.reload = "";
      box.appendChild(reload);
    } else {
      const head = text("p", "");
      head.appendChild(text("strong", (problem.title || "Not saved") + ": "));
      head.appendChild(document.createTextNode(problem.detail || "the API refused it"));
      box.appendChild(head);
    }
    const rest = [];
    (problem.errors || []).forEach(function (err) {
      const placed = err.pointer && scope.matches("form") && placeError(scope, err.pointer, err.message);
      if (!placed) rest.push(err);
    });
    if (problem.referrers && problem.referrers.length) {
      box.appendChild(referrerList(problem.referrers));
    } else if (rest.length && answer.status !== 412) {
      const list = document.createElement("ul");
      rest.forEach(function (err) {
        const where = scope.matches("form") ? err.pointer || err.parameter || "" : "";
        list.appendChild(text("li", (where ? where + ": " : "") + err.message));
      });
      box.appendChild(list);
    }
    box.hidden = false;
    box.tabIndex = -1;
    const invalid = scope.querySelector("[aria-invalid]");
    (invalid || box).focus();
  }

  /* The objects that still reference one being deleted, named as the page's "Used by"
     list names them. */
  function referrerList(referrers) {
    const list = document.createElement("ul");
    list.className = "referrers";
    referrers.forEach(function (r) {
      const known = Array.from(content.querySelectorAll("a[href^='/console/']")).find(function (a) {
        return a.getAttribute("href").endsWith("/" + r.id);
      });
      const item = document.createElement("li");
      item.appendChild(document.createTextNode(r.kind.replace(/-/g, " ") + " "));
      if (known) {
        const link = text("a", known.textContent);
        link.href = known.getAttribute("href");
        item.appendChild(link);
      } else {
        item.appendChild(text("code", r.id));
      }
      item.appendChild(text("span", " at " + r.pointer, "muted"));
      list.appendChild(item);
    });
    return list;
  }

  function showReceipt(form, receipt) {
    const section = form.parentElement.querySelector("[data-receipt]");
    section.querySelectorAll("[data-r]").forEach(function (dd) {
      dd.textContent = receipt[dd.dataset.r] === undefined ? "" : String(receipt[dd.dataset.r]);
    });
    section.querySelector("[data-r-link]").href = "/console/" + form.dataset.slug + "/" + receipt.id;
    section.hidden = false;
    section.querySelector("h2").setAttribute("tabindex", "-1");
    section.querySelector("h2").focus();
  }

  async function submitForm(form) {
    clearProblems(form);
    const doc = documentOf(form);
    let payload = doc;
    const extra = {};
    if (form.dataset.method === "PATCH") {
      const present = form.dataset.present.split(",").filter(Boolean);
      payload = [];
      form.dataset.keys.split(",").forEach(function (key) {
        if (doc[key] !== undefined) payload.push({ op: "add", path: "/" + key, value: doc[key] });
        else if (present.indexOf(key) >= 0) payload.push({ op: "remove", path: "/" + key });
      });
      extra["If-Match"] = '"' + form.dataset.etag + '"';
    }
    const save = form.querySelector('button[type="submit"]');
    save.disabled = true;
    try {
      const answer = await api(form.dataset.method, form.dataset.url, payload, extra);
      if (!answer.ok) {
        showProblem(form, answer, form.dataset.singular);
        return;
      }
      if (form.dataset.method === "POST") {
        form.hidden = true;
      } else {
        form.dataset.etag = String(answer.body.etag);
        form.dataset.present = Object.keys(doc).join(",");
      }
      showReceipt(form, answer.body);
    } finally {
      save.disabled = false;
    }
  }

  document.addEventListener("submit", function (event) {
    const form = event.target;
    if (form.id === "sign-in-form") {
      event.preventDefault();
      submitSignIn(form);
    } else if (form.matches("[data-nav-form]")) {
      event.preventDefault();
      const params = new URLSearchParams();
      new FormData(form).forEach(function (value, key) {
        if (value !== "") params.append(key, value);
      });
      const query = params.toString();
      go(form.getAttribute("action") + (query ? "?" + query : ""));
    } else if (form.matches("[data-api-form]")) {
      event.preventDefault();
      submitForm(form);
    }
  });

  /* -- repeated groups (representations, their content, criteria) ----------------------- */

  function pointerId(pointer) {
    return "f" + pointer.replace(/~1|~0/g, "_").replace(/\//g, "-").replace(/:/g, "_");
  }

  function escapeRe(s) {
    return s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
  }

  function renumber(group) {
    const prefix = group.dataset.group;
    const idPrefix = pointerId(prefix);
    const items = group.querySelector(":scope > [data-items]").querySelectorAll(":scope > [data-item]");
    items.forEach(function (item, i) {
      const byName = new RegExp(escapeRe(prefix) + "/(\\d+|__\\d+__)(?=/|$|\")", "g");
      const byId = new RegExp(escapeRe(idPrefix) + "-(\\d+|__\\d+__)(?=-|$|\\s|\")", "g");
      const fix = function (value) {
        return value.replace(byName, prefix + "/" + i).replace(byId, idPrefix + "-" + i);
      };
      item.querySelectorAll("*").forEach(function (el) {
        ["name", "id", "for", "aria-describedby", "data-group"].forEach(function (attr) {
          const value = el.getAttribute(attr);
          if (value) el.setAttribute(attr, fix(value));
        });
        if (el.tagName === "TEMPLATE") el.innerHTML = fix(el.innerHTML);
      });
      const legend = item.querySelector(":scope > fieldset > [data-item-legend]");
      const label = group.dataset.label;
      legend.textContent = label.charAt(0).toUpperCase() + label.slice(1) + " " + (i + 1);
    });
  }

  document.addEventListener("click", function (event) {
    const add = event.target.closest("[data-add]");
    if (add) {
      const group = add.closest("[data-group]");
      const items = group.querySelector(":scope > [data-items]");
      const index = items.querySelectorAll(":scope > [data-item]").length;
      const template = group.querySelector(":scope > template");
      const fresh = document.createElement("template");
      fresh.innerHTML = template.innerHTML.split("__" + group.dataset.depth + "__").join(String(index));
      items.appendChild(fresh.content);
      renumber(group);
      const added = items.querySelectorAll(":scope > [data-item]")[index];
      const first = added.querySelector("input, select, textarea");
      if (first) first.focus();
      return;
    }
    const remove = event.target.closest("[data-remove]");
    if (remove) {
      const group = remove.closest("[data-group]");
      remove.closest("[data-item]").remove();
      renumber(group);
      group.querySelector(":scope > [data-add]").focus();
      return;
    }
    if (event.target.closest("[data-action=sign-in]")) {
      showSignIn();
      return;
    }
    const reload = event.target.closest("[data-reload]");
    if (reload) {
      const owner = reload.closest("[data-reload-url]") || content.querySelector("[data-api-form]");
      loadContent(owner ? owner.dataset.reloadUrl : location.href);
      return;
    }
    const deleter = event.target.closest("[data-delete]");
    if (deleter) handleDelete(deleter, event.target);
    const status = event.target.closest("[data-status]");
    if (status) changeStatus(status.closest("[data-status-change]"), status.dataset.status);
  });

  /* A detail page's status buttons: one JSON Patch, with If-Match, then the page again. */
  async function changeStatus(scope, target) {
    clearProblems(scope);
    const answer = await api(
      "PATCH",
      scope.dataset.url,
      [{ op: "replace", path: "/status", value: target }],
      { "If-Match": '"' + scope.dataset.etag + '"' }
    );
    if (answer.ok) loadContent(scope.dataset.reloadUrl);
    else showProblem(scope, answer, "object");
  }

  async function handleDelete(scope, target) {
    const confirmBox = scope.querySelector("[data-delete-confirm]");
    if (target.closest("[data-delete-ask]")) {
      confirmBox.hidden = false;
      scope.querySelector("[data-delete-go]").focus();
    } else if (target.closest("[data-delete-cancel]")) {
      confirmBox.hidden = true;
      scope.querySelector("[data-delete-ask]").focus();
    } else if (target.closest("[data-delete-go]")) {
      clearProblems(scope);
      const answer = await api("DELETE", scope.dataset.url, undefined, {
        "If-Match": '"' + scope.dataset.etag + '"',
      });
      if (answer.ok) go(scope.dataset.done);
      else showProblem(scope, answer, "object");
    }
  }

  /* -- a representation's channel and content follow the placement chosen ---------------- */

  const FORMATS = { html: "text/html", text: "text/plain", json: "application/json", imagelink: "image/png" };

  document.addEventListener("change", function (event) {
    const el = event.target;
    if (!el.name || el.name.charAt(0) !== "/") return;
    const item = el.closest("[data-item]");
    if (!item) return;
    if (/\/placement$/.test(el.name) && el.selectedOptions[0]) {
      const chosen = el.selectedOptions[0].dataset;
      const channel = item.querySelector('select[name$="/channel"]');
      if (channel && chosen.channel) {
        if (!Array.from(channel.options).some(function (o) { return o.value === chosen.channel; })) {
          option(channel, chosen.channel);
        }
        channel.value = chosen.channel;
      }
      item.querySelectorAll('select[name$="/type"]').forEach(function (type) {
        if (!type.value && chosen.componentType) {
          type.value = chosen.componentType;
          type.dispatchEvent(new Event("change", { bubbles: true }));
        }
      });
    } else if (/\/components\/\d+\/type$/.test(el.name)) {
      const format = item.querySelector('input[name="' + el.name.replace(/type$/, "format") + '"]');
      if (format && !format.value && FORMATS[el.value]) format.value = FORMATS[el.value];
    }
  });

  start();
})();
