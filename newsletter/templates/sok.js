// Search in the archive with Pagefind: pagefind/ is the index built with the site (newsletter/site/search.py),
// and pagefind/pagefind.js loads only the parts of it a query needs. One hit per entry; the query's words are
// marked in each excerpt. The filters (organisation, section, year) come from the index itself.
// Text only reaches the page as text nodes and <mark> elements, never as markup. #hits is aria-busy while a
// search runs.
(function () {
  "use strict";
  var input = document.getElementById("q");
  var status = document.getElementById("status");
  var list = document.getElementById("hits");
  var more = document.getElementById("more");
  // Select id → the index's filter name.
  var FILTERS = { organisasjon: "organisasjon", seksjon: "seksjon", ar: "år" };
  var PAGE = 20;  // hits shown at once; each one loads its fragment
  var EMPTY = "Skriv ett eller flere ord, eller velg en organisasjon, en del av nyhetsbrevet eller et år.";
  var pagefind = null, results = [], shown = 0, latest = 0;

  // Pagefind folds letters whose decomposition carries a mark (å → a), but ø has none: the index writes it as
  // o + U+0338, which folds to o (see search.py). The query is written the same way, and excerpts turned back.
  function toIndex(text) { return text.replace(/ø/g, "o\u0338").replace(/Ø/g, "O\u0338"); }
  function fromIndex(text) { return text.replace(/o\u0338/g, "ø").replace(/O\u0338/g, "Ø"); }

  function decode(escaped) {
    // Pagefind's excerpts are HTML-escaped text; a detached <textarea> decodes entities and never runs anything.
    var area = document.createElement("textarea");
    area.innerHTML = escaped;
    return fromIndex(area.value);
  }

  function excerpt(escaped) {
    // "… <mark>word</mark> …" → text nodes and <mark> elements; any other tag is shown as the text it is.
    var p = document.createElement("p"), parts = escaped.split(/(<mark>|<\/mark>)/), marked = false;
    parts.forEach(function (part) {
      if (part === "<mark>") { marked = true; return; }
      if (part === "</mark>") { marked = false; return; }
      if (!part) { return; }
      var text = document.createTextNode(decode(part));
      if (marked) { var mark = document.createElement("mark"); mark.appendChild(text); p.appendChild(mark); }
      else { p.appendChild(text); }
    });
    return p;
  }

  function chosen() {
    var filters = {};
    Object.keys(FILTERS).forEach(function (id) {
      var value = document.getElementById(id).value;
      if (value) { filters[FILTERS[id]] = value; }
    });
    return filters;
  }

  function remember(query, filters) {
    var params = new URLSearchParams();
    if (query) { params.set("q", query); }
    Object.keys(FILTERS).forEach(function (id) { if (filters[FILTERS[id]]) { params.set(id, filters[FILTERS[id]]); } });
    var search = params.toString();
    history.replaceState(null, "", search ? "?" + search : window.location.pathname);
  }

  function counted() {
    // Said in #status (aria-live), so a screen reader hears that more hits came, not only the first count.
    status.textContent = !results.length ? "Ingen treff." :
      shown < results.length ? results.length + " treff, viser " + shown : results.length + " treff";
  }

  function showMore(event) {
    var batch = results.slice(shown, shown + PAGE), first = null;
    shown += batch.length;
    return Promise.all(batch.map(function (r) { return r.data(); })).then(function (hits) {
      hits.forEach(function (hit) {
        var meta = hit.meta || {}, item = document.createElement("li"), h = document.createElement("h3"),
            a = document.createElement("a"), where = document.createElement("p");
        a.href = meta.url || hit.url;
        a.textContent = meta.title || "";
        h.appendChild(a);
        where.className = "muted";
        where.textContent = [meta.periode, meta.seksjon, meta.overskrift].filter(Boolean).join(" · ");
        item.appendChild(h); item.appendChild(where); item.appendChild(excerpt(hit.excerpt || ""));
        list.appendChild(item);
        first = first || a;
      });
      counted();
      more.hidden = shown >= results.length;
      // Asked for by the button: the keyboard goes on at the first new hit, not lost to <body> once the
      // button hides after the last batch (WCAG 2.4.3).
      if (event && first) { first.focus(); }
    });
  }

  function done() { list.setAttribute("aria-busy", "false"); }

  function run() {
    var query = input.value.trim(), filters = chosen(), ticket = ++latest;
    remember(query, filters);
    if (!query && !Object.keys(filters).length) {
      list.textContent = ""; more.hidden = true; status.textContent = EMPTY; done(); return Promise.resolve();
    }
    list.setAttribute("aria-busy", "true");
    var options = { filters: filters };
    if (!query) { options.sort = { utgave: "desc" }; }  // a filter alone: newest issue first
    return pagefind.search(query ? toIndex(query) : null, options).then(function (search) {
      if (ticket !== latest) { return; }  // a later query has started
      results = search.results; shown = 0; list.textContent = "";
      more.hidden = true;
      return showMore().then(function () { if (ticket === latest) { done(); } });
    });
  }

  function fill(id, counts) {
    var select = document.getElementById(id), names = Object.keys(counts || {});
    names.sort(id === "ar" ? function (a, b) { return b.localeCompare(a); } : function (a, b) { return a.localeCompare(b, "nb"); });
    names.forEach(function (name) {
      var option = document.createElement("option");
      option.value = name;
      option.textContent = name + " (" + counts[name] + ")";
      select.appendChild(option);
    });
  }

  var params = new URLSearchParams(window.location.search);
  input.value = params.get("q") || "";
  import("./pagefind/pagefind.js").then(function (module) {
    pagefind = module;
    // The index is small: search on the page's thread rather than in a web worker.
    return pagefind.options({ noWorker: true, excerptLength: 30 });
  }).then(function () {
    return pagefind.filters();
  }).then(function (available) {
    Object.keys(FILTERS).forEach(function (id) {
      fill(id, available[FILTERS[id]]);
      var select = document.getElementById(id), wanted = params.get(id);
      if (wanted && Array.prototype.some.call(select.options, function (o) { return o.value === wanted; })) {
        select.value = wanted;
      }
      select.addEventListener("change", run);
    });
    input.addEventListener("input", run);
    document.getElementById("sok").addEventListener("submit", function (event) { event.preventDefault(); run(); });
    more.addEventListener("click", showMore);
    return run();
  }).catch(function () {
    status.textContent = "Søket kunne ikke lastes. Se alle utgaver eller organisasjonene i stedet.";
    done();
  });
})();
