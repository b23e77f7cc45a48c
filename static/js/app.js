// The few lines of JavaScript we own. htmx does the paging; this file only
// marks a page shown in a CRM's frame, reports the viewer's time zone, falls
// back to initials when an avatar fails to load, keeps aria-busy honest, and
// says so when the network is gone.
(function () {
  "use strict";

  // 0. Inside a CRM's frame: the compact layout (core/embed.py). The server already chose it for
  //    ?embed=1 and for browsers that say they load the page in a frame; this covers the others.
  var framed = true;
  try { framed = window.self !== window.top; } catch (e) { framed = true; }
  if (framed) { document.documentElement.classList.add("embed"); }

  // 1. Time zone: remember the browser's zone in a cookie the server reads.
  //    Asking the browser costs its first Intl call (about 100 ms on a slow
  //    phone), so it is asked at once only on a first visit; otherwise this
  //    page is already in the remembered zone, and a change (travel) only
  //    matters for the next page: it is checked once the browser is idle.
  function browserZone() {
    var zone = "";
    try { zone = Intl.DateTimeFormat().resolvedOptions().timeZone || ""; } catch (e) { zone = ""; }
    return /^[A-Za-z0-9_+\-\/]{1,64}$/.test(zone) ? zone : "";
  }
  function rememberZone(zone) {
    var secure = location.protocol === "https:" ? "; Secure" : "";
    // In a CRM's frame the dashboard is a third party: a Lax cookie would not be kept there.
    var sameSite = framed && secure ? "None" : "Lax";
    document.cookie = "tz=" + zone + "; Path=/; Max-Age=31536000; SameSite=" + sameSite + secure;
  }
  var remembered = /(?:^|;\s*)tz=([^;]*)/.exec(document.cookie);
  if (!remembered) {
    var zone = browserZone();
    if (zone) {
      rememberZone(zone);
      var rendered = document.body.getAttribute("data-time-zone");
      // First visit: the page was rendered in UTC. Render it again, once, in the
      // viewer's zone (only if the cookie really stuck, so this cannot loop).
      if (rendered && rendered !== zone && /(?:^|;\s*)tz=/.test(document.cookie)
          && document.querySelector("[data-activity-id]")) {
        location.replace(location.href);
        return;
      }
    }
  } else {
    var checkZone = function () {
      var current = browserZone();
      if (current && current !== remembered[1]) { rememberZone(current); }
    };
    // Idle after the page has loaded: while deferred scripts are still arriving the browser can be
    // idle too, and that is still on the way to the page being ready.
    window.addEventListener("load", function () {
      if (window.requestIdleCallback) {
        window.requestIdleCallback(checkZone, { timeout: 10000 });
      } else {
        setTimeout(checkZone, 2000);
      }
    });
  }

  // 2. Avatars and thumbnails that fail to load: show the initials instead.
  document.addEventListener("error", function (event) {
    var img = event.target;
    if (img && img.tagName === "IMG") {
      img.classList.add("failed");
    }
  }, true);

  // 3. The feed is busy while a page is on its way. Requests overlap (a page's spans can answer while
  //    the next page is still coming), so it stays busy until the last one is over.
  function setBusy(value) {
    var feed = document.getElementById("timeline-feed");
    if (feed) { feed.setAttribute("aria-busy", value); }
  }
  var inFlight = [];
  document.addEventListener("htmx:beforeRequest", function (event) {
    inFlight.push(event.detail.xhr);
    setBusy("true");
  });
  document.addEventListener("htmx:afterRequest", function (event) {
    inFlight = inFlight.filter(function (xhr) { return xhr !== event.detail.xhr; });
    if (!inFlight.length) { setBusy("false"); }
  });
  // A page that found nothing yet (filtered by who did it) has an empty box, not a feed; it
  // becomes one when "keep looking" brings the first activities.
  document.addEventListener("htmx:afterSwap", function () {
    var feed = document.getElementById("timeline-feed");
    if (feed && !feed.hasAttribute("role") && feed.querySelector("article")) {
      feed.setAttribute("role", "feed");
      feed.setAttribute("aria-labelledby", "timeline-heading");
    }
  });

  // 4. No answer at all (offline, server gone): say so; what is on screen stays
  //    and the "Older activities" button is still there to try again.
  function showNetworkProblem(message) {
    var box = document.getElementById("network-status");
    if (!box) { return; }
    box.textContent = message;
    box.hidden = false;
  }
  document.addEventListener("htmx:sendError", function () {
    showNetworkProblem("The dashboard could not be reached. Check the connection, then try again.");
  });
  document.addEventListener("htmx:timeout", function () {
    showNetworkProblem("The dashboard took too long to answer. Try again.");
  });
  document.addEventListener("htmx:beforeSend", function () {
    var box = document.getElementById("network-status");
    if (box) { box.hidden = true; }
  });

  // 5. The ARIA feed pattern: Page Down / Page Up move between activities.
  document.addEventListener("keydown", function (event) {
    if (event.key !== "PageDown" && event.key !== "PageUp") { return; }
    var article = event.target.closest ? event.target.closest("#timeline-feed > article") : null;
    if (!article) { return; }
    var next = event.key === "PageDown" ? article.nextElementSibling : article.previousElementSibling;
    if (next && next.tagName === "ARTICLE") {
      event.preventDefault();
      next.focus();
    }
  });

  // 6. Copy buttons (contact channels).
  document.addEventListener("click", function (event) {
    var button = event.target.closest ? event.target.closest("[data-copy]") : null;
    if (!button || !navigator.clipboard) { return; }
    navigator.clipboard.writeText(button.getAttribute("data-copy")).then(function () {
      var label = button.querySelector(".copy-label");
      if (label) {
        var before = label.textContent;
        label.textContent = "Copied";
        setTimeout(function () { label.textContent = before; }, 1500);
      }
    });
  });

  // 7. A page's spans loader (in #page-spans or #newer-spans, which only grow) has done its work once
  //    its request is over: its answer is already swapped in. Gone, so a long scroll leaves no trail.
  document.addEventListener("htmx:afterRequest", function (event) {
    var loader = event.detail ? event.detail.elt : null;
    if (loader && loader.classList && loader.classList.contains("spans-loader")) { loader.remove(); }
  });
})();
