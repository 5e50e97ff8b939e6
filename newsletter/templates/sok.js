// Search in the archive, in the browser: the index (window.SOK_INDEKS) is a static file built with the
// site. Every word of the query must occur in the title, heading or text of an entry; case and accents
// outside æøå are ignored. Text only goes into the page as text (textContent), never as markup.
(function () {
  "use strict";
  var docs = window.SOK_INDEKS || [];
  var input = document.getElementById("q");
  var status = document.getElementById("status");
  var list = document.getElementById("hits");

  function fold(text) {
    // NFD, then drop combining marks except those that make æ, ø, å distinct letters.
    return String(text).toLowerCase().replace(/å/g, "\u0001").replace(/ø/g, "\u0002").replace(/æ/g, "\u0003")
      .normalize("NFD").replace(/[\u0300-\u036f]/g, "")
      .replace(/\u0001/g, "å").replace(/\u0002/g, "ø").replace(/\u0003/g, "æ");
  }
  var prepared = docs.map(function (d) {
    return { doc: d, title: fold(d.t + " " + d.h), body: fold(d.x) };
  });

  function search(query) {
    var words = fold(query).split(/[^0-9a-zæøå]+/).filter(function (w) { return w.length > 0; });
    list.textContent = "";
    if (!words.length) { status.textContent = "Skriv ett eller flere ord."; return; }
    var hits = [];
    prepared.forEach(function (p) {
      var score = 0;
      for (var i = 0; i < words.length; i++) {
        var inTitle = p.title.indexOf(words[i]) >= 0, inBody = p.body.indexOf(words[i]) >= 0;
        if (!inTitle && !inBody) { return; }
        score += inTitle ? 3 : 1;
      }
      hits.push({ p: p, score: score });
    });
    hits.sort(function (a, b) { return b.score - a.score || (a.p.doc.i < b.p.doc.i ? 1 : -1); });
    status.textContent = hits.length ? hits.length + " treff" + (hits.length > 50 ? " (viser de 50 beste)" : "")
                                     : "Ingen treff.";
    hits.slice(0, 50).forEach(function (hit) {
      var d = hit.p.doc, item = document.createElement("li"), h = document.createElement("h3"),
          a = document.createElement("a"), meta = document.createElement("p"), text = document.createElement("p");
      a.href = d.i + "/index.html#" + d.a;
      a.textContent = d.t || d.h;
      h.appendChild(a);
      meta.className = "muted";
      meta.textContent = d.p + " · " + d.h;
      text.textContent = d.x.length > 280 ? d.x.slice(0, 280) + " …" : d.x;
      item.appendChild(h); item.appendChild(meta); item.appendChild(text);
      list.appendChild(item);
    });
  }

  var initial = new URLSearchParams(window.location.search).get("q") || "";
  input.value = initial;
  search(initial);
  input.addEventListener("input", function () { search(input.value); });
})();
