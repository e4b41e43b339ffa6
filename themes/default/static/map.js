// The style map on a touch screen: the first tap on a mark names it (it takes focus, and
// focus shows its label in the band, as for a keyboard), a second tap on the same mark
// follows its link to the run. A mouse, a keyboard and screen readers are not affected.
// Without this script a tap follows the link at once, as before.
(function () {
  "use strict";
  var maps = document.querySelectorAll("svg.style-map");
  if (!maps.length) return;
  var touch = false;
  var named = null;
  // Which kind of pointer the click that follows comes from.
  document.addEventListener("pointerdown", function (e) {
    touch = e.pointerType === "touch" || e.pointerType === "pen";
  }, true);
  Array.prototype.forEach.call(maps, function (map) {
    map.addEventListener("click", function (e) {
      var mark = e.target.closest ? e.target.closest("a.pt") : null;
      if (!mark || !touch) return;
      if (named === mark) {
        named = null;
        return;
      }
      e.preventDefault();
      named = mark;
      mark.focus();
    });
    // Once the label is gone, the next tap on that mark names it again.
    map.addEventListener("focusout", function (e) {
      if (e.target === named) named = null;
    });
  });
})();
