/* A send form's WhatsApp template: choosing an approved template (its picker box) asks
   the action page for it, sets its language and shows one value box per parameter in the
   template values (the values typed so far are kept, in order). A template typed by hand
   or as a template ({{ event.template }}) is left as it is. */
(function () {
  "use strict";

  function box(name) {
    return document.querySelector("[name='config__" + name + "']");
  }

  // The picker's endpoint (…/pick/whatsapp_templates/?project=N) names the template one's.
  function templateUrl(input, name) {
    var url = input.getAttribute("data-picky-picker-url") || "";
    var found = /^(.*\/)pick\/whatsapp_templates\/\?project=(\d+)/.exec(url);
    if (!found) return "";
    return found[1] + "whatsapp-template/?project=" + found[2] + "&name=" + encodeURIComponent(name);
  }

  document.addEventListener("change", function (event) {
    var input = event.target;
    if (!input.matches || !input.matches("input[data-picky-picker='whatsapp_templates']")) {
      return;
    }
    var name = input.value.trim();
    var url = templateUrl(input, name);
    if (!name || name.indexOf("{{") !== -1 || !url) {
      return;
    }
    fetch(url, {credentials: "same-origin", headers: {"Accept": "application/json"}})
      .then(function (response) { return response.ok ? response.json() : null; })
      .then(function (template) {
        if (!template) return;
        var language = box("template_language");
        if (language && template.language) language.value = template.language;
        var values = box("template_params");
        if (!values) return;
        var old = [];
        try { old = JSON.parse(values.value || "[]"); } catch (error) { old = []; }
        if (!Array.isArray(old)) old = [];
        var labels = template.parameters.map(function (parameter) {
          return "{{" + parameter + "}}";
        });
        values.value = JSON.stringify(labels.map(function (_, index) {
          return old[index] === undefined ? "" : old[index];
        }), null, 2);
        values.setAttribute("data-picky-labels", JSON.stringify(labels));
        values.dispatchEvent(new Event("input", {bubbles: true}));
        values.dispatchEvent(new Event("picky:reload"));
      });
  });
})();
