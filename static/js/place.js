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
