// CSV import: once a file is picked, its header line is read here and each column gets a
// select of the fields, set to the field its header names. Without this script the
// server matches headers the same way.
(function () {
  "use strict";
  const input = document.getElementById("id_file");
  const mapping = document.getElementById("column-mapping");
  if (!input || !mapping) return;
  const targets = JSON.parse(document.getElementById("import-targets").textContent);
  const guesses = JSON.parse(document.getElementById("import-guesses").textContent);

  function normalised(header) {
    return header.trim().toLowerCase().replace(/[^a-z0-9]+/g, "_").replace(/^_+|_+$/g, "");
  }

  // The first `wanted` records of CSV text (quoted cells, doubled quotes, CRLF).
  function records(text, wanted) {
    const rows = [];
    let row = [], cell = "", quoted = false;
    for (let i = 0; i < text.length && rows.length < wanted; i++) {
      const c = text[i];
      if (quoted) {
        if (c === '"' && text[i + 1] === '"') { cell += '"'; i++; }
        else if (c === '"') quoted = false;
        else cell += c;
      } else if (c === '"') quoted = true;
      else if (c === ",") { row.push(cell); cell = ""; }
      else if (c === "\n" || c === "\r") {
        if (c === "\r" && text[i + 1] === "\n") i++;
        row.push(cell); rows.push(row); row = []; cell = "";
      } else cell += c;
    }
    if (rows.length < wanted && (cell || row.length)) { row.push(cell); rows.push(row); }
    return rows;
  }

  function select(index, header) {
    const element = document.createElement("select");
    element.name = "column_" + index;
    element.add(new Option("— leave out —", ""));
    for (const [key, label] of Object.entries(targets)) element.add(new Option(label, key));
    element.value = guesses[normalised(header)] || "";
    return element;
  }

  input.addEventListener("change", function () {
    const body = mapping.querySelector("tbody");
    body.replaceChildren();
    mapping.hidden = true;
    const file = input.files[0];
    if (!file) return;
    file.slice(0, 65536).text().then(function (text) {
      const [header, first] = records(text.replace(/^\uFEFF/, ""), 2);
      if (!header) return;
      header.forEach(function (name, index) {
        const row = body.insertRow();
        row.insertCell().textContent = name;
        row.insertCell().textContent = first ? first[index] || "" : "";
        row.insertCell().append(select(index, name));
      });
      mapping.hidden = false;
    });
  });
})();
