// The few behaviours htmx does not cover. Every page works without this file:
// the menu and the filters then simply stay open and there is no select-all.
(function () {
  "use strict";
  var root = document.documentElement;
  root.classList.add("js");
  var narrow = window.matchMedia("(max-width: 640px)");

  function ready() {
    // The menu folds behind a button on phones.
    var button = document.getElementById("menu-button");
    var menu = document.getElementById("menu");
    if (button && menu) {
      button.hidden = false;
      button.addEventListener("click", function () {
        var open = menu.classList.toggle("open");
        button.setAttribute("aria-expanded", open ? "true" : "false");
      });
    }
    // Filters fold away on phones unless some are set.
    document.querySelectorAll("details.filters-fold").forEach(function (fold) {
      if (narrow.matches && !fold.hasAttribute("data-active")) fold.open = false;
    });
  }

  document.addEventListener("click", function (event) {
    var zoom = event.target.closest("[data-zoom]");
    if (zoom) {
      var box = document.getElementById(zoom.getAttribute("aria-controls"));
      var now = parseFloat(box.style.getPropertyValue("--zoom") || "1");
      var next = zoom.dataset.zoom === "in" ? now * 1.25 : zoom.dataset.zoom === "out" ? now / 1.25 : 1;
      box.style.setProperty("--zoom", String(Math.min(4, Math.max(0.5, next))));
    }
  });
  // Select all: a header checkbox ticks every row's box in its form.
  document.addEventListener("change", function (event) {
    var all = event.target.closest("[data-select-all]");
    if (!all) return;
    all.form.querySelectorAll('input[name="' + all.dataset.selectAll + '"]').forEach(function (box) {
      box.checked = all.checked;
    });
  });
  // After htmx swaps a list in, its select-all box (hidden without script) shows.
  function reveal() {
    document.querySelectorAll("[data-select-all][hidden], .zoom[hidden]").forEach(function (el) {
      el.hidden = false;
    });
  }
  document.addEventListener("htmx:afterSettle", reveal);
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", function () { ready(); reveal(); });
  } else {
    ready();
    reveal();
  }
})();
