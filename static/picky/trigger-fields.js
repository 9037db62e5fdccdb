// The connector page: beside "Started by", only the setting its choice takes shows: the
// channel of a message trigger, the module of a record trigger, the button of a macro
// button trigger, the group of a WhatsApp group trigger. Without JavaScript every setting
// shows, and saving ignores the others.
(function () {
  "use strict";

  var TAKES = {
    inbound_message: "trigger_channel",
    record_created: "trigger_module",
    record_updated: "trigger_module",
    record_deleted: "trigger_module",
    macro_button: "trigger_macro",
    group_joined: "trigger_group",
    group_left: "trigger_group",
  };
  var SETTINGS = ["trigger_channel", "trigger_module", "trigger_macro", "trigger_group"];

  function show(select) {
    var wanted = TAKES[select.value] || "";
    SETTINGS.forEach(function (name) {
      var input = document.getElementById("id_" + name);
      var row = input && input.closest(".form-row");
      if (row) {
        row.hidden = name !== wanted;
      }
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    var select = document.querySelector("select[data-picky-trigger]");
    if (!select) {
      return;
    }
    show(select);
    select.addEventListener("change", function () {
      show(select);
    });
  });
})();
