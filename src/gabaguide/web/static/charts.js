// Draw every Vega-Lite spec on the page (the spec sits in a JSON script next to its box).
// The bundle (vega, vega-lite, vega-embed) is served by the app itself: no CDN, works offline.
(function () {
  "use strict";
  function draw() {
    document.querySelectorAll("script.vl-spec").forEach(function (node) {
      var target = document.getElementById(node.dataset.target);
      if (!target || !window.vegaEmbed) { return; }
      var spec = JSON.parse(node.textContent);
      window.vegaEmbed(target, spec, {
        actions: false,
        renderer: "svg",
        defaultStyle: false
      }).then(function () {
        target.dataset.rendered = "true";
      }).catch(function (err) {
        target.dataset.rendered = "error";
        target.textContent = "The chart could not be drawn: " + err.message;
      });
    });
    document.querySelectorAll("[data-print]").forEach(function (button) {
      button.addEventListener("click", function () { window.print(); });
    });
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", draw);
  } else {
    draw();
  }
})();
