/* Test this step: the button posts the step's form to the test page; with this script the
   result comes alone and shows in place, under the button, and the page (with any unsaved
   edits) stays. */
(function () {
  "use strict";
  document.addEventListener("submit", function (event) {
    var button = event.submitter;
    if (!button || button.id !== "test-step") {
      return;
    }
    event.preventDefault();
    // Not a save: the unsaved-changes warning (unsaved.js) must still hold.
    event.stopPropagation();
    button.disabled = true;
    fetch(button.formAction, {
      method: "POST",
      body: new FormData(event.target),
      credentials: "same-origin",
      headers: {"X-Picky-Fragment": "1"}
    })
      .then(function (response) { return response.text(); })
      .then(function (html) {
        var holder = document.createElement("div");
        holder.innerHTML = html; // the server's template: payload text is escaped there
        document.getElementById("step-test-result").replaceWith(holder.firstElementChild);
      })
      .finally(function () { button.disabled = false; });
  }, true);
})();
