// The sequence page: each message shows the fields of its kind and of its timing only.
(function () {
  "use strict";
  var BY_KIND = {
    text: ["text"],
    media: ["text", "media_url"],
    template: ["template", "template_params"]
  };
  var BY_TIMING = { after: ["delay_amount"], on_day: ["day"] };
  var SWITCHED = ["text", "media_url", "template", "template_params", "delay_amount", "day"];

  function show(message) {
    var kind = message.querySelector('select[name$="-kind"]');
    var timing = message.querySelector('select[name$="-timing"]');
    if (!kind || !timing) { return; }
    var shown = (BY_KIND[kind.value] || []).concat(BY_TIMING[timing.value] || []);
    SWITCHED.forEach(function (field) {
      var row = message.querySelector(".form-row.field-" + field);
      if (!row) { return; }
      // A field with an error stays in sight, whatever the choice.
      row.hidden = shown.indexOf(field) < 0 && !row.querySelector(".errorlist");
    });
  }

  document.addEventListener("change", function (event) {
    if (event.target.matches('select[name$="-kind"], select[name$="-timing"]')) {
      show(event.target.closest(".inline-related"));
    }
  });
  document.addEventListener("formset:added", function (event) {
    show(event.target);
  });
  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("#messages-group .inline-related").forEach(show);
  });
})();
