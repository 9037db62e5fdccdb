// The chatbot flow page: each step shows the fields of its kind only.
(function () {
  "use strict";
  var FIELDS = {
    message: ["text", "go_to"],
    question: ["text", "answer_type", "choices", "attribute", "retry_text", "go_to"],
    branch: ["go_to"],
    set_attribute: ["attribute", "value", "go_to"],
    add_tag: ["tags", "go_to"],
    assign: ["agents", "departments", "go_to"],
    go_to: ["go_to"],
    end: []
  };
  var ALL = ["text", "answer_type", "choices", "attribute", "retry_text", "value", "tags",
             "agents", "departments", "go_to"];

  function show(step) {
    var kind = step.querySelector('select[name$="-kind"]');
    if (!kind) { return; }
    var shown = FIELDS[kind.value] || ALL;
    var answerType = step.querySelector('select[name$="-answer_type"]');
    if (answerType && answerType.value !== "choice") {
      // Choices belong to a question of choices only.
      shown = shown.filter(function (field) { return field !== "choices"; });
    }
    ALL.forEach(function (field) {
      var row = step.querySelector(".form-row.field-" + field);
      if (!row) { return; }
      var hasError = row.querySelector(".errorlist");
      row.hidden = shown.indexOf(field) < 0 && !hasError;
    });
  }

  function showAll() {
    document.querySelectorAll(".inline-related").forEach(show);
  }

  document.addEventListener("change", function (event) {
    if (event.target.matches('select[name$="-kind"], select[name$="-answer_type"]')) {
      show(event.target.closest(".inline-related"));
    }
  });
  document.addEventListener("formset:added", function (event) {
    show(event.target);
  });
  document.addEventListener("DOMContentLoaded", showAll);
})();
