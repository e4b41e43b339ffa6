// Lightbox for the compare grid, the blind page and the run page: a modal dialog after
// the WAI-ARIA APG pattern (focus moves in, Tab stays in, Escape closes, focus returns,
// the page behind is inert and does not scroll). Progressive enhancement: without this
// script every image is a plain link (to its run page, or to the image itself).
// Each image has a permalink, `#view-<key>`; Back closes the viewer it opened.
(function () {
  "use strict";
  var links = Array.prototype.slice.call(document.querySelectorAll("a.lightbox-link[data-full]"));
  if (!links.length) return;

  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text) e.textContent = text;
    return e;
  }
  function button(cls, text, label) {
    var b = el("button", cls, text);
    b.type = "button";
    if (label) b.setAttribute("aria-label", label);
    return b;
  }

  var box = el("div", "lightbox");
  box.hidden = true;
  box.id = "lightbox";
  box.setAttribute("role", "dialog");
  box.setAttribute("aria-modal", "true");
  box.setAttribute("aria-labelledby", "lightbox-caption");
  var stage = el("div", "lightbox-stage");
  var img = el("img");
  img.alt = "";
  stage.appendChild(img);
  var caption = el("p", "lightbox-caption");
  caption.id = "lightbox-caption";
  var captionText = el("span");
  var more = el("a");
  caption.append(captionText, " · ", more);
  var bar = el("div", "lightbox-bar");
  var prev = button("lb-prev", "←", "Previous image");
  var count = el("span", "lightbox-count");
  count.setAttribute("aria-live", "polite");
  var next = button("lb-next", "→", "Next image");
  var zoom = button("lb-zoom", "1:1");
  zoom.setAttribute("aria-pressed", "false");
  zoom.setAttribute("aria-label", "1:1 (actual size)");
  var download = el("a", "lb-download", "Download");
  var page = el("a", "lb-page", "Run page");
  var close = button("lb-close", "Close", "Close the viewer (Escape)");
  bar.append(prev, count, next, zoom, download, page, close);
  box.append(stage, caption, bar);
  document.body.appendChild(box);

  // The links always have an href, even before the viewer first opens.
  function fill(i) {
    var link = links[i];
    var thumb = link.querySelector("img");
    img.src = link.getAttribute("data-full");
    img.alt = thumb ? thumb.alt : "";
    captionText.textContent = link.getAttribute("data-caption") || "";
    more.href = link.getAttribute("data-more") || link.href;
    more.textContent = link.getAttribute("data-more-label") || "Read the statement";
    download.href = link.getAttribute("data-full");
    download.setAttribute("download", "");
    page.href = link.href;
    page.hidden = link.href === download.href;
    count.textContent = (i + 1) + " / " + links.length;
    prev.hidden = next.hidden = links.length < 2;
    setZoom(false);
  }
  fill(0);

  var current = -1;
  var opener = null;
  var pushed = false;
  var hiddenSiblings = [];

  function keyOf(i) { return "view-" + (links[i].getAttribute("data-key") || String(i + 1)); }
  function indexOfHash() {
    var h = decodeURIComponent(location.hash.slice(1));
    for (var i = 0; i < links.length; i++) if (keyOf(i) === h) return i;
    return -1;
  }
  function setZoom(on) {
    stage.classList.toggle("actual", on);
    zoom.setAttribute("aria-pressed", on ? "true" : "false");
  }
  function focusables() {
    return Array.prototype.slice.call(box.querySelectorAll("a[href], button"))
      .filter(function (e) { return !e.hidden && e.offsetParent !== null; });
  }

  function open(i, fromHistory) {
    var wasOpen = current >= 0;
    current = (i + links.length) % links.length;
    fill(current);
    var hash = "#" + keyOf(current);
    if (!wasOpen) {
      opener = links[current];
      box.hidden = false;
      document.documentElement.classList.add("lightbox-open");
      // Everything else is inert while the dialog is open.
      hiddenSiblings = Array.prototype.slice.call(document.body.children).filter(function (e) {
        return e !== box && !e.inert;
      });
      hiddenSiblings.forEach(function (e) { e.inert = true; });
      if (!fromHistory) { history.pushState({ lightbox: true }, "", hash); pushed = true; }
      close.focus();
    } else if (location.hash !== hash) {
      history.replaceState(history.state, "", hash);
    }
  }

  function teardown() {
    if (current < 0) return;
    current = -1;
    box.hidden = true;
    img.removeAttribute("src");
    document.documentElement.classList.remove("lightbox-open");
    hiddenSiblings.forEach(function (e) { e.inert = false; });
    hiddenSiblings = [];
    if (opener) opener.focus();
  }

  function hide() {
    if (current < 0) return;
    if (pushed) {
      pushed = false;
      history.back(); // popstate finishes the closing
    } else {
      history.replaceState(history.state, "", location.pathname + location.search);
      teardown();
    }
  }

  links.forEach(function (link, i) {
    link.addEventListener("click", function (e) {
      if (e.ctrlKey || e.metaKey || e.shiftKey || e.altKey || e.button !== 0) return;
      e.preventDefault();
      open(i, false);
    });
  });
  prev.addEventListener("click", function () { open(current - 1); });
  next.addEventListener("click", function () { open(current + 1); });
  zoom.addEventListener("click", function () { setZoom(!stage.classList.contains("actual")); });
  close.addEventListener("click", hide);
  more.addEventListener("click", function () {
    // The statement is on this page: close, then follow the link.
    var target = more.getAttribute("href");
    if (target && target.charAt(0) === "#") {
      pushed = false;
      teardown();
      opener = null;
    }
  });
  box.addEventListener("click", function (e) { if (e.target === box || e.target === stage) hide(); });

  document.addEventListener("keydown", function (e) {
    if (current < 0) return;
    if (e.key === "Escape") { e.preventDefault(); hide(); }
    else if (e.key === "ArrowLeft" && !stage.classList.contains("actual")) { e.preventDefault(); open(current - 1); }
    else if (e.key === "ArrowRight" && !stage.classList.contains("actual")) { e.preventDefault(); open(current + 1); }
    else if (e.key === "Tab") {
      var f = focusables();
      if (!f.length) return;
      var first = f[0], last = f[f.length - 1];
      if (e.shiftKey && (document.activeElement === first || !box.contains(document.activeElement))) {
        e.preventDefault(); last.focus();
      } else if (!e.shiftKey && (document.activeElement === last || !box.contains(document.activeElement))) {
        e.preventDefault(); first.focus();
      }
    }
  });

  // Swipe left or right on touch screens.
  var startX = null, startY = null;
  stage.addEventListener("touchstart", function (e) {
    if (e.touches.length !== 1) { startX = null; return; }
    startX = e.touches[0].clientX; startY = e.touches[0].clientY;
  }, { passive: true });
  stage.addEventListener("touchend", function (e) {
    if (startX === null || stage.classList.contains("actual")) return;
    var dx = e.changedTouches[0].clientX - startX, dy = e.changedTouches[0].clientY - startY;
    startX = null;
    if (Math.abs(dx) > 50 && Math.abs(dx) > 1.5 * Math.abs(dy)) open(current + (dx < 0 ? 1 : -1));
  });

  window.addEventListener("popstate", function () {
    var i = indexOfHash();
    if (i >= 0) { if (current < 0) pushed = false; open(i, true); }
    else { pushed = false; teardown(); }
  });
  var initial = indexOfHash();
  if (initial >= 0) open(initial, true);
})();
