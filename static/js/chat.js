/* A conversation (templates/chat/thread.html). htmx does the work; this file only:
   - skips the poll ([data-mh-chat-poll]) while the tab is hidden, and polls at once when
     it comes back (no inline script: CSP);
   - keeps the log scrolled to the newest message when the reader was already there;
   - drops a message the page already shows (a poll and a send crossing each other);
   - after a send, puts the cursor back in the emptied box; Ctrl/Cmd+Enter sends. */
(function () {
  "use strict";

  function scroller() { return document.querySelector("[data-mh-chat-scroller]"); }

  function atBottom(el) { return el.scrollHeight - el.scrollTop - el.clientHeight < 80; }

  function toBottom() {
    var el = scroller();
    if (el) el.scrollTop = el.scrollHeight;
  }

  var stick = true;

  document.addEventListener("DOMContentLoaded", function () {
    toBottom();
    var el = scroller();
    if (el) el.addEventListener("scroll", function () { stick = atBottom(el); });
  });

  document.addEventListener("htmx:beforeRequest", function (event) {
    var elt = event.detail.elt;
    if (elt && elt.matches && elt.matches("[data-mh-chat-poll]") && document.hidden) {
      event.preventDefault();
    }
  });

  document.addEventListener("visibilitychange", function () {
    if (document.hidden || !window.htmx) return;
    var poll = document.querySelector("[data-mh-chat-poll]");
    if (poll) window.htmx.trigger(poll, "mh:chat-poll");
  });

  document.addEventListener("htmx:afterSwap", function (event) {
    var target = event.detail.target;
    if (!target || target.id !== "chat-log") return;
    var seen = {};
    Array.prototype.slice.call(target.children).forEach(function (item) {
      if (!item.id) return;
      if (seen[item.id]) item.parentNode.removeChild(item);
      else seen[item.id] = true;
    });
    var fromForm = event.detail.requestConfig && event.detail.requestConfig.elt &&
      event.detail.requestConfig.elt.matches && event.detail.requestConfig.elt.matches("[data-mh-chat-form]");
    if (stick || fromForm) toBottom();
  });

  document.addEventListener("htmx:afterSettle", function (event) {
    var elt = event.detail.requestConfig && event.detail.requestConfig.elt;
    if (elt && elt.matches && elt.matches("[data-mh-chat-form]")) {
      var box = document.querySelector("[data-mh-chat-input]");
      if (box) box.focus();
    }
  });

  document.addEventListener("keydown", function (event) {
    var box = event.target;
    if (!box || !box.matches || !box.matches("[data-mh-chat-input]")) return;
    if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
      event.preventDefault();
      var form = box.form;
      if (form && form.requestSubmit) form.requestSubmit();
    }
  });
})();
