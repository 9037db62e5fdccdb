// JSON editors (<textarea class="picky-json">): say as you type whether the text
// is valid JSON, and where it breaks. The server checks again on save.
(function () {
  function check(area, status) {
    var text = area.value.trim();
    if (!text) {
      status.textContent = "";
      area.classList.remove("picky-invalid");
      return;
    }
    try {
      JSON.parse(text);
      status.textContent = "Valid JSON";
      status.className = "picky-json-status picky-ok";
      area.classList.remove("picky-invalid");
    } catch (error) {
      status.textContent = "Not valid JSON yet: " + error.message;
      status.className = "picky-json-status picky-bad";
      area.classList.add("picky-invalid");
    }
  }

  function attach(area) {
    if (area.dataset.pickyJson) return;
    area.dataset.pickyJson = "1";
    var status = document.createElement("span");
    status.className = "picky-json-status";
    area.insertAdjacentElement("afterend", status);
    area.addEventListener("input", function () { check(area, status); });
    check(area, status);
  }

  function init() {
    document.querySelectorAll("textarea.picky-json").forEach(attach);
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }
})();
