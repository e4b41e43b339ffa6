// Blind votes (docs/votes.md). On a group's blind page the viewer picks the best of the
// images shown ("best of N": one vote, N-1 pairwise wins). Votes are kept in this
// browser's localStorage, for every group voted on, and offered as a JSON file to
// download; `chorus votes import FILE` adds them to the project's history. Nothing is
// sent anywhere. Images are named by their opaque blind tokens, never by the Artist.
(function () {
  "use strict";
  var panel = document.querySelector(".vote-panel[data-group]");
  if (!panel) return;
  var groupId = panel.getAttribute("data-group");
  var buttons = Array.prototype.slice.call(document.querySelectorAll("button.vote-button[data-token]"));
  var controls = panel.querySelector(".vote-controls");
  var status = document.getElementById("vote-status");
  var voterInput = document.getElementById("vote-voter");
  var download = document.getElementById("vote-download");
  var forget = document.getElementById("vote-forget");
  var KEY = "chorus-votes";
  var VOTER_KEY = "chorus-voter";
  var ANONYMOUS = "anonymous";
  var blobUrl = null;

  var store = null;
  try {
    store = window.localStorage;
    store.setItem("chorus-probe", "1");
    store.removeItem("chorus-probe");
  } catch (e) {
    store = null;
  }

  // The label rule of src/store/votes/label.rs, written the same way so that import has
  // nothing to clean in what this page wrote: whitespace (pasted tabs, line breaks) is
  // one space, control and direction characters and lone surrogates are dropped, and at
  // most 64 characters are kept, counted in code points (slice(0, 64) on UTF-16 units
  // cut emoji in half).
  var SPACE = /[\u0009-\u000d \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]/;
  var DROPPED = /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069\ufeff\ufffd\ud800-\udfff]/;
  function cleanLabel(label) {
    var chars = Array.from(typeof label === "string" ? label : "");
    var out = [];
    for (var i = 0; i < chars.length; i++) {
      // A pair (an emoji) is one element of length 2; only a lone surrogate has length 1.
      var c = chars[i].length === 1 && SPACE.test(chars[i]) ? " " : chars[i];
      if ((c.length === 1 && DROPPED.test(c)) || (c === " " && (!out.length || out[out.length - 1] === " "))) continue;
      if (out.length === 64) break;
      out.push(c);
    }
    while (out.length && out[out.length - 1] === " ") out.pop();
    return out.length ? out.join("") : ANONYMOUS;
  }

  // Votes kept by an older page may carry a label it cut badly; cleaned here, they stop
  // spoiling every later download.
  function load() {
    if (!store) return [];
    try {
      var data = JSON.parse(store.getItem(KEY) || "null");
      var votes = data && data.version === 1 && Array.isArray(data.votes) ? data.votes : [];
      votes.forEach(function (v) { if (v) v.voter = cleanLabel(v.voter); });
      return votes;
    } catch (e) {
      return [];
    }
  }

  function save(votes) {
    if (store) store.setItem(KEY, JSON.stringify({ format: "chorus-votes", version: 1, votes: votes }));
  }

  // A random (version 4) UUID from getRandomValues, which works on file:// and plain
  // http too, unlike crypto.randomUUID.
  function uuid() {
    var b = new Uint8Array(16);
    window.crypto.getRandomValues(b);
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    var h = Array.prototype.map.call(b, function (x) { return (x + 0x100).toString(16).slice(1); }).join("");
    return h.slice(0, 8) + "-" + h.slice(8, 12) + "-" + h.slice(12, 16) + "-" + h.slice(16, 20) + "-" + h.slice(20);
  }

  function revealAll() {
    document.querySelectorAll("details.reveal").forEach(function (d) { d.open = true; });
  }

  function labelOf(token) {
    for (var i = 0; i < buttons.length; i++) {
      if (buttons[i].getAttribute("data-token") === token) {
        var head = buttons[i].closest(".column").querySelector(".column-head");
        return head ? head.textContent : "";
      }
    }
    return "";
  }

  function refresh() {
    var votes = load();
    var mine = null;
    votes.forEach(function (v) { if (v.groupId === groupId) mine = v; });
    buttons.forEach(function (b) {
      b.hidden = false;
      b.disabled = !!mine;
      var chosen = mine && mine.winner === b.getAttribute("data-token");
      b.closest(".column").classList.toggle("voted", !!chosen);
      b.setAttribute("aria-pressed", chosen ? "true" : "false");
    });
    if (!store) {
      status.textContent = "This browser does not let the page keep votes (storage is off), so voting is not possible here.";
      buttons.forEach(function (b) { b.disabled = true; });
    } else if (mine) {
      status.textContent = "You picked " + labelOf(mine.winner) + " as the best here; the names are revealed below. " +
        votes.length + " vote" + (votes.length === 1 ? "" : "s") + " kept in this browser.";
    } else {
      status.textContent = votes.length
        ? votes.length + " vote" + (votes.length === 1 ? "" : "s") + " from other groups kept in this browser. Pick the best image here."
        : "No votes yet. Pick the best image here.";
    }
    if (blobUrl) URL.revokeObjectURL(blobUrl);
    blobUrl = null;
    download.hidden = votes.length === 0;
    forget.hidden = votes.length === 0;
    if (votes.length) {
      var file = JSON.stringify({ format: "chorus-votes", version: 1, votes: votes }, null, 2) + "\n";
      blobUrl = URL.createObjectURL(new Blob([file], { type: "application/json" }));
      download.href = blobUrl;
      download.setAttribute("download", "chorus-votes-" + new Date().toISOString().slice(0, 10) + ".json");
      download.textContent = "Download your " + votes.length + " vote" + (votes.length === 1 ? "" : "s") + " (JSON)";
    }
    if (mine) revealAll();
  }

  buttons.forEach(function (b) {
    b.addEventListener("click", function () {
      var votes = load();
      if (votes.some(function (v) { return v.groupId === groupId; })) return;
      var winner = b.getAttribute("data-token");
      var losers = buttons.map(function (x) { return x.getAttribute("data-token"); })
        .filter(function (t) { return t !== winner; });
      var voter = cleanLabel(voterInput.value);
      votes.push({ id: uuid(), groupId: groupId, winner: winner, losers: losers,
        votedAt: new Date().toISOString(), voter: voter });
      save(votes);
      refresh();
      download.focus();
    });
  });

  // The label as it will be written, shown back in the field.
  function keptLabel(value) {
    var label = cleanLabel(value);
    return label === ANONYMOUS ? "" : label;
  }

  if (store) {
    voterInput.value = keptLabel(store.getItem(VOTER_KEY));
    voterInput.addEventListener("change", function () {
      voterInput.value = keptLabel(voterInput.value);
      store.setItem(VOTER_KEY, voterInput.value);
    });
  }

  forget.addEventListener("click", function () {
    if (!window.confirm("Forget every vote kept in this browser? Download them first if you want to keep them.")) return;
    if (store) store.removeItem(KEY);
    buttons.forEach(function (x) { x.disabled = false; });
    refresh();
  });

  controls.hidden = false;
  refresh();
})();
