// Teambox pages: progressive behaviour only; every page works without it.
(function () {
  "use strict";
  document.documentElement.classList.add("js");

  // An event-feed card's inline button loads its page into the sandboxed frame (the
  // link's target); this only opens the drawer around it.
  function setUpCardDrawer() {
    var drawer = document.getElementById("card-drawer");
    if (!drawer) return;
    var frame = drawer.querySelector("iframe");
    var title = document.getElementById("card-drawer-title");
    var openLink = document.getElementById("card-drawer-open");
    document.addEventListener("click", function (event) {
      var link = event.target.closest ? event.target.closest("a[data-drawer]") : null;
      if (!link) return;
      title.textContent = link.textContent;
      openLink.href = link.href;
      drawer.classList.add("open");
    });
    document.getElementById("card-drawer-close").addEventListener("click", function () {
      drawer.classList.remove("open");
      frame.src = "about:blank";
    });
  }

  // The newest line of the timeline is in view when the page opens.
  function scrollTimeline() {
    var timeline = document.getElementById("timeline");
    if (timeline && !/[?&]before=/.test(window.location.search)) {
      timeline.scrollTop = timeline.scrollHeight;
    }
  }

  document.addEventListener("DOMContentLoaded", function () {
    setUpCardDrawer();
    scrollTimeline();
  });
})();
