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
