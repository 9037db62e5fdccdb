/* Live preview of an action page (actions/preview_admin.py): as the user types, the page's
   form is posted (debounced) to the preview endpoint, which runs the action with these
   settings on the connector's sample payload; its outputs show as JSON under "Preview".
   Nothing is saved: the endpoint only answers. */
(function () {
  "use strict";
  var DELAY_MS = 400;

  function setUp(box) {
    var form = box.closest("form");
    var status = box.querySelector(".picky-preview-status");
    var output = box.querySelector(".picky-preview-output");
    var url = box.dataset.pickyPreview;
    if (url.indexOf("?") === -1) {
      url += window.location.search; // an add page: its ?type= and ?step=
    }
    var timer = null;
    var latest = 0;

    function show(text, json) {
      status.textContent = text;
      status.hidden = !text;
      output.hidden = json === undefined;
      output.textContent = json === undefined ? "" : JSON.stringify(json, null, 2);
    }

    function describe(answer) {
      if (answer.errors) {
        var lines = Object.keys(answer.errors).map(function (name) {
          return (name === "__all__" ? "" : name.replace(/_/g, " ") + ": ") +
            answer.errors[name].join(" ");
        });
        show("Not complete yet: " + lines.join("; "));
      } else if (answer.error) {
        show("For the sample payload this fails: " + answer.error);
      } else {
        show((answer.notes || []).join(" "), answer.outputs);
      }
      box.dataset.state = answer.outputs === undefined ? "error" : "ok";
    }

    function refresh() {
      var asked = ++latest;
      box.dataset.state = "loading";
      fetch(url, {
        method: "POST",
        body: new FormData(form),
        credentials: "same-origin",
        headers: {"X-Requested-With": "XMLHttpRequest"}
      })
        .then(function (response) {
          if (!response.ok) {
            throw new Error("The preview is not available (" + response.status + ").");
          }
          return response.json();
        })
        .then(function (answer) {
          if (asked === latest) {
            describe(answer);
          }
        })
        .catch(function (error) {
          if (asked === latest) {
            show(error.message);
            box.dataset.state = "error";
          }
        });
    }

    function later() {
      window.clearTimeout(timer);
      timer = window.setTimeout(refresh, DELAY_MS);
    }

    form.addEventListener("input", later);
    form.addEventListener("change", later);
    refresh();
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("[data-picky-preview]").forEach(setUp);
  });
})();
