/* MentorHub's small behaviours: menus, the side nav on phones, toasts for failed
   HTMX requests, and busy submit buttons. No inline script anywhere (CSP). */
(function () {
  "use strict";

  function closeMenu(menu, returnFocus) {
    var button = menu.querySelector(".mh-menu-button");
    if (!button || button.getAttribute("aria-expanded") !== "true") return;
    button.setAttribute("aria-expanded", "false");
    menu.classList.remove("is-open");
    if (returnFocus) button.focus();
  }

  function openMenu(menu) {
    document.querySelectorAll("[data-mh-menu].is-open").forEach(function (other) {
      if (other !== menu) closeMenu(other, false);
    });
    var button = menu.querySelector(".mh-menu-button");
    button.setAttribute("aria-expanded", "true");
    menu.classList.add("is-open");
  }

  document.addEventListener("click", function (event) {
    var button = event.target.closest(".mh-menu-button");
    if (button) {
      var menu = button.closest("[data-mh-menu]");
      if (button.getAttribute("aria-expanded") === "true") closeMenu(menu, false);
      else openMenu(menu);
      return;
    }
    document.querySelectorAll("[data-mh-menu].is-open").forEach(function (menu) {
      if (!menu.contains(event.target)) closeMenu(menu, false);
    });
  });

  document.addEventListener("keydown", function (event) {
    if (event.key !== "Escape") return;
    document.querySelectorAll("[data-mh-menu].is-open").forEach(function (menu) {
      closeMenu(menu, true);
    });
    var toggle = document.querySelector("[data-mh-toggle='side-nav']");
    if (toggle && toggle.getAttribute("aria-expanded") === "true") {
      setSideNav(false);
      toggle.focus();
    }
  });

  document.addEventListener("focusout", function (event) {
    var menu = event.target.closest && event.target.closest("[data-mh-menu].is-open");
    if (menu && event.relatedTarget && !menu.contains(event.relatedTarget)) closeMenu(menu, false);
  });

  function setSideNav(open) {
    var toggle = document.querySelector("[data-mh-toggle='side-nav']");
    var nav = document.querySelector("[data-mh-side-nav]");
    var overlay = document.querySelector("[data-mh-overlay]");
    if (!toggle || !nav) return;
    toggle.setAttribute("aria-expanded", open ? "true" : "false");
    toggle.setAttribute("aria-label", open ? "Close menu" : "Open menu");
    nav.classList.toggle("cds--side-nav--expanded", open);
    if (overlay) overlay.classList.toggle("cds--side-nav__overlay-active", open);
    if (open) {
      var first = nav.querySelector("a");
      if (first) first.focus();
    }
  }

  // Widening a phone-sized window past the breakpoint closes the overlay nav.
  var desktop = window.matchMedia("(min-width: 66rem)");
  desktop.addEventListener("change", function (event) {
    if (event.matches) setSideNav(false);
  });

  // After a failed submit, put the keyboard on the first field that needs fixing.
  document.addEventListener("DOMContentLoaded", function () {
    var invalid = document.querySelector("main [aria-invalid='true']");
    if (invalid) invalid.focus();
  });

  document.addEventListener("click", function (event) {
    if (event.target.closest("[data-mh-toggle='side-nav']")) {
      var toggle = document.querySelector("[data-mh-toggle='side-nav']");
      setSideNav(toggle.getAttribute("aria-expanded") !== "true");
    } else if (event.target.closest("[data-mh-overlay]")) {
      setSideNav(false);
    }
  });

  /* Toasts: a failed HTMX request says what happened; the server puts the message in
     X-MentorHub-Message (see app/web/errors.py). */
  function showToast(title, text) {
    var template = document.getElementById("mh-toast-template");
    var region = document.getElementById("mh-toasts");
    if (!template || !region) return;
    var toast = template.content.firstElementChild.cloneNode(true);
    toast.querySelector("[data-toast-title]").textContent = title;
    toast.querySelector("[data-toast-text]").textContent = text || "";
    toast.querySelector("[data-toast-close]").addEventListener("click", function () {
      toast.remove();
    });
    region.appendChild(toast);
    window.setTimeout(function () { toast.remove(); }, 8000);
  }
  window.mentorhubToast = showToast;

  document.addEventListener("htmx:responseError", function (event) {
    var xhr = event.detail.xhr;
    var message = xhr.getResponseHeader("X-MentorHub-Message");
    showToast("That didn't work", message || "The server answered " + xhr.status + ". Please try again.");
  });
  document.addEventListener("htmx:sendError", function () {
    showToast("No connection", "We could not reach MentorHub. Check your connection and try again.");
  });

  /* Some answers are 4xx on purpose and carry a fragment to show: a form with its
     messages (422) or the fresh state after a conflict (409). The server marks them. */
  document.addEventListener("htmx:beforeSwap", function (event) {
    var xhr = event.detail.xhr;
    if (xhr.status >= 400 && xhr.getResponseHeader("X-MentorHub-Swap") === "true") {
      event.detail.shouldSwap = true;
      event.detail.isError = false;
    }
  });

  /* The Schedule tab: every form names the schedule version it was drawn from. After a
     saved change the server announces the new version; forms outside the swapped
     section take it, so the next save from this tab is not mistaken for a stale one. */
  document.addEventListener("mh:schedule-changed", function (event) {
    var version = event.detail && event.detail.version;
    if (version === undefined) return;
    document.querySelectorAll("input[data-schedule-version]").forEach(function (input) {
      input.value = String(version);
    });
  });

  /* A swapped-in form with messages puts the keyboard on its first field to fix. */
  document.addEventListener("htmx:afterSwap", function (event) {
    var target = event.detail.target;
    // After an outerHTML swap the target is the old, detached element: find its successor.
    if (target && !target.isConnected && target.id) target = document.getElementById(target.id);
    var invalid = target && target.querySelector && target.querySelector("[aria-invalid='true']");
    if (invalid) invalid.focus();
  });

  /* HTMX forms: the submit button shows progress and is disabled while the request runs. */
  function setBusy(form, busy) {
    form.querySelectorAll(".mh-submit").forEach(function (button) {
      button.classList.toggle("is-busy", busy);
      button.disabled = busy;
      if (busy) button.setAttribute("aria-disabled", "true");
      else button.removeAttribute("aria-disabled");
    });
  }
  document.addEventListener("htmx:beforeRequest", function (event) {
    var form = event.detail.elt;
    if (form && form.tagName === "FORM") setBusy(form, true);
  });
  document.addEventListener("htmx:afterRequest", function (event) {
    var form = event.detail.elt;
    if (form && form.tagName === "FORM" && form.isConnected) setBusy(form, false);
  });

  /* A submitted form's button shows it is busy and cannot be pressed twice. */
  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (form.hasAttribute("hx-post") || form.hasAttribute("hx-get")) return;
    var button = event.submitter || form.querySelector("button[type='submit']");
    if (!button || !button.classList.contains("mh-submit")) return;
    if (button.dataset.busy === "true") {
      event.preventDefault();
      return;
    }
    button.dataset.busy = "true";
    button.setAttribute("aria-disabled", "true");
    button.classList.add("is-busy");
  });
  window.addEventListener("pageshow", function () {
    document.querySelectorAll(".mh-submit.is-busy").forEach(function (b) {
      b.dataset.busy = "false";
      b.removeAttribute("aria-disabled");
      b.classList.remove("is-busy");
    });
  });

  // The directory's filter panel folds away on phones behind its "Filters" button. The
  // server draws it folded (hub/_directory.html) so nothing moves once the page shows;
  // without JavaScript static/css/nojs.css keeps it open.
  document.addEventListener("click", function (event) {
    var toggle = event.target.closest("[data-filters-toggle]");
    if (!toggle) return;
    var form = document.getElementById(toggle.getAttribute("aria-controls"));
    if (!form) return;
    var open = !form.classList.toggle("is-collapsed");
    toggle.setAttribute("aria-expanded", open ? "true" : "false");
    if (open) {
      var first = form.querySelector("input");
      if (first) first.focus();
    }
  });

  // "Show mentors" on a phone: fold the panel away and show the results it asked for.
  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (!form.classList || !form.classList.contains("mh-dir-filters") || desktop.matches) return;
    form.classList.add("is-collapsed");
    var toggle = document.querySelector("[data-filters-toggle]");
    if (toggle) toggle.setAttribute("aria-expanded", "false");
    var count = document.querySelector("[data-result-count]");
    if (count) count.focus();
  });

  // A chip, a page link or a saved search replaced the whole directory (drawn with the
  // panel folded): put the keyboard on the new result count.
  document.addEventListener("htmx:afterSwap", function (event) {
    var target = event.detail.target;
    if (!target || !target.hasAttribute("data-directory")) return;
    var count = target.querySelector("[data-result-count]");
    if (count) count.focus();
  });

  // A photo over the size cap is refused before it is sent: a proxy may reset a large
  // upload part-way, and the person would see "no connection" instead of the reason.
  // The server refuses it too (this only saves the wait).
  function tooLarge(input) {
    var max = parseInt(input.getAttribute("data-max-bytes"), 10);
    var file = input.files && input.files[0];
    return max > 0 && file && file.size > max ? max : 0;
  }

  function showFileError(input, max) {
    var id = input.id + "-error";
    var error = document.getElementById(id);
    if (!error) {
      error = document.createElement("div");
      error.id = id;
      error.className = "cds--form-requirement mh-field__error";
      input.insertAdjacentElement("afterend", error);
    }
    var mb = Math.round((max / (1024 * 1024)) * 10) / 10;
    error.textContent = "That photo is larger than " + mb + " MB. Choose a smaller one, or save it at a lower resolution first.";
    input.setAttribute("aria-invalid", "true");
    var described = (input.getAttribute("aria-describedby") || "").split(" ");
    if (described.indexOf(id) < 0) input.setAttribute("aria-describedby", (id + " " + described.join(" ")).trim());
    input.focus();
  }

  document.addEventListener("change", function (event) {
    var input = event.target;
    if (!input.matches || !input.matches("input[type=file][data-max-bytes]")) return;
    var max = tooLarge(input);
    if (!max) return;
    event.stopImmediatePropagation();  // no automatic upload of a file that will be refused
    showFileError(input, max);
  }, true);

  document.addEventListener("submit", function (event) {
    var input = event.target.querySelector && event.target.querySelector("input[type=file][data-max-bytes]");
    if (!input) return;
    var max = tooLarge(input);
    if (!max) return;
    event.preventDefault();
    event.stopImmediatePropagation();
    showFileError(input, max);
  }, true);
})();
