/* The attribute picker: every box marked data-picky-template gets an "Insert field" button
   that opens what templates can read there (the sample payload's tree, the variables of
   earlier actions, the contact, counters, now, meta: the page's #picky-paths, written by
   the server) and puts the chosen {{ path }} at the cursor. Boxes added later (rows of a
   list, a filter's conditions) get their button too. Everything shown is text, never HTML:
   the sample holds whatever senders posted. */
(function () {
  "use strict";
  var groups = null;
  var panel = null;

  function readGroups() {
    if (groups === null) {
      var script = document.getElementById("picky-paths");
      try {
        groups = script ? JSON.parse(script.textContent) : [];
      } catch (error) {
        groups = [];
      }
    }
    return groups;
  }

  // Every node, depth first: {path, template, label, kind, sample, group}.
  function flatNodes() {
    var found = [];
    function walk(nodes, group) {
      nodes.forEach(function (node) {
        found.push({path: node.path, template: node.template, label: node.label,
          kind: node.kind || "", sample: node.sample, group: group});
        walk(node.children || [], group);
      });
    }
    readGroups().forEach(function (group) { walk(group.nodes || [], group.label); });
    return found;
  }

  function make(tag, className, text) {
    var element = document.createElement(tag);
    if (className) element.className = className;
    if (text !== undefined && text !== null) element.textContent = String(text);
    return element;
  }

  function insertAt(box, text) {
    var start = typeof box.selectionStart === "number" ? box.selectionStart : box.value.length;
    var end = typeof box.selectionEnd === "number" ? box.selectionEnd : start;
    box.value = box.value.slice(0, start) + text + box.value.slice(end);
    var caret = start + text.length;
    box.focus();
    if (box.setSelectionRange) box.setSelectionRange(caret, caret);
    box.dispatchEvent(new Event("input", {bubbles: true}));
    box.dispatchEvent(new Event("change", {bubbles: true}));
  }

  function close() {
    if (panel) {
      panel.remove();
      panel = null;
    }
  }

  function nodeList(nodes, box, depth) {
    var list = make("ul", "picky-attr-list");
    nodes.forEach(function (node) {
      var item = make("li", "picky-attr-node");
      item.dataset.path = node.path.toLowerCase();
      var choose = make("button", "picky-attr-choose");
      choose.type = "button";
      choose.dataset.template = node.template;
      choose.appendChild(make("span", "picky-key", node.label));
      choose.appendChild(make("code", "picky-template", node.template));
      if (node.sample !== undefined && node.sample !== null) {
        choose.appendChild(make("span", "picky-sample", node.sample));
      } else if (node.kind && node.kind !== "value") {
        choose.appendChild(make("span", "picky-kind", node.kind));
      }
      choose.addEventListener("click", function () {
        close();
        insertAt(box, node.template);
      });
      item.appendChild(choose);
      if (node.children && node.children.length) {
        item.appendChild(nodeList(node.children, box, depth + 1));
      }
      list.appendChild(item);
    });
    return list;
  }

  function filter(term) {
    term = term.trim().toLowerCase();
    panel.querySelectorAll(".picky-attr-node").forEach(function (item) {
      var match = !term || item.dataset.path.indexOf(term) !== -1 ||
        item.querySelector(".picky-attr-node[data-path*='" + CSS.escape(term) + "']");
      item.hidden = !match;
    });
  }

  function open(box, button) {
    close();
    panel = make("div", "picky-attr-panel");
    panel.setAttribute("role", "dialog");
    panel.setAttribute("aria-label", "Insert a field");
    var search = make("input", "picky-attr-search");
    search.type = "search";
    search.placeholder = "Search fields…";
    search.addEventListener("input", function () { filter(search.value); });
    search.addEventListener("keydown", function (event) {
      if (event.key === "Escape") close();
      if (event.key === "Enter") event.preventDefault();
    });
    panel.appendChild(search);
    var shown = readGroups();
    if (!shown.length) {
      panel.appendChild(make("p", "picky-empty", "No fields known here yet."));
    }
    shown.forEach(function (group) {
      if (!group.nodes || !group.nodes.length) return;
      var section = make("div", "picky-attr-group");
      section.appendChild(make("h4", "", group.label));
      section.appendChild(nodeList(group.nodes, box, 0));
      panel.appendChild(section);
    });
    if (!readGroups()[0] || !(readGroups()[0].nodes || []).length) {
      panel.insertBefore(make("p", "picky-empty",
        "No sample payload yet: send an event to the connector URL to see its fields."),
      panel.children[1] || null);
    }
    button.insertAdjacentElement("afterend", panel);
    search.focus();
  }

  function attach(box) {
    if (box.dataset.pickyAttrAttached) return;
    box.dataset.pickyAttrAttached = "1";
    var button = make("button", "button picky-insert", "{ }");
    button.type = "button";
    button.title = "Insert a field of the sample payload or an earlier action";
    button.setAttribute("aria-label", "Insert a field");
    button.addEventListener("click", function (event) {
      event.preventDefault();
      if (panel && panel.previousElementSibling === button) {
        close();
      } else {
        open(box, button);
      }
    });
    box.insertAdjacentElement("afterend", button);
  }

  function scan(root) {
    if (root.matches && root.matches("[data-picky-template]")) attach(root);
    if (root.querySelectorAll) root.querySelectorAll("[data-picky-template]").forEach(attach);
  }

  document.addEventListener("mousedown", function (event) {
    if (panel && !panel.contains(event.target) &&
        !(event.target.classList && event.target.classList.contains("picky-insert"))) {
      close();
    }
  });
  document.addEventListener("keydown", function (event) {
    if (panel && event.key === "Escape") close();
  });

  function init() {
    scan(document);
    new MutationObserver(function (changes) {
      changes.forEach(function (change) {
        change.addedNodes.forEach(function (node) {
          if (node.nodeType === 1) scan(node);
        });
      });
    }).observe(document.body, {childList: true, subtree: true});
  }

  window.PickyPaths = {groups: readGroups, flat: flatNodes};
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }
})();
