/* The builder's forms: a JSON textarea marked data-picky-builder (filters, delay, iterator,
   mapping) or data-picky-rows (list, map) is shown as a form, and every change writes the
   JSON back into the textarea, which stays what the page submits: the server reads and
   checks it as it reads typed JSON. "Edit as JSON" shows the textarea itself; going back
   to the form reads it again, and JSON the form cannot show (or that does not parse)
   stays in the box with the reason beside it, never lost. */
(function () {
  "use strict";
  var NUMBER = /^[+-]?\d+(\.\d+)?$/;
  var UNITS = [["minutes", "minutes"], ["hours", "hours"], ["days", "days"], ["weeks", "weeks"]];

  function make(tag, props, children) {
    var element = document.createElement(tag);
    Object.keys(props || {}).forEach(function (key) {
      if (key === "text") element.textContent = props[key];
      else if (key === "className") element.className = props[key];
      else if (key.indexOf("data-") === 0 || key === "list" || key === "aria-label") {
        element.setAttribute(key, props[key]);
      } else element[key] = props[key];
    });
    (children || []).forEach(function (child) {
      if (child !== null && child !== undefined) {
        element.appendChild(typeof child === "string" ? document.createTextNode(child) : child);
      }
    });
    return element;
  }

  function shown(value) {
    if (value === undefined || value === null) return "";
    return typeof value === "string" ? value : JSON.stringify(value);
  }

  function numberOrText(text) {
    text = text.trim();
    return NUMBER.test(text) ? Number(text) : text;
  }

  function isPlainObject(value) {
    return value !== null && typeof value === "object" && !Array.isArray(value);
  }

  function isScalar(value) {
    return value === null || typeof value !== "object";
  }

  function button(label, onClick, className) {
    var element = make("button", {type: "button", className: "button " + (className || ""),
      text: label});
    element.addEventListener("click", function (event) {
      event.preventDefault();
      onClick();
    });
    return element;
  }

  function removeButton(label, onClick) {
    var element = button("×", onClick, "picky-remove");
    element.title = label;
    element.setAttribute("aria-label", label);
    return element;
  }

  // A text box for a template: the attribute picker attaches to it.
  function templateBox(value, onInput, options) {
    options = options || {};
    var box = make("input", {type: "text", value: shown(value),
      className: "vTextField picky-template-box " + (options.className || ""),
      placeholder: options.placeholder || ""});
    box.setAttribute("data-picky-template", "");
    if (options.label) box.setAttribute("aria-label", options.label);
    if (options.list) box.setAttribute("list", options.list);
    if (options.pickerUrl) box.setAttribute("data-picky-picker-url", options.pickerUrl);
    box.addEventListener("input", function () { onInput(box.value); });
    return box;
  }

  function select(choices, value, onChange, label) {
    var element = make("select", {"aria-label": label});
    choices.forEach(function (choice) {
      var option = make("option", {value: choice[0], text: choice[1]});
      if (choice[0] === value) option.selected = true;
      element.appendChild(option);
    });
    element.addEventListener("change", function () { onChange(element.value); });
    return element;
  }

  function labelled(text, control) {
    return make("label", {className: "picky-inline-label"}, [text + " ", control]);
  }

  // The sample's fields, for the boxes that offer them as you type.
  function datalist(id, values) {
    if (!document.getElementById(id)) {
      var list = make("datalist", {id: id});
      values.forEach(function (value) { list.appendChild(make("option", {value: value})); });
      document.body.appendChild(list);
    }
    return id;
  }

  function sampleNodes() {
    return window.PickyPaths ? window.PickyPaths.flat() : [];
  }

  function templatesList() {
    return datalist("picky-templates", sampleNodes().map(function (node) { return node.template; }));
  }

  // The sample's arrays: [path, number of items].
  function sampleLists() {
    return sampleNodes().filter(function (node) {
      return /^list of \d+$/.test(node.kind) && node.path.indexOf("event") === 0;
    }).map(function (node) { return [node.path, Number(node.kind.split(" ")[2])]; });
  }

  // --- filters ---------------------------------------------------------------------

  function filtersBuilder(area) {
    var operators = JSON.parse(area.getAttribute("data-picky-operators") || "{}");
    var words = operators.words || {};
    var choices = Object.keys(words).map(function (op) { return [op, words[op]]; });
    var noValue = operators.no_value || [];
    var twoValues = operators.two_values || [];
    // A record search's criteria use this builder too, with words of their own.
    var emptyText = area.getAttribute("data-picky-empty-text") ||
      "No filter: the step always runs.";
    var fieldPlaceholder = area.getAttribute("data-picky-field-placeholder") ||
      "{{ event.state }}";
    var matchCase = !area.hasAttribute("data-picky-no-case");

    function newCondition() {
      return {field: "", op: "equals", value: ""};
    }

    return {
      empty: [],
      refuse: function (value) {
        if (!Array.isArray(value)) return "a filter is a list of groups";
        for (var g = 0; g < value.length; g++) {
          if (!Array.isArray(value[g])) return "group " + (g + 1) + " is not a list of conditions";
          for (var c = 0; c < value[g].length; c++) {
            if (!isPlainObject(value[g][c])) return "a condition is not an object";
          }
        }
        return "";
      },
      render: function (box, state, changed, redraw) {
        var groups = state.value;
        groups.forEach(function (group, g) {
          if (g > 0) box.appendChild(make("div", {className: "picky-or", text: "or"}));
          var groupBox = make("div", {className: "picky-group"});
          groupBox.appendChild(make("div", {className: "picky-group-head"}, [
            make("span", {text: groups.length > 1 ? "Group " + (g + 1) + ": all of these hold"
              : "All of these hold"}),
            button("Remove group", function () {
              groups.splice(g, 1);
              changed();
              redraw();
            }, "picky-remove-group"),
          ]));
          group.forEach(function (condition, c) {
            groupBox.appendChild(conditionRow(groups, group, g, condition, c, changed, redraw));
          });
          groupBox.appendChild(button("+ And a condition", function () {
            group.push(newCondition());
            changed();
            redraw();
          }, "picky-add-condition"));
          box.appendChild(groupBox);
        });
        if (!groups.length) {
          box.appendChild(make("p", {className: "picky-empty", text: emptyText}));
        }
        box.appendChild(button(groups.length ? "+ Add an OR group" : "+ Add a condition",
          function () {
            groups.push([newCondition()]);
            changed();
            redraw();
          }, "picky-add-group"));
      },
    };

    function conditionRow(groups, group, g, condition, c, changed, redraw) {
      var row = make("div", {className: "picky-row picky-condition"});
      row.appendChild(make("span", {className: "picky-and", text: c > 0 ? "and" : "when"}));
      row.appendChild(templateBox(condition.field, function (value) {
        condition.field = value;
        changed();
      }, {className: "picky-field", placeholder: fieldPlaceholder, label: "Field",
        list: templatesList()}));
      row.appendChild(select(choices, condition.op, function (op) {
        condition.op = op;
        if (noValue.indexOf(op) !== -1) {
          delete condition.value;
          delete condition.value2;
        } else if (twoValues.indexOf(op) === -1) {
          delete condition.value2;
        }
        changed();
        redraw();
      }, "Operator"));
      if (noValue.indexOf(condition.op) === -1) {
        row.appendChild(templateBox(condition.value, function (value) {
          condition.value = value;
          changed();
        }, {className: "picky-value", placeholder: "value", label: "Value"}));
      }
      if (twoValues.indexOf(condition.op) !== -1) {
        row.appendChild(make("span", {className: "picky-and", text: "and"}));
        row.appendChild(templateBox(condition.value2, function (value) {
          condition.value2 = value;
          changed();
        }, {className: "picky-value2", placeholder: "value", label: "Second value"}));
      }
      if (matchCase) {
        var caseBox = make("input", {type: "checkbox", checked: !!condition.case_sensitive});
        caseBox.addEventListener("change", function () {
          if (caseBox.checked) condition.case_sensitive = true;
          else delete condition.case_sensitive;
          changed();
        });
        row.appendChild(make("label", {className: "picky-case"}, [caseBox, " match case"]));
      }
      row.appendChild(removeButton("Remove this condition", function () {
        group.splice(c, 1);
        if (!group.length) groups.splice(g, 1);
        changed();
        redraw();
      }));
      return row;
    }
  }

  // --- delay ---------------------------------------------------------------------------

  var DELAY_MODES = [["none", "No wait: run at once"], ["fixed", "Wait a fixed time"],
    ["relative", "Wait until a date in the payload"], ["time", "Wait until a time of day"]];

  function delayMode(delay) {
    if (!delay) return "none";
    if (delay.mode === "fixed" && Number(delay.amount) === 0 && delay.unit === "days" &&
        delay.at) return "time";
    return delay.mode;
  }

  function delayBuilder(area) {
    var previewUrl = area.getAttribute("data-picky-preview");
    var timer = null;
    var asked = 0;

    function preview(line, delay) {
      clearTimeout(timer);
      if (!previewUrl || !delay) {
        line.textContent = "";
        return;
      }
      timer = setTimeout(function () {
        var number = ++asked;
        var token = document.querySelector("[name=csrfmiddlewaretoken]");
        fetch(previewUrl, {method: "POST", credentials: "same-origin",
          headers: {"Content-Type": "application/json", "X-CSRFToken": token ? token.value : ""},
          body: JSON.stringify({delay: delay})})
          .then(function (response) { return response.json(); })
          .then(function (answer) {
            if (number === asked) line.textContent = answer.text || "";
          })
          .catch(function () { line.textContent = ""; });
      }, 250);
    }

    function atBox(delay, changed) {
      var box = make("input", {type: "time", value: delay.at || "", className: "picky-at"});
      box.setAttribute("aria-label", "Time of day");
      box.addEventListener("input", function () {
        if (box.value) delay.at = box.value;
        else delete delay.at;
        changed();
      });
      return box;
    }

    function amountBox(value, onInput, label) {
      var box = make("input", {type: "text", value: shown(value), className: "picky-amount",
        inputMode: "decimal"});
      box.setAttribute("aria-label", label);
      box.addEventListener("input", function () { onInput(numberOrText(box.value)); });
      return box;
    }

    return {
      empty: null,
      refuse: function (value) {
        if (value !== null && !isPlainObject(value)) return "a delay is an object or null";
        if (value && ["fixed", "relative"].indexOf(value.mode) === -1) {
          return "the mode is neither fixed nor relative";
        }
        return "";
      },
      render: function (box, state, changed, redraw) {
        var delay = state.value;
        var mode = delayMode(delay);
        var line = make("p", {className: "picky-delay-preview"});
        var changedAndPreview = function () {
          changed();
          preview(line, state.value);
        };
        box.appendChild(make("div", {className: "picky-row"}, [select(DELAY_MODES, mode,
          function (chosen) {
            var identifier = delay && delay.identifier;
            state.value = {
              none: null,
              fixed: {mode: "fixed", amount: 1, unit: "hours"},
              relative: {mode: "relative", field: "", offset: -1, unit: "hours",
                if_past: "run_now"},
              time: {mode: "fixed", amount: 0, unit: "days", at: "09:00"},
            }[chosen];
            if (state.value && identifier) state.value.identifier = identifier;
            changed();
            redraw();
          }, "Wait")]));
        if (mode === "fixed") {
          var fixed = make("div", {className: "picky-row"}, [
            "Wait ",
            amountBox(delay.amount, function (value) {
              delay.amount = value;
              changedAndPreview();
            }, "Amount"),
            select(UNITS, delay.unit || "minutes", function (unit) {
              delay.unit = unit;
              if (unit !== "days" && unit !== "weeks") delete delay.at;
              changedAndPreview();
              redraw();
            }, "Unit"),
          ]);
          if (delay.unit === "days" || delay.unit === "weeks") {
            fixed.appendChild(labelled(" then at (optional)", atBox(delay, changedAndPreview)));
          }
          box.appendChild(fixed);
        } else if (mode === "time") {
          box.appendChild(make("div", {className: "picky-row"}, [
            "Wait until the next ", atBox(delay, changedAndPreview),
            " (the project's time zone)",
          ]));
        } else if (mode === "relative") {
          var offset = delay.offset === undefined || delay.offset === null ? 0 : delay.offset;
          var before = typeof offset === "number" && offset < 0;
          var direction = before ? "before" : "after";
          var amount = typeof offset === "number" ? Math.abs(offset) : offset;
          var setOffset = function () {
            delay.offset = typeof amount === "number" && direction === "before" ? -amount : amount;
            changedAndPreview();
          };
          box.appendChild(make("div", {className: "picky-row"}, [
            labelled("Date field", templateBox(delay.field, function (value) {
              delay.field = value;
              changedAndPreview();
            }, {className: "picky-date-field", placeholder: "{{ event.start }}",
              label: "Date field", list: templatesList()})),
          ]));
          var when = make("div", {className: "picky-row"}, [
            amountBox(amount, function (value) {
              amount = value;
              setOffset();
            }, "Amount"),
            select(UNITS, delay.unit || "minutes", function (unit) {
              delay.unit = unit;
              if (unit !== "days" && unit !== "weeks") delete delay.at;
              changedAndPreview();
              redraw();
            }, "Unit"),
            select([["before", "before the date"], ["after", "after the date"]], direction,
              function (chosen) {
                direction = chosen;
                setOffset();
              }, "Before or after"),
          ]);
          if (delay.unit === "days" || delay.unit === "weeks") {
            when.appendChild(labelled(" at (optional)", atBox(delay, changedAndPreview)));
          }
          box.appendChild(when);
          box.appendChild(make("div", {className: "picky-row"}, [labelled(
            "If that time has passed",
            select([["run_now", "run the step now"], ["skip", "skip this step"],
              ["stop", "stop the run"]], delay.if_past || "run_now", function (chosen) {
              delay.if_past = chosen;
              changedAndPreview();
            }, "If the time has passed"))]));
          var dayFirst = make("input", {type: "checkbox", checked: !!delay.day_first});
          dayFirst.addEventListener("change", function () {
            if (dayFirst.checked) delay.day_first = true;
            else delete delay.day_first;
            changedAndPreview();
          });
          box.appendChild(make("div", {className: "picky-row"}, [make("label", {}, [dayFirst,
            " Dates are day first (03/04/2025 is 3 April)"])]));
        }
        if (mode !== "none") {
          box.appendChild(make("div", {className: "picky-row"}, [labelled(
            "Identifier for Cancel Delay (optional)",
            templateBox(delay.identifier, function (value) {
              if (value) delay.identifier = value;
              else delete delay.identifier;
              changed();
            }, {className: "picky-identifier", placeholder: "{{ event.order_id }}",
              label: "Identifier"}))]));
        }
        box.appendChild(line);
        preview(line, delay);
      },
    };
  }

  // --- iterator --------------------------------------------------------------------

  function iteratorBuilder() {
    return {
      empty: null,
      refuse: function (value) {
        return value === null || isPlainObject(value) ? "" : "an iterator is an object or null";
      },
      render: function (box, state, changed, redraw) {
        var iterator = state.value;
        var on = make("input", {type: "checkbox", checked: !!iterator, className: "picky-repeat"});
        on.addEventListener("change", function () {
          var lists = sampleLists();
          state.value = on.checked ? {path: lists.length ? lists[0][0] : ""} : null;
          changed();
          redraw();
        });
        box.appendChild(make("div", {className: "picky-row"}, [make("label", {}, [on,
          " Repeat the actions for each item of a list"])]));
        if (!iterator) return;
        var lists = sampleLists();
        var count = make("p", {className: "picky-iterator-count"});
        var showCount = function () {
          var found = lists.filter(function (entry) { return entry[0] === iterator.path; });
          count.textContent = found.length
            ? "The sample payload has " + found[0][1] + " item" + (found[0][1] === 1 ? "" : "s") +
              " in this list."
            : "The sample payload has no list at this path.";
        };
        var known = lists.some(function (entry) { return entry[0] === iterator.path; });
        var choices = lists.map(function (entry) {
          return [entry[0], entry[0] + " (" + entry[1] + " in the sample)"];
        });
        choices.push(["", "Another path…"]);
        var other = make("input", {type: "text", value: known ? "" : (iterator.path || ""),
          className: "vTextField picky-list-path", placeholder: "event.items"});
        other.setAttribute("aria-label", "List path");
        other.style.display = known ? "none" : "";
        other.addEventListener("input", function () {
          iterator.path = other.value.trim();
          changed();
          showCount();
        });
        var chooser = select(choices, known ? iterator.path : "", function (chosen) {
          other.style.display = chosen === "" ? "" : "none";
          iterator.path = chosen || other.value.trim();
          changed();
          showCount();
        }, "List");
        chooser.className = "picky-list-choice";
        var limit = make("input", {type: "number", min: 1, value: shown(iterator.max),
          placeholder: "500", className: "picky-max"});
        limit.setAttribute("aria-label", "At most");
        limit.addEventListener("input", function () {
          if (limit.value.trim()) iterator.max = Number(limit.value);
          else delete iterator.max;
          changed();
        });
        box.appendChild(make("div", {className: "picky-row"}, [labelled("List", chooser), other,
          labelled("at most", limit), " items"]));
        box.appendChild(count);
        showCount();
      },
    };
  }

  // --- rows: lists and maps (action settings, attributes of the field mapping) ------

  // A map edited as [key, value] rows: keys may be empty or repeated while typing.
  function mapRows(box, pairs, changed, redraw, options) {
    pairs.forEach(function (pair, index) {
      var key = make("input", {type: "text", value: pair[0], className: "picky-key-box",
        placeholder: options.keyPlaceholder || "name"});
      key.setAttribute("aria-label", "Name");
      if (options.keys) key.setAttribute("list", options.keys);
      key.addEventListener("input", function () {
        pair[0] = key.value;
        changed();
      });
      box.appendChild(make("div", {className: "picky-row picky-pair"}, [key,
        templateBox(pair[1], function (value) {
          pair[1] = value;
          changed();
        }, {className: "picky-pair-value", placeholder: "{{ event.value }}", label: "Value"}),
        removeButton("Remove this row", function () {
          pairs.splice(index, 1);
          changed();
          redraw();
        })]));
    });
    box.appendChild(button(options.addLabel || "+ Add a row", function () {
      pairs.push(["", ""]);
      changed();
      redraw();
    }, "picky-add-row"));
  }

  function pairsOf(object) {
    return Object.keys(object || {}).map(function (key) { return [key, object[key]]; });
  }

  function objectOf(pairs) {
    var object = {};
    pairs.forEach(function (pair) {
      if (pair[0].trim()) object[pair[0].trim()] = pair[1];
    });
    return object;
  }

  function flatMapRefusal(value) {
    if (!isPlainObject(value)) return "the rows take name/value pairs (an object)";
    var keys = Object.keys(value);
    for (var i = 0; i < keys.length; i++) {
      if (!isScalar(value[keys[i]])) return "“" + keys[i] + "” holds a list or an object";
    }
    return "";
  }

  function mapBuilder(area) {
    return {
      empty: {},
      refuse: flatMapRefusal,
      load: pairsOf,
      save: objectOf,
      render: function (box, state, changed, redraw) {
        mapRows(box, state.value, changed, redraw, {});
      },
    };
  }

  // A row of settings the page names (data-picky-fields: Cancel Delay's connector and
  // identifier): a labelled box each, its picker narrowed by another box of the row when
  // it says so ("within"; empty means data-picky-own-connector).
  function fieldsCard(area, fields, item, index, changed, remove) {
    var card = make("div", {className: "picky-group picky-item picky-fields-item"});
    card.appendChild(make("div", {className: "picky-group-head"},
      [make("span", {text: (area.dataset.pickyNoun || "Item") + " " + (index + 1)}), remove]));
    var boxes = {};
    function narrow(field) {
      var within = String(item[field.within] || "").trim() || area.dataset.pickyOwnConnector || "";
      boxes[field.key].setAttribute("data-picky-picker-url",
        field.url + "&within=" + encodeURIComponent(within));
    }
    var row = make("div", {className: "picky-row"});
    fields.forEach(function (field) {
      function onInput(value) {
        item[field.key] = value;
        fields.forEach(function (other) {
          if (other.within === field.key && other.url) narrow(other);
        });
        changed();
      }
      // A setting with "choices" (a parsing rule's "look in") is a select, not a template.
      if (field.choices) {
        var current = item[field.key] === undefined ? field.choices[0][0] : String(item[field.key]);
        boxes[field.key] = select(field.choices, current, onInput, field.label);
        boxes[field.key].classList.add("picky-field-" + field.key);
        item[field.key] = current;
      } else {
        boxes[field.key] = templateBox(item[field.key], onInput, {className: "picky-field-" + field.key,
          label: field.label, placeholder: field.placeholder || "", pickerUrl: field.url});
      }
      row.appendChild(labelled(field.label, boxes[field.key]));
    });
    fields.forEach(function (field) {
      if (field.within && field.url) narrow(field);
    });
    card.appendChild(row);
    return card;
  }

  // The server's errors name a row ("Target 2: the identifier is required."): shown in
  // that row, and the box whose label they name is marked.
  function markRowErrors(area, form) {
    var noun = area.dataset.pickyNoun;
    var row = area.closest(".form-row");
    if (!noun || !row) return;
    var pattern = new RegExp("^" + noun + " (\\d+): (.*)$");
    var fields = JSON.parse(area.dataset.pickyFields || "[]");
    row.querySelectorAll(".errorlist li").forEach(function (item) {
      var found = pattern.exec(item.textContent);
      var card = found && form.querySelectorAll(".picky-item")[Number(found[1]) - 1];
      if (!card) return;
      card.classList.add("picky-invalid");
      card.appendChild(make("p", {className: "picky-row-error", text: found[2]}));
      fields.forEach(function (field) {
        var box = card.querySelector(".picky-field-" + field.key);
        if (box && found[2].toLowerCase().indexOf(field.label.toLowerCase()) >= 0) {
          box.classList.add("picky-invalid");
          box.title = item.textContent;
        }
      });
    });
  }

  // An item the rows of settings can show: an object of texts, only the named settings.
  function fieldsRefusalFor(fields) {
    var known = fields.map(function (field) { return field.key; });
    return function (value) {
      if (!isPlainObject(value)) return "is not an object";
      var keys = Object.keys(value);
      for (var i = 0; i < keys.length; i++) {
        if (known.indexOf(keys[i]) < 0) return "has the setting “" + keys[i] + "”, not one of the rows'";
        if (!isScalar(value[keys[i]])) return "holds a list or an object in “" + keys[i] + "”";
      }
      return "";
    };
  }

  // Empty settings are left out, as the JSON an expert writes would.
  function fieldsObject(item) {
    var object = {};
    Object.keys(item).forEach(function (key) {
      if (String(item[key]).trim() !== "") object[key] = item[key];
    });
    return object;
  }

  function listBuilder(area) {
    var ofFields = area.getAttribute("data-picky-item") === "fields";
    var fields = ofFields ? JSON.parse(area.dataset.pickyFields || "[]") : [];
    var fieldsRefusal = fieldsRefusalFor(fields);
    var ofMaps = area.getAttribute("data-picky-item") === "map";
    var pickerUrl = area.getAttribute("data-picky-picker-url");
    // The settings an item takes, offered in its key boxes.
    var keys = area.getAttribute("data-picky-keys") ?
      datalist("picky-keys-" + area.name, JSON.parse(area.getAttribute("data-picky-keys"))) : "";
    // What each row is, when the page knows (a WhatsApp template's parameters).
    function rowLabel(index) {
      var labels = JSON.parse(area.getAttribute("data-picky-labels") || "[]");
      return labels[index] || "Item " + (index + 1);
    }
    return {
      empty: [],
      refuse: function (value) {
        if (!Array.isArray(value)) return "the rows take a list";
        for (var i = 0; i < value.length; i++) {
          if (ofFields) {
            var refusal = fieldsRefusal(value[i]);
            if (refusal) return "item " + (i + 1) + " " + refusal;
          } else if (ofMaps ? flatMapRefusal(value[i]) : !isScalar(value[i])) {
            return "item " + (i + 1) + (ofMaps ? " is not a flat object" : " is a list or an object");
          }
        }
        return "";
      },
      load: function (value) {
        if (ofFields) return value.map(function (item) { return Object.assign({}, item); });
        return ofMaps ? value.map(pairsOf) : value.slice();
      },
      save: function (items) {
        if (ofFields) return items.map(fieldsObject);
        return ofMaps ? items.map(objectOf) : items;
      },
      render: function (box, state, changed, redraw) {
        var items = state.value;
        items.forEach(function (item, index) {
          var remove = removeButton("Remove this item", function () {
            items.splice(index, 1);
            changed();
            redraw();
          });
          if (ofFields) {
            box.appendChild(fieldsCard(area, fields, item, index, changed, remove));
            return;
          }
          if (ofMaps) {
            var card = make("div", {className: "picky-group picky-item"});
            card.appendChild(make("div", {className: "picky-group-head"},
              [make("span", {text: "Item " + (index + 1)}), remove]));
            mapRows(card, item, changed, redraw, {addLabel: "+ Add a setting", keys: keys,
              keyPlaceholder: "setting"});
            box.appendChild(card);
            return;
          }
          box.appendChild(make("div", {className: "picky-row picky-list-item"}, [
            templateBox(item, function (value) {
              items[index] = value;
              changed();
            }, {className: "picky-item-value", label: rowLabel(index),
              placeholder: area.hasAttribute("data-picky-labels") ? rowLabel(index) : "",
              pickerUrl: pickerUrl}),
            remove]));
        });
        box.appendChild(button("+ Add", function () {
          items.push(ofFields ? {} : ofMaps ? [["", ""]] : "");
          changed();
          redraw();
        }, "picky-add-row"));
      },
    };
  }

  // --- field mapping -----------------------------------------------------------------

  var CONTACT_FIELDS = [["number", "WhatsApp number", "{{ event.phone }}"],
    ["name", "Name", "{{ event.name }}"], ["email", "E-mail", "{{ event.email }}"]];

  function mappingBuilder() {
    return {
      empty: {},
      refuse: function (value) {
        if (!isPlainObject(value)) return "the field mapping is an object";
        return value.attributes === undefined ? "" : flatMapRefusal(value.attributes);
      },
      load: function (value) {
        return {fields: value, attributes: pairsOf(value.attributes)};
      },
      save: function (state) {
        var mapping = {};
        Object.keys(state.fields).forEach(function (key) {
          if (key !== "attributes" && state.fields[key] !== "") mapping[key] = state.fields[key];
        });
        var attributes = objectOf(state.attributes);
        if (Object.keys(attributes).length) mapping.attributes = attributes;
        return mapping;
      },
      render: function (box, state, changed, redraw) {
        var fields = state.value.fields;
        CONTACT_FIELDS.forEach(function (field) {
          box.appendChild(make("div", {className: "picky-row"}, [labelled(field[1],
            templateBox(fields[field[0]], function (value) {
              fields[field[0]] = value;
              changed();
            }, {className: "picky-map-" + field[0], placeholder: field[2], label: field[1]}))]));
        });
        box.appendChild(make("h4", {className: "picky-subhead", text: "Attributes"}));
        mapRows(box, state.value.attributes, changed, redraw,
          {keyPlaceholder: "attribute", addLabel: "+ Add an attribute"});
      },
    };
  }

  // The server's errors name a condition by its JSON path (filters[0][1].value: ...): the
  // box it names is marked, its message as the box's title.
  var CONDITION_ERROR = /^filters\[(\d+)\]\[(\d+)\]\.(field|op|value|value2)\b/;
  var CONDITION_BOXES = {field: ".picky-field", op: "select", value: ".picky-value",
    value2: ".picky-value2"};

  function markConditionErrors(area, form) {
    var row = area.closest(".form-row");
    (row ? row.querySelectorAll(".errorlist li") : []).forEach(function (item) {
      var found = CONDITION_ERROR.exec(item.textContent);
      if (!found) return;
      var group = form.querySelectorAll(".picky-group")[Number(found[1])];
      var condition = group && group.querySelectorAll(".picky-condition")[Number(found[2])];
      var box = condition && condition.querySelector(CONDITION_BOXES[found[3]]);
      if (box) {
        box.classList.add("picky-invalid");
        box.title = item.textContent;
      }
    });
  }

  // --- the form / JSON toggle -------------------------------------------------------

  var BUILDERS = {filters: filtersBuilder, delay: delayBuilder, iterator: iteratorBuilder,
    mapping: mappingBuilder, "rows-list": listBuilder, "rows-map": mapBuilder};

  // The box's value; empty, or null (a JSON field's empty value), is the builder's empty one.
  function parse(area, builder) {
    var text = area.value.trim();
    var value = text ? JSON.parse(text) : null;
    if (value === null && builder.empty !== null) return JSON.parse(JSON.stringify(builder.empty));
    return value;
  }

  function attach(area) {
    var key = area.dataset.pickyBuilder || "rows-" + area.dataset.pickyRows;
    if (!BUILDERS[key] || area.dataset.pickyBuilt) return;
    area.dataset.pickyBuilt = "1";
    var builder = BUILDERS[key](area);
    var state = {value: null};
    var form = make("div", {className: "picky-builder-form picky-builder-" + key});
    var toggle = button("Edit as JSON", function () {
      if (mode === "form") showJson("");
      else showForm(true);
    }, "picky-json-toggle");
    var reason = make("span", {className: "picky-builder-reason"});
    var mode = "";
    // One block in the admin's row (a flex row): the toggle, the form, then the JSON box
    // and its status line (json-editor.js) moved in.
    var block = make("div", {className: "picky-builder"},
      [make("div", {className: "picky-builder-tools"}, [toggle, reason]), form]);
    var statusLine = area.nextElementSibling;
    area.insertAdjacentElement("beforebegin", block);
    block.appendChild(area);
    if (statusLine && statusLine.classList.contains("picky-json-status")) {
      block.appendChild(statusLine);
    }

    function status() {
      var next = area.nextElementSibling;
      return next && next.classList.contains("picky-json-status") ? next : null;
    }

    function display(element, shown) {
      if (element) element.style.display = shown ? "" : "none";
    }

    function write() {
      var value = builder.save ? builder.save(state.value) : state.value;
      area.value = JSON.stringify(value, null, 2);
      area.dispatchEvent(new Event("input", {bubbles: true}));
    }

    function redraw() {
      form.textContent = "";
      builder.render(form, state, write, redraw);
    }

    function showJson(why) {
      mode = "json";
      display(form, false);
      display(area, true);
      display(status(), true);
      toggle.textContent = "Back to the form";
      reason.textContent = why;
    }

    function showForm(asked) {
      var value;
      try {
        value = parse(area, builder);
      } catch (error) {
        showJson("Not valid JSON, so it stays here: " + error.message);
        return;
      }
      var refusal = builder.refuse(value);
      if (refusal) {
        // Valid JSON the form cannot show: an expert's, kept as typed.
        showJson((asked ? "The form cannot show this JSON: " : "Shown as JSON: ") + refusal + ".");
        return;
      }
      state.value = builder.load ? builder.load(value) : value;
      mode = "form";
      display(form, true);
      display(area, false);
      display(status(), false);
      toggle.textContent = "Edit as JSON";
      reason.textContent = "";
      redraw();
    }

    // Another script changed the JSON (a WhatsApp template's parameters): shown again.
    area.addEventListener("picky:reload", function () {
      if (mode === "form") showForm(false);
    });

    // json-editor.js may add its status line after this script runs.
    setTimeout(function () { display(status(), mode === "json"); }, 0);
    if (area.dataset.pickyAny && area.value.trim() && !/^[[{]/.test(area.value.trim())) {
      showJson("Shown as text: the rows take name/value pairs.");
    } else {
      showForm(false);
      if (key === "filters" && mode === "form") markConditionErrors(area, form);
      if (key === "rows-list" && mode === "form") markRowErrors(area, form);
    }
  }

  function init() {
    document.querySelectorAll("textarea[data-picky-builder], textarea[data-picky-rows]")
      .forEach(attach);
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }
})();
