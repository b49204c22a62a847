/* Multi-select checkbox lists (templates/profile/_fields.html, `multiselect`).

   The markup works without JavaScript: a fieldset of checkboxes. This adds a filter box
   that hides the options whose label does not contain the typed text (case and accents
   ignored), a "no match" line, and keeps the "n of max chosen" count current. Lists
   swapped in by htmx are enhanced too (htmx:load). No inline script: CSP forbids it. */
(function () {
  "use strict";

  function fold(text) {
    return (text || "").normalize("NFD").replace(/[\u0300-\u036f]/g, "").toLowerCase().trim();
  }

  function updateCount(root) {
    var count = root.querySelector("[data-mh-count]");
    if (!count) return;
    var chosen = root.querySelectorAll("input[type='checkbox']:checked").length;
    var max = root.getAttribute("data-max");
    count.textContent = chosen + (max ? " of " + max : "") + " chosen";
    count.classList.toggle("mh-multiselect__count--over", !!max && chosen > Number(max));
  }

  function applyFilter(root, text) {
    var needle = fold(text);
    var shown = 0;
    root.querySelectorAll("[data-mh-option]").forEach(function (option) {
      var match = !needle || fold(option.textContent).indexOf(needle) !== -1;
      option.hidden = !match;
      if (match) shown += 1;
    });
    var empty = root.querySelector("[data-mh-empty]");
    if (empty) empty.hidden = shown !== 0;
  }

  function enhance(root) {
    if (root.getAttribute("data-mh-enhanced") === "true") return;
    root.setAttribute("data-mh-enhanced", "true");
    var search = root.querySelector("[data-mh-search]");
    var input = search && search.querySelector("input");
    if (search && input) {
      search.hidden = false;
      // The filter box is not part of the form's data, and typing in it is not an edit.
      input.removeAttribute("name");
      input.addEventListener("input", function (event) {
        event.stopPropagation();
        applyFilter(root, input.value);
      });
      input.addEventListener("change", function (event) { event.stopPropagation(); });
      input.addEventListener("keydown", function (event) {
        if (event.key === "Enter") {
          event.preventDefault();  // Enter filters; it does not submit the profile
          var first = root.querySelector("[data-mh-option]:not([hidden]) input");
          if (first) first.focus();
        } else if (event.key === "Escape" && input.value) {
          event.preventDefault();
          input.value = "";
          applyFilter(root, "");
        }
      });
    }
    root.addEventListener("change", function (event) {
      if (event.target && event.target.type === "checkbox") updateCount(root);
    });
    updateCount(root);
  }

  function enhanceAll(scope) {
    var node = scope && scope.querySelectorAll ? scope : document;
    if (node.matches && node.matches("[data-mh-multiselect]")) enhance(node);
    node.querySelectorAll("[data-mh-multiselect]").forEach(enhance);
  }

  document.addEventListener("DOMContentLoaded", function () { enhanceAll(document); });
  document.addEventListener("htmx:load", function (event) { enhanceAll(event.target); });
})();
