// A page that says "Invent is busy, try again in N seconds": the seconds count down, and the page asks
// again by itself at zero. A whole error page also has a <meta> refresh (it works without JavaScript);
// the in-page notice of a page that was already under way (data-reload) relies on this file.
(function () {
  "use strict";
  var box = document.querySelector("[data-retry-in]");
  if (!box) { return; }
  var left = parseInt(box.getAttribute("data-retry-in"), 10);
  var shown = box.querySelector("[data-seconds]");
  if (!(left > 0) || !shown) { return; }
  var timer = setInterval(function () {
    left -= 1;
    shown.textContent = String(Math.max(left, 0));
    if (left <= 0) {
      clearInterval(timer);
      if (box.hasAttribute("data-reload")) { location.reload(); }
    }
  }, 1000);
})();
