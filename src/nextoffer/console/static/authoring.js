/* nextoffer console: PQL boxes (a rule's Condition, a ranking formula's Formula) checked as the
   author types, through POST /v1/pql/check: errors with line, column and a caret under the
   offending text, or the profile and context paths the text reads. Nothing is saved by
   checking; the API refuses to save a text that does not compile. No inline script (CSP). */
(function () {
  "use strict";

  const EDITORS = { "/condition/value": "rule", "/expression/value": "formula" };
  const DELAY_MS = 300;
  const timers = new WeakMap();
  const latest = new WeakMap();

  function kindOf(box) {
    if (!box || box.tagName !== "TEXTAREA" || !box.closest("form[data-api-form]")) return null;
    return EDITORS[box.name] || null;
  }

  function el(tag, text, className) {
    const node = document.createElement(tag);
    if (text !== undefined && text !== null) node.textContent = text;
    if (className) node.className = className;
    return node;
  }

  function panelFor(box) {
    const id = box.id + "-check";
    let panel = document.getElementById(id);
    if (!panel) {
      panel = el("div", null, "pql-check");
      panel.id = id;
      panel.setAttribute("aria-live", "polite");
      panel.dataset.pqlCheck = box.name;
      box.closest(".field").appendChild(panel);
      const described = box.getAttribute("aria-describedby");
      box.setAttribute("aria-describedby", (described ? described + " " : "") + id);
    }
    return panel;
  }

  function readsList(reads) {
    const list = el("ul", null, "pql-reads");
    const groups = [
      ["Profile", (reads.profile || []).map(function (p) { return p; })],
      ["Context", (reads.context || []).map(function (c) { return "@{" + c.type + "}." + c.path; })],
      ["Audiences", reads.audiences || []],
      ["Experience events", (reads.events || []).map(function (p) { return "xEvent." + p; })],
      ["Offer", (reads.offer || []).map(function (p) { return "offer." + p; })],
      ["Aliases", (reads.aliases || []).map(function (a) { return a.alias + "." + a.path; })],
    ];
    groups.forEach(function (group) {
      if (!group[1].length) return;
      const item = el("li");
      item.appendChild(el("strong", group[0] + ": "));
      group[1].forEach(function (path, i) {
        if (i) item.appendChild(document.createTextNode(", "));
        item.appendChild(el("code", path));
      });
      list.appendChild(item);
    });
    return list;
  }

  function show(box, kind, answer) {
    const panel = panelFor(box);
    panel.replaceChildren();
    const noun = kind === "formula" ? "formula" : "condition";
    if (!answer.ok) {
      const problem = answer.body || {};
      panel.appendChild(
        el("p", "Could not check the " + noun + ": " + (problem.detail || problem.title || answer.status), "pql-unchecked")
      );
      return;
    }
    const result = answer.body;
    if (result.valid) {
      box.removeAttribute("data-pql-invalid");
      panel.dataset.state = "valid";
      panel.appendChild(el("p", "The " + noun + " is valid.", "pql-ok"));
      const reads = readsList(result.reads || {});
      if (reads.children.length) {
        panel.appendChild(el("p", "It reads:", "pql-reads-title"));
        panel.appendChild(reads);
      } else {
        panel.appendChild(el("p", "It reads no profile or context data.", "muted"));
      }
      return;
    }
    box.setAttribute("data-pql-invalid", "");
    panel.dataset.state = "invalid";
    (result.errors || []).forEach(function (error) {
      const head = el("p", null, "pql-error");
      head.appendChild(el("strong", "Line " + error.line + ", column " + error.column + ": "));
      head.appendChild(document.createTextNode(error.message));
      panel.appendChild(head);
      const caret = el("pre", error.excerpt, "pql-caret");
      caret.setAttribute("aria-label", "Line " + error.line + " with a caret under column " + error.column);
      panel.appendChild(caret);
      if (error.hint && error.hint !== error.message) {
        panel.appendChild(el("p", "Hint: " + error.hint, "hint"));
      }
    });
  }

  async function check(box) {
    const kind = kindOf(box);
    if (!kind) return;
    const text = box.value;
    const serial = (latest.get(box) || 0) + 1;
    latest.set(box, serial);
    if (!text.trim()) {
      const panel = document.getElementById(box.id + "-check");
      if (panel) {
        panel.replaceChildren();
        delete panel.dataset.state;
      }
      return;
    }
    const answer = await window.nextofferConsole.api("POST", "/v1/pql/check", {
      condition: text,
      kind: kind,
    });
    if (latest.get(box) !== serial || !box.isConnected) return; // a newer text is being checked
    show(box, kind, answer);
  }

  document.addEventListener("input", function (event) {
    const box = event.target;
    if (!kindOf(box)) return;
    clearTimeout(timers.get(box));
    timers.set(box, setTimeout(function () { check(box); }, DELAY_MS));
  });

  /* An edit form opens with its current text checked. */
  document.body.addEventListener("htmx:afterSwap", function () {
    Object.keys(EDITORS).forEach(function (name) {
      document.querySelectorAll('form[data-api-form] textarea[name="' + name + '"]').forEach(function (box) {
        if (box.value.trim()) check(box);
      });
    });
  });
})();
