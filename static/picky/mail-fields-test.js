/* The connector page's "Test against a pasted mail": posts the pasted mail and the parsing
   template's rows as they stand (saved or not) to the admin's mail-fields-test URL and
   shows the fields it takes out, or the rows' problems, as text. */
(function () {
  "use strict";

  function rules() {
    var area = document.querySelector("textarea[name=mail_fields]");
    var text = area ? area.value.trim() : "";
    if (!text) return [];
    try {
      return JSON.parse(text);
    } catch (error) {
      return text;
    }
  }

  function run(box) {
    var result = box.querySelector(".picky-mail-test-result");
    var token = document.querySelector("[name=csrfmiddlewaretoken]");
    result.textContent = "Testing…";
    fetch(box.dataset.url, {
      method: "POST",
      credentials: "same-origin",
      headers: {"Content-Type": "application/json", "X-CSRFToken": token ? token.value : ""},
      body: JSON.stringify({mail: box.querySelector(".picky-mail-test-mail").value, rules: rules()}),
    }).then(function (response) {
      return response.json();
    }).then(function (answer) {
      result.classList.toggle("picky-invalid", Boolean(answer.errors));
      result.textContent = answer.errors ? answer.errors.join("\n") :
        JSON.stringify(answer.fields, null, 2);
    }).catch(function () {
      result.classList.add("picky-invalid");
      result.textContent = "The test could not run; try again.";
    });
  }

  function init() {
    document.querySelectorAll(".picky-mail-test").forEach(function (box) {
      box.querySelector(".picky-mail-test-run").addEventListener("click", function () {
        run(box);
      });
    });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }
})();
