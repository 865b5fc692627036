// Injected into a copy of each built page by tests/test_browser.py. Once the page has loaded
// and MathJax (if the page has maths) has typeset it, writes what a reader would meet into
// <pre id="automap-browser-check"> as JSON; the test reads it back from Chromium's --dump-dom.
(function () {
  function report() {
    var images = Array.prototype.map.call(document.images, function (img) {
      var box = img.getBoundingClientRect();
      return {src: img.currentSrc || img.src, complete: img.complete, natural: [img.naturalWidth, img.naturalHeight],
              shown: [box.width, box.height]};
    });
    var links = Array.prototype.map.call(document.querySelectorAll("a[href]"), function (a) {
      return a.href;
    });
    var resources = performance.getEntriesByType("resource").map(function (r) { return r.name; });
    var result = {
      text: document.body.innerText,
      scrollWidth: document.documentElement.scrollWidth,
      viewportWidth: window.innerWidth,
      images: images,
      links: links,
      resources: resources,
      // Sphinx marks each formula with "math notranslate"; MathJax 2 leaves a math/tex script in
      // every formula it typeset (its own output spans use the class "math" too, hence notranslate)
      mathElements: document.querySelectorAll(".math.notranslate").length,
      mathRendered: Array.prototype.filter.call(document.querySelectorAll(".math.notranslate"), function (el) {
        return el.querySelector('script[type^="math/tex"]') !== null;
      }).length,
      mathErrors: document.querySelectorAll(".MathJax_Error, merror, .merror").length,
      mathjaxLoaded: typeof window.MathJax !== "undefined" && !!window.MathJax.Hub
    };
    var out = document.createElement("pre");
    out.id = "automap-browser-check";
    out.textContent = JSON.stringify(result);
    out.style.display = "none";
    document.body.appendChild(out);
  }
  function whenTypeset() {
    if (document.querySelectorAll(".math.notranslate").length === 0) { report(); return; }
    if (window.MathJax && window.MathJax.Hub && window.MathJax.Hub.Queue) {
      window.MathJax.Hub.Queue(report);
    } else {
      // MathJax.js still loading; after 10 s of (virtual) time report anyway: the test sees it missing
      whenTypeset.tries = (whenTypeset.tries || 0) + 1;
      if (whenTypeset.tries > 100) { report(); } else { setTimeout(whenTypeset, 100); }
    }
  }
  window.addEventListener("load", function () { setTimeout(whenTypeset, 0); });
})();
