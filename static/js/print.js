/* The Print button of a progress snapshot (templates/progress/*): [data-mh-print] opens the
   browser's print dialog; the print stylesheet (css/progress.css) does the rest. A file, not
   an onclick attribute: CSP forbids inline handlers. */
(function () {
  "use strict";
  document.addEventListener("click", function (event) {
    var target = event.target;
    var button = target && target.closest ? target.closest("[data-mh-print]") : null;
    if (!button) return;
    event.preventDefault();
    window.print();
  });
})();
