// The funnel board: drag a card to another stage. The drop sets the card's stage select
// and posts its form (the same form the select sends without a script); the card moves
// once the server said yes, else the page reloads and shows the board as it is.
(function () {
  "use strict";
  const board = document.getElementById("funnel-board");
  if (!board) return;
  let dragged = null;

  function count(stage, delta) {
    const badge = stage.querySelector(".picky-count");
    badge.textContent = String(Number(badge.textContent) + delta);
  }

  board.addEventListener("dragstart", function (event) {
    dragged = event.target.closest(".picky-card");
    if (!dragged) return;
    dragged.classList.add("picky-dragging");
    event.dataTransfer.effectAllowed = "move";
    event.dataTransfer.setData("text/plain", dragged.dataset.record);
  });
  board.addEventListener("dragend", function () {
    if (dragged) dragged.classList.remove("picky-dragging");
    board.querySelectorAll(".picky-drop-target").forEach((s) => s.classList.remove("picky-drop-target"));
  });
  board.addEventListener("dragover", function (event) {
    const stage = event.target.closest(".picky-stage");
    if (!stage || !dragged) return;
    event.preventDefault();
    stage.classList.add("picky-drop-target");
  });
  board.addEventListener("dragleave", function (event) {
    const stage = event.target.closest(".picky-stage");
    if (stage && !stage.contains(event.relatedTarget)) stage.classList.remove("picky-drop-target");
  });
  board.addEventListener("drop", function (event) {
    const stage = event.target.closest(".picky-stage");
    const card = dragged;
    if (!stage || !card) return;
    event.preventDefault();
    stage.classList.remove("picky-drop-target");
    const from = card.closest(".picky-stage");
    if (from === stage) return;
    const form = card.querySelector("form");
    form.querySelector("select[name=stage]").value = stage.dataset.stage;
    fetch(form.action, {
      method: "POST",
      body: new FormData(form),
      headers: { Accept: "application/json" },
      credentials: "same-origin",
    }).then(function (response) {
      if (!response.ok) throw new Error("refused");
      stage.querySelector(".picky-cards").prepend(card);
      count(from, -1);
      count(stage, 1);
    }).catch(function () {
      window.location.reload();
    });
  });
})();
