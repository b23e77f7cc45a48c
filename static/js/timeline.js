// The contact page's behaviours, in three parts that each stand alone (one file, so a phone fetches and
// unzips it once): 1. printing; 2. reading on a phone (the bar, the filter sheet, Details); 3. finding
// your place (permalinks, pages above, the live check, the last-visit line, the keys). Everything here is
// an extra: without JavaScript the page reads, pages and prints the same, with whole pages.

// --- 1. Printing ------------------------------------------------------------------------------------------
// Print the timeline. The print rules (at the end of css/app.css) do the layout, so the browser's own
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

// --- 2. Reading on a phone --------------------------------------------------------------------------------
// Phone-first reading (the contact page): the bar that stays at the top once the header has scrolled
// away, the filter sheet, and the contact's Details that stay open once opened. Everything here is an
// extra: without JavaScript the bar is an ordinary row, the sheet an ordinary form, Details closed.
(function () {
  "use strict";

  var bar = document.getElementById("toolbar");
  var header = document.querySelector(".contact-header");
  var sheet = document.getElementById("filter-sheet");

  // 1. The bar names the contact and offers the way back to the newest once the header is gone.
  if (bar && header && window.IntersectionObserver) {
    new IntersectionObserver(function (entries) {
      var entry = entries[entries.length - 1];
      bar.classList.toggle("stuck", !entry.isIntersecting && entry.boundingClientRect.top < 0);
    }).observe(header);
  }

  // 2. A card that gets the focus (Tab, or a key that moves between cards) is never left under the bar.
  document.addEventListener("focusin", function (event) {
    var card = event.target.closest ? event.target.closest("#timeline-feed article") : null;
    if (!bar || !card) { return; }
    var covered = bar.getBoundingClientRect().bottom - card.getBoundingClientRect().top;
    if (covered > 0) { window.scrollBy(0, -covered - 8); }
  });

  // 3. The sheet opens and closes through its buttons' command/commandfor; this covers browsers
  //    that do not know those attributes yet.
  if (sheet && sheet.showModal && !("commandForElement" in HTMLButtonElement.prototype)) {
    document.addEventListener("click", function (event) {
      var button = event.target.closest ? event.target.closest("button[commandfor='filter-sheet']") : null;
      if (!button) { return; }
      var command = button.getAttribute("command");
      if (command === "show-modal" && !sheet.open) { sheet.showModal(); }
      if (command === "close" && sheet.open) { sheet.close(); }
    });
  }

  // 4. "Clear": every chip off, and the form asks for the timeline as a change of chips does (the
  //    sheet is not part of what comes back, so it must be told). Without JavaScript: a plain link.
  document.addEventListener("click", function (event) {
    var link = event.target.closest ? event.target.closest("[data-clear-filters]") : null;
    var form = document.getElementById("filters");
    if (!link || !form || !window.htmx) { return; }
    event.preventDefault();
    form.querySelectorAll("input[type='checkbox']").forEach(function (box) { box.checked = false; });
    form.dispatchEvent(new Event("change", { bubbles: true }));
  });

  // 5. Details stay open once opened: remembered in a cookie, so the next page is rendered open
  //    (opening it here after the page is drawn would push the timeline down). Not contact data.
  function detailsWanted() { return /(?:^|;\s*)contact_details=open/.test(document.cookie); }
  document.addEventListener("toggle", function (event) {
    if (event.target.id !== "contact-details" || event.target.open === detailsWanted()) { return; }
    var framed = window.self !== window.top;
    var secure = location.protocol === "https:" ? "; Secure" : "";
    document.cookie = "contact_details=" + (event.target.open ? "open" : "closed") + "; Path=/; Max-Age=31536000; SameSite="
      + (framed && secure ? "None" : "Lax") + secure;
  }, true);
  // The header's state (Details inside it) is replaced when the history arrives: keep it as the reader left it.
  document.addEventListener("htmx:oobAfterSwap", function () {
    var details = document.getElementById("contact-details");
    if (details && details.open !== detailsWanted()) { details.open = detailsWanted(); }
  });
})();

// --- 3. Finding your place --------------------------------------------------------------------------------
// Finding your place (the contact page): the card a link or a date opened at, in view; "Link" copies
// the card's permalink; newer activities inserted above without moving what is read; the live check
// for new activity; the last-visit divider on later pages; and the keys (j, k, o, g, ?). Everything
// here is an extra: without JavaScript the links, "Newer activities" and "Go to date" do the same
// with whole pages.
(function () {
  "use strict";

  var FEED = "timeline-feed";
  var LIVE_SECONDS = 30;

  function feed() { return document.getElementById(FEED); }
  function cards() {
    var element = feed();
    return element ? Array.prototype.slice.call(element.querySelectorAll(":scope > article")) : [];
  }
  function feedTop() { return document.getElementById("feed-top"); }
  function atTop() { var top = feedTop(); return !!top && top.hasAttribute("data-at-top"); }
  function barBottom() {
    var bar = document.getElementById("toolbar");
    return bar ? Math.max(0, bar.getBoundingClientRect().bottom) : 0;
  }
  function cardOf(element) { return element && element.closest ? element.closest("#" + FEED + " > article") : null; }
  function say(text) {
    var status = document.getElementById("place-status");
    if (status) { status.textContent = ""; status.textContent = text; }
  }

  // 1. The place a permalink or a date opened at: in view and focused, so j/k and a screen reader start there.
  var place = document.getElementById("place");
  if (place) {
    place.scrollIntoView({ block: "start" });
    place.focus({ preventScroll: true });
  }

  // 2. "Link" copies the card's permalink (absolute); a modified click, or no clipboard, follows the link.
  document.addEventListener("click", function (event) {
    var link = event.target.closest ? event.target.closest("a[data-permalink]") : null;
    if (!link || event.button !== 0 || event.ctrlKey || event.metaKey || event.shiftKey || event.altKey) { return; }
    if (!navigator.clipboard || !window.isSecureContext) { return; }
    event.preventDefault();
    var url = new URL(link.getAttribute("href"), location.href).href;
    navigator.clipboard.writeText(url).then(function () {
      var label = link.firstChild;
      if (label && label.nodeType === 3) {
        label.nodeValue = "Copied";
        setTimeout(function () { label.nodeValue = "Link"; }, 1500);
      }
      say("The link to this activity is copied.");
    }, function () { location.assign(url); });
  });

  // 3. Activities inserted above (the page above, new activity): the card being read stays where it is on
  //    screen, nothing shows twice, a day header is not repeated, and positions stay in order.
  var pending = null;
  function readingCard() {
    var focused = cardOf(document.activeElement);
    var top = barBottom();
    if (focused) {
      var box = focused.getBoundingClientRect();
      if (box.bottom > top && box.top < window.innerHeight) { return focused; }
    }
    var list = cards();
    for (var i = 0; i < list.length; i++) {
      var rect = list[i].getBoundingClientRect();
      if (rect.bottom > top + 1) { return list[i]; }
    }
    return null;
  }
  document.addEventListener("htmx:beforeSwap", function (event) {
    var detail = event.detail;
    var source = detail.requestConfig ? detail.requestConfig.elt : null;  // what asked (detail.elt is the target)
    if (!detail.target || detail.target.id !== FEED || !source || !source.closest
        || !source.closest("[data-insert-above]")) { return; }
    var ref = readingCard();
    // The browser's own scroll anchoring would correct this change once more after this script has:
    // for this one change the card being read is kept still here, and only here.
    document.documentElement.classList.add("keep-still");
    var ids = {};
    cards().forEach(function (card) { ids[card.getAttribute("data-activity-id")] = true; });
    pending = {
      ref: ref, top: ref ? still(ref).getBoundingClientRect().top : 0, first: feed().firstElementChild, ids: ids,
      focusLost: !!source.closest("#live-notice") && source.contains(document.activeElement)
    };
  });

  // What must not move is a card's content: its day header may go (the day now starts above it).
  function still(card) { return card.querySelector(":scope > .card") || card; }

  function dayOf(card) {
    for (var node = card; node; node = node.previousElementSibling) {
      var header = node.querySelector(":scope > .day-header");
      if (header) { return header.textContent; }
    }
    return null;
  }

  function renumber() {
    var list = cards();
    if (!list.length) { return; }
    var base = atTop() ? 1 : Math.max(1, parseInt(list[0].getAttribute("aria-posinset"), 10) || 1);
    var size = -1;
    list.forEach(function (card) { size = Math.max(size, parseInt(card.getAttribute("aria-setsize"), 10) || -1); });
    if (size > 0) { size = Math.max(size, base + list.length - 1); }
    list.forEach(function (card, index) {
      card.setAttribute("aria-posinset", String(base + index));
      if (size > 0) { card.setAttribute("aria-setsize", String(size)); }
    });
  }

  function insertedAbove(state) {
    var inserted = [];
    for (var node = feed().firstElementChild; node && node !== state.first; node = node.nextElementSibling) {
      inserted.push(node);
    }
    inserted = inserted.filter(function (card) {
      if (state.ids[card.getAttribute("data-activity-id")]) { card.remove(); return false; }
      return true;
    });
    if (inserted.length && state.first) {
      var header = state.first.querySelector(":scope > .day-header");
      if (header && dayOf(inserted[inserted.length - 1]) === header.textContent) { header.remove(); }
    }
    feed().setAttribute("data-renumber", "");
    renumber();
    // Laid out now, at their real size: a card skipping layout (content-visibility) would change size
    // as it comes near, after the card being read has been put back where it was.
    inserted.forEach(function (card) { card.classList.add("just-in"); });
    if (state.ref && state.ref.isConnected) {
      var moved = still(state.ref).getBoundingClientRect().top - state.top;  // (a layout without the browser's anchor)
      if (Math.abs(moved) >= 1) { window.scrollBy(0, moved); }
    }
    // From here the browser anchors again, from where things are now (cards above that skipped layout
    // may still change size as they come near).
    document.documentElement.classList.remove("keep-still");
    if (state.focusLost && state.ref && state.ref.isConnected
        && state.ref.getBoundingClientRect().top >= barBottom()) {
      state.ref.focus({ preventScroll: true });  // the button is gone; k goes up to what came in
    }
  }

  document.addEventListener("htmx:afterSwap", function (event) {
    if (!event.target || event.target.id !== FEED) { return; }
    if (pending) {
      var state = pending;
      pending = null;
      insertedAbove(state);
    } else if (feed().hasAttribute("data-renumber")) {
      renumber();
    }
    placeDivider();
    keepMoving();
  });

  // 4. New activity: while the newest page is open and the tab is visible, ask at most every 30 s (the
  //    server answers from one small read shared by everyone looking at the contact). 286: the shared
  //    budget is low, stop asking.
  var live = { timer: null, last: Date.now(), stopped: false };
  function liveUrl() { var top = feedTop(); return top ? top.getAttribute("data-live-url") : null; }
  function stopLive() { live.stopped = true; clearInterval(live.timer); live.timer = null; }
  function poll() {
    var url = liveUrl();
    if (!url || live.stopped || document.visibilityState !== "visible" || !window.htmx) { return; }
    live.last = Date.now();
    var shown = document.querySelector("#live-notice [data-new-activities]");
    var seen = shown ? shown.getAttribute("data-new-activities") : "0";
    fetch(url + "&seen=" + encodeURIComponent(seen), { credentials: "same-origin" }).then(function (response) {
      if (response.redirected) { stopLive(); return null; }  // signed out meanwhile
      if (response.status === 286) { stopLive(); return null; }
      return response.status === 200 ? response.text() : null;
    }).then(function (html) {
      var region = document.getElementById("live-notice");
      if (html === null || !region || liveUrl() !== url) { return; }  // the top changed meanwhile
      window.htmx.swap(region, html, { swapStyle: "innerHTML" });
    }).catch(function () { /* the network is gone: app.js says so on the next page load; ask again later */ });
  }
  function schedule() {
    clearInterval(live.timer);
    live.timer = null;
    if (live.stopped || document.visibilityState !== "visible") { return; }
    if (Date.now() - live.last >= LIVE_SECONDS * 1000) { poll(); }
    live.timer = setInterval(poll, LIVE_SECONDS * 1000);
  }
  document.addEventListener("visibilitychange", schedule);
  schedule();

  // 5. The last-visit divider, when it falls on a page loaded later (last_visit.py).
  function micros(iso) {  // to the microsecond, as Invent and the audit trail keep them (Date stops at ms)
    var fraction = /\.(\d+)/.exec(iso);
    var whole = Date.parse(iso.replace(/\.\d+/, ""));
    return whole * 1000 + (fraction ? parseInt((fraction[1] + "000000").slice(0, 6), 10) : 0);
  }
  function placeDivider() {
    var template = document.getElementById("last-visit-divider");
    var element = feed();
    if (!template || !element || element.querySelector("[data-last-visit]")) { return; }
    var visited = micros(template.getAttribute("data-visited"));
    var list = cards();
    for (var i = 1; i < list.length; i++) {
      // data-created-at keeps Invent's microseconds (a <time datetime> may hold milliseconds at most).
      var created = list[i].getAttribute("data-created-at");
      if (created && micros(created) <= visited) {
        list[i].insertBefore(template.content.cloneNode(true), list[i].firstChild);
        template.remove();
        return;
      }
    }
  }

  // 6. Keys: j / k next / previous card (from nothing focused, j takes the first in view; more is loaded
  //    at either end), o the focused card's long note, g the newest, ? the list. Never while typing.
  var wanted = null;
  function focusCard(card) {
    card.focus({ preventScroll: true });
    card.scrollIntoView({ block: "nearest" });
  }
  function firstInView() {
    var top = barBottom();
    var list = cards();
    for (var i = 0; i < list.length; i++) {
      var rect = list[i].getBoundingClientRect();
      if (rect.bottom > top + 1 && rect.top < window.innerHeight) { return list[i]; }
    }
    return list[0] || null;
  }
  function sibling(card, step) {
    var next = step > 0 ? card.nextElementSibling : card.previousElementSibling;
    return next && next.tagName === "ARTICLE" ? next : null;
  }
  function move(step) {
    var card = cardOf(document.activeElement);
    if (!card) {
      var first = firstInView();
      if (first) { focusCard(first); }
      return;
    }
    var next = sibling(card, step);
    if (next) { focusCard(next); return; }
    var more = document.querySelector(step > 0 ? "#pager [data-next-page]" : "#feed-top [data-newer-page]");
    if (more && window.htmx) {
      wanted = { from: card, step: step };
      window.htmx.trigger(more, "click");
    }
  }
  function keepMoving() {
    if (!wanted) { return; }
    var next = wanted.from.isConnected ? sibling(wanted.from, wanted.step) : null;
    wanted = null;
    if (next) { focusCard(next); }
  }
  function toggleNote() {
    var card = cardOf(document.activeElement);
    var details = card ? card.querySelector("details") : null;
    if (details) { details.open = !details.open; }
  }
  function newest() {
    var top = feedTop();
    if (top && !atTop()) { location.assign(top.getAttribute("data-newest-url")); return; }
    window.scrollTo(0, 0);
    var first = cards()[0];
    if (first) { focusCard(first); }
  }
  function typing(target) {
    return !!(target && (target.isContentEditable
      || (target.closest && target.closest("input, textarea, select, [contenteditable]:not([contenteditable='false'])"))));
  }
  document.addEventListener("keydown", function (event) {
    if (event.defaultPrevented || event.ctrlKey || event.metaKey || event.altKey || typing(event.target)) { return; }
    if (document.querySelector("dialog[open]")) { return; }  // the keys, or the filter sheet
    var key = event.key;
    if (key === "?") {
      var dialog = document.getElementById("keys-dialog");
      if (dialog && dialog.showModal) { event.preventDefault(); dialog.showModal(); }
      return;
    }
    if (event.shiftKey || !feed()) { return; }
    if (key === "j" || key === "k") { event.preventDefault(); move(key === "j" ? 1 : -1); }
    else if (key === "o") { event.preventDefault(); toggleNote(); }
    else if (key === "g") { event.preventDefault(); newest(); }
  });
})();
