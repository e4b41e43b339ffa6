// Lightbox for the compare grid. Progressive enhancement: without this script every
// image links to its run page, which shows the full image.
(function () {
  "use strict";
  var links = Array.prototype.slice.call(document.querySelectorAll("a.lightbox-link"));
  if (!links.length) return;
  var box = document.createElement("div");
  box.className = "lightbox";
  box.hidden = true;
  box.setAttribute("role", "dialog");
  box.setAttribute("aria-modal", "true");
  box.setAttribute("aria-label", "Image viewer");
  var img = document.createElement("img");
  var bar = document.createElement("div");
  bar.className = "lightbox-bar";
  var prev = document.createElement("button");
  prev.type = "button";
  prev.textContent = "← Previous";
  var caption = document.createElement("span");
  var open = document.createElement("a");
  open.textContent = "Open the run page";
  var next = document.createElement("button");
  next.type = "button";
  next.textContent = "Next →";
  var close = document.createElement("button");
  close.type = "button";
  close.textContent = "Close (Esc)";
  bar.append(prev, caption, open, next, close);
  box.append(img, bar);
  document.body.appendChild(box);
  var current = 0;
  var opener = null;

  function show(i) {
    current = (i + links.length) % links.length;
    var link = links[current];
    var thumb = link.querySelector("img");
    img.src = link.getAttribute("data-full");
    img.alt = thumb ? thumb.alt : "";
    caption.textContent = link.getAttribute("data-caption") || "";
    open.href = link.href;
  }
  function hide() {
    box.hidden = true;
    img.removeAttribute("src");
    if (opener) opener.focus();
  }
  links.forEach(function (link, i) {
    link.addEventListener("click", function (e) {
      if (e.ctrlKey || e.metaKey || e.shiftKey || e.button !== 0) return;
      e.preventDefault();
      opener = link;
      show(i);
      box.hidden = false;
      close.focus();
    });
  });
  prev.addEventListener("click", function () { show(current - 1); });
  next.addEventListener("click", function () { show(current + 1); });
  close.addEventListener("click", hide);
  box.addEventListener("click", function (e) { if (e.target === box) hide(); });
  document.addEventListener("keydown", function (e) {
    if (box.hidden) return;
    if (e.key === "Escape") { hide(); }
    else if (e.key === "ArrowLeft") { show(current - 1); }
    else if (e.key === "ArrowRight") { show(current + 1); }
  });
})();
