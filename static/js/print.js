// Print the timeline. The print stylesheet (css/print.css) does the layout, so the browser's own
// Print works without this file; the "Print" button (shown only when this file runs) first loads
// the rest of the timeline when it is short enough, and the printout always says what it holds.
(function () {
  "use strict";

  var LIMIT = 500;           // entries: up to this many, the rest is loaded before printing
  var MAX_PAGES = 12;        // next-page requests at most for one Print (500 entries at 50 a page, and some)
  var STEP_MS = 20000;       // how long one page may take before printing what is there

  function feedArticles() {
    return document.querySelectorAll("#timeline-feed > article[data-activity-id]");
  }
  function setSize() {
    var first = feedArticles()[0];
    var size = first ? parseInt(first.getAttribute("aria-setsize"), 10) : -1;
    return isNaN(size) ? -1 : size;
  }
  function complete() {
    return !!document.querySelector("#pager [data-timeline-end]");
  }
  function count(n) {
    return n.toLocaleString("en-GB");
  }

  // What the printout holds, when it is not the whole (filtered) timeline.
  function includedText() {
    if (complete()) { return ""; }
    var loaded = feedArticles().length;
    var size = setSize();
    var what = "Printing the " + count(loaded) + " activit" + (loaded === 1 ? "y" : "ies") + " loaded; ";
    return what + (size >= 0 ? "the timeline has " + count(size) + "." : "older ones are not included.");
  }

  function printedText() {
    var zone = document.body.getAttribute("data-time-zone") || undefined;
    var options = { dateStyle: "full", timeStyle: "long" };
    if (zone) { options.timeZone = zone; }
    try {
      return "Printed " + new Intl.DateTimeFormat("en-GB", options).format(new Date());
    } catch (e) {
      return "Printed " + new Date().toString();
    }
  }

  // What folds on screen (long notes, more files, more segments, the contact's details) prints whole.
  // The print stylesheet unfolds it too, where the browser lets CSS reach a closed <details>; this
  // covers the others, and folds them again after.
  var opened = [];
  window.addEventListener("beforeprint", function () {
    var date = document.querySelector("[data-print-date]");
    if (date) { date.textContent = printedText(); }
    var note = document.querySelector("[data-print-note]");
    if (note) { note.textContent = includedText(); }
    document.querySelectorAll("details:not([open])").forEach(function (d) {
      d.open = true;
      opened.push(d);
    });
  });
  window.addEventListener("afterprint", function () {
    opened.forEach(function (d) { d.open = false; });
    opened = [];
  });

  // One more page through the pager's own link (htmx appends it and replaces the pager);
  // resolves false when no page could be added.
  function nextPage() {
    var link = document.querySelector("#pager [data-next-page]");
    if (!link) { return Promise.resolve(false); }
    return new Promise(function (resolve) {
      var started = Date.now();
      link.click();
      (function check() {
        if (!link.isConnected && !document.querySelector(".htmx-request")) { resolve(true); return; }
        if (Date.now() - started > STEP_MS) { resolve(false); return; }
        setTimeout(check, 100);
      })();
    });
  }

  function say(message) {
    var status = document.querySelector("[data-print-status]");
    if (status) { status.textContent = message; }
  }

  function printWhenLoaded(button) {
    var size = setSize();
    var pages = 0;
    function step() {
      var wanted = size < 0 ? feedArticles().length < LIMIT : size <= LIMIT;
      if (!complete() && wanted && pages < MAX_PAGES) {
        pages += 1;
        say("Loading the rest of the timeline to print…");
        nextPage().then(function (added) {
          if (added) { step(); } else { finish(); }
        });
        return;
      }
      finish();
    }
    function finish() {
      say(includedText());
      button.disabled = false;
      window.print();
    }
    button.disabled = true;
    step();
  }

  document.addEventListener("click", function (event) {
    var button = event.target.closest ? event.target.closest("[data-print]") : null;
    if (button && !button.disabled) { printWhenLoaded(button); }
  });

  // The button only works with this file: show it here, and again in a timeline swapped in by a filter.
  function reveal() {
    document.querySelectorAll("[data-print-wrap][hidden]").forEach(function (b) { b.hidden = false; });
  }
  reveal();
  document.addEventListener("htmx:afterSettle", reveal);
})();
