// Teambox pages: progressive behaviour only; every page works without it.
(function () {
  "use strict";
  document.documentElement.classList.add("js");
})();
