/* Warn before leaving a change form with unsaved edits: a link on the page ("Add an
   action", "Filters & actions", a breadcrumb) asks first, and so does closing the tab.
   Saving the form clears the warning. */
(function () {
  "use strict";
  var MESSAGE = "You have unsaved changes on this page. Leave without saving them?";

  function leavesThePage(link) {
    var href = link.getAttribute("href") || "";
    return href !== "" && href.charAt(0) !== "#" && href.indexOf("javascript:") !== 0 &&
      !link.target && !link.hasAttribute("download");
  }

  document.addEventListener("DOMContentLoaded", function () {
    var form = document.querySelector("#content-main form[id$='_form']");
    if (!form) {
      return;
    }
    var dirty = false;
    function edited() { dirty = true; }
    form.addEventListener("input", edited);
    form.addEventListener("change", edited);
    form.addEventListener("submit", function () { dirty = false; });

    document.addEventListener("click", function (event) {
      var link = event.target.closest("a[href]");
      if (!dirty || !link || !leavesThePage(link)) {
        return;
      }
      if (window.confirm(MESSAGE)) {
        dirty = false; // asked once: leaving now needs no second question
      } else {
        event.preventDefault();
      }
    });

    window.addEventListener("beforeunload", function (event) {
      if (dirty) {
        event.preventDefault();
        event.returnValue = MESSAGE;
      }
    });
  });
})();
