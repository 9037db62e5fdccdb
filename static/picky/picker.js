/* Pickers: a box with data-picky-picker-url offers the project's names (channels, tags,
   members, ...) as the user types, in a list under it; clicking one, or choosing it with
   the arrow keys and Enter, puts it in the box. The box stays free text, so a template
   ({{ event.channel }}) is still allowed. A box with data-picky-picker-multiple holds a
   comma-separated list: the chosen name replaces the part being typed. Boxes added to
   the page later (rows of a list) work too: the listeners are on the document. */
(function () {
  "use strict";
  var DELAY_MS = 150;
  var open = null; // {box, list, names, active}
  var timer = null;
  var asked = 0;
  var chosenIn = null; // the box a name was just put in: its focus asks nothing

  function isPicker(element) {
    return element && element.matches && element.matches("input[data-picky-picker-url]");
  }

  function typedPart(box) {
    if (!box.hasAttribute("data-picky-picker-multiple")) {
      return box.value.trim();
    }
    var parts = box.value.split(",");
    return parts[parts.length - 1].trim();
  }

  function choose(box, name) {
    if (box.hasAttribute("data-picky-picker-multiple")) {
      var parts = box.value.split(",").map(function (part) { return part.trim(); });
      parts[parts.length - 1] = name;
      box.value = parts.filter(function (part) { return part !== ""; }).join(", ");
    } else {
      box.value = name;
    }
    box.dispatchEvent(new Event("input", {bubbles: true}));
    box.dispatchEvent(new Event("change", {bubbles: true}));
    // Answers still on their way (typing before the click) must not open the list again.
    clearTimeout(timer);
    asked++;
    close();
    chosenIn = box;
    box.focus();
  }

  function close() {
    if (open) {
      open.list.remove();
      open = null;
    }
  }

  function highlight(index) {
    if (!open || !open.names.length) {
      return;
    }
    open.active = (index + open.names.length) % open.names.length;
    Array.prototype.forEach.call(open.list.children, function (item, position) {
      item.classList.toggle("picky-picker-active", position === open.active);
      item.setAttribute("aria-selected", position === open.active ? "true" : "false");
    });
  }

  function show(box, names) {
    close();
    if (!names.length || document.activeElement !== box) {
      return;
    }
    var list = document.createElement("ul");
    list.className = "picky-picker-list";
    list.setAttribute("role", "listbox");
    names.forEach(function (name) {
      var item = document.createElement("li");
      item.setAttribute("role", "option");
      item.textContent = name; // text, never HTML: names are the users' own
      item.addEventListener("mousedown", function (event) {
        event.preventDefault(); // keep the focus in the box
        choose(box, name);
      });
      list.appendChild(item);
    });
    // Under the box, whatever wraps it (a row with buttons): placed in its offset parent.
    var parent = box.offsetParent || document.body;
    list.style.left = box.offsetLeft + "px";
    list.style.top = box.offsetTop + box.offsetHeight + "px";
    list.style.minWidth = box.offsetWidth + "px";
    parent.appendChild(list);
    open = {box: box, list: list, names: names, active: -1};
  }

  function ask(box) {
    var number = ++asked;
    var url = box.getAttribute("data-picky-picker-url") + "&term=" +
      encodeURIComponent(typedPart(box));
    fetch(url, {credentials: "same-origin", headers: {"Accept": "application/json"}})
      .then(function (response) { return response.ok ? response.json() : {results: []}; })
      .then(function (answer) {
        if (number === asked) {
          show(box, answer.results || []);
        }
      })
      .catch(function () { close(); });
  }

  document.addEventListener("focusin", function (event) {
    var chosen = chosenIn;
    chosenIn = null;
    if (isPicker(event.target) && event.target !== chosen) {
      ask(event.target);
    }
  });
  document.addEventListener("input", function (event) {
    var box = event.target;
    if (!isPicker(box) || !event.isTrusted) {
      return;
    }
    clearTimeout(timer);
    timer = setTimeout(function () { ask(box); }, DELAY_MS);
  });
  document.addEventListener("focusout", function (event) {
    if (open && event.target === open.box) {
      close();
    }
  });
  document.addEventListener("keydown", function (event) {
    if (!open || event.target !== open.box) {
      return;
    }
    if (event.key === "ArrowDown" || event.key === "ArrowUp") {
      event.preventDefault();
      highlight(open.active + (event.key === "ArrowDown" ? 1 : -1));
    } else if (event.key === "Enter" && open.active >= 0) {
      event.preventDefault(); // choose, not submit the form
      choose(open.box, open.names[open.active]);
    } else if (event.key === "Escape") {
      close();
    }
  });
})();
