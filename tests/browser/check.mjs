// Browser checks of a built chorus site, driven by tests/browser.rs (which builds the
// fixture with the real binary and passes its facts in FIXTURE, a JSON file).
//
// Serves the site under a sub-path on 127.0.0.1 the way a static host does (404.html
// for anything missing), drives Debian's chromium through puppeteer-core (no browser
// download), and checks: console errors and failed requests, layout at five widths,
// keyboard use of the lightbox, axe-core (light and dark), the Nu HTML checker, that the
// blind page names no Artist in any URL or attribute, and live reload in `chorus serve`.
// Prints one line per failure and exits 1 when there is any.

import fs from "node:fs";
import http from "node:http";
import path from "node:path";
import { execFile } from "node:child_process";
import { createRequire } from "node:module";
import puppeteer from "puppeteer-core";

const require = createRequire(import.meta.url);
const fx = JSON.parse(fs.readFileSync(process.env.FIXTURE, "utf8"));
const failures = [];
const fail = (what) => { failures.push(what); console.log(`FAIL ${what}`); };
const note = (what) => console.log(`  ${what}`);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// ---- a static host under a sub-path ---------------------------------------------------
const TYPES = { ".html": "text/html; charset=utf-8", ".css": "text/css", ".js": "text/javascript",
  ".svg": "image/svg+xml", ".png": "image/png", ".jpg": "image/jpeg", ".json": "application/json",
  ".xml": "application/xml" };
function serveStatic(root, prefix) {
  const server = http.createServer((req, res) => {
    const url = new URL(req.url, "http://x");
    let rel = decodeURIComponent(url.pathname);
    const send = (file, status) => {
      res.writeHead(status, { "content-type": TYPES[path.extname(file)] || "application/octet-stream" });
      fs.createReadStream(file).pipe(res);
    };
    if (rel.startsWith(prefix)) {
      rel = rel.slice(prefix.length);
      if (rel === "" || rel.endsWith("/")) rel += "index.html";
      const file = path.join(root, rel);
      if (file.startsWith(root) && !rel.includes("..") && fs.existsSync(file) && fs.statSync(file).isFile()) {
        return send(file, 200);
      }
    }
    send(path.join(root, "404.html"), 404);
  });
  return new Promise((resolve) => server.listen(0, "127.0.0.1", () => resolve(server)));
}

const server = await serveStatic(path.resolve(fx.site), fx.prefix);
const origin = `http://127.0.0.1:${server.address().port}`;
const base = origin + fx.prefix;
const pages = {
  index: base + "index.html",
  compare: base + fx.compare,
  run: base + fx.run,
  failed_run: base + fx.failed_run,
  artist: base + fx.artist,
  prompt: base + fx.prompt,
  blind: base + fx.blind,
  leaderboard: base + "leaderboards/index.html",
  prompt_leaderboard: base + fx.prompt_leaderboard,
  notfound: base + "groups/no-such-group/deeper/page.html",
};

const browser = await puppeteer.launch({
  executablePath: fx.chromium,
  headless: true,
  args: ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run"],
});
fs.mkdirSync(fx.shots, { recursive: true });

async function newPage(width = 1280, height = 900) {
  const page = await browser.newPage();
  await page.setViewport({ width, height });
  return page;
}

// Loads a page, scrolls through it so lazy images load, and reports console errors and
// failed requests (the 404 page's own status is expected).
async function loadClean(name, url) {
  const page = await newPage();
  const problems = [];
  // A failed load is reported below with its URL; the console's copy of it has none.
  page.on("console", (m) => { if (m.type() === "error" && !m.text().startsWith("Failed to load resource")) problems.push(`console: ${m.text()}`); });
  page.on("pageerror", (e) => problems.push(`script error: ${e.message}`));
  page.on("requestfailed", (r) => problems.push(`request failed: ${r.url()} ${r.failure()?.errorText}`));
  page.on("response", (r) => {
    if (r.status() >= 400 && !(name === "notfound" && r.url() === url)) problems.push(`HTTP ${r.status()}: ${r.url()}`);
  });
  await page.goto(url, { waitUntil: "load" });
  await page.evaluate(async () => {
    for (let y = 0; y < document.body.scrollHeight; y += 600) { window.scrollTo(0, y); await new Promise((r) => setTimeout(r, 20)); }
  });
  await page.waitForNetworkIdle({ idleTime: 200, timeout: 10000 }).catch(() => {});
  for (const p of problems) fail(`${name}: ${p}`);
  await page.close();
  return problems.length === 0;
}

async function shot(page, name) {
  const file = path.join(fx.shots, `${name}.png`);
  await page.screenshot({ path: file, fullPage: false });
}

// ---- 0. a blind vote, downloaded, imported and on the leaderboard ----------------------
// In a context of its own, so the other checks see the blind page before any vote.
console.log("votes");
{
  const context = await browser.createBrowserContext();
  const page = await context.newPage();
  await page.setViewport({ width: 1280, height: 900 });
  const problems = [];
  page.on("console", (m) => { if (m.type() === "error") problems.push(`console: ${m.text()}`); });
  page.on("pageerror", (e) => problems.push(`script error: ${e.message}`));
  fs.mkdirSync(fx.downloads, { recursive: true });
  const cdp = await browser.target().createCDPSession();
  await cdp.send("Browser.setDownloadBehavior", { behavior: "allow", downloadPath: fx.downloads, browserContextId: context.id });
  await page.goto(pages.blind, { waitUntil: "load" });
  const before = await page.evaluate(() => ({
    buttons: [...document.querySelectorAll("button.vote-button")].filter((b) => !b.hidden && !b.disabled).length,
    revealed: [...document.querySelectorAll("details.reveal")].filter((d) => d.open).length,
    download: !document.getElementById("vote-download").hidden,
  }));
  if (before.buttons !== fx.ballot) fail(`votes: ${before.buttons} enabled vote buttons, expected ${fx.ballot}`);
  if (before.revealed) fail(`votes: ${before.revealed} names revealed before any vote`);
  if (before.download) fail("votes: a download link before any vote");
  // A pasted label (issue 26): a tab, and an emoji where the old slice(0, 64) on UTF-16
  // units left a lone surrogate that every later download carried and import refused.
  // Setting the value, as a paste does, bypasses the field's maxlength.
  const pasted = "x".repeat(61) + "\t\u202e😀😀😀";
  const label = "x".repeat(61) + " 😀😀";
  await page.$eval("#vote-voter", (i, v) => { i.value = v; i.dispatchEvent(new Event("change")); }, pasted);
  const buttons = await page.$$("button.vote-button");
  await buttons[1].click();
  const after = await page.evaluate(() => {
    const b = document.querySelector(".column.voted");
    return {
      token: b?.querySelector("button.vote-button")?.getAttribute("data-token"),
      name: b?.querySelector("details.reveal p")?.textContent.split(" → ")[0].trim(),
      revealed: [...document.querySelectorAll("details.reveal")].every((d) => d.open),
      disabled: [...document.querySelectorAll("button.vote-button")].every((x) => x.disabled),
      status: document.getElementById("vote-status").textContent,
      href: document.getElementById("vote-download").getAttribute("href"),
    };
  });
  if (!after.token) fail("votes: no column marked as voted after the click");
  if (!after.revealed) fail("votes: the names were not revealed after voting");
  if (!after.disabled) fail("votes: the buttons still take a second vote on the same group");
  if (!/You picked Artist [A-Z]/.test(after.status)) fail(`votes: status says ${after.status}`);
  if (!after.href?.startsWith("blob:")) fail(`votes: the download link is ${after.href}, not a Blob`);
  await shot(page, "blind-voted-1280");
  await page.click("#vote-download");
  let file = null;
  for (let i = 0; i < 100 && !file; i++) {
    await sleep(100);
    file = fs.readdirSync(fx.downloads).find((f) => f.endsWith(".json"));
  }
  if (!file) {
    fail("votes: clicking “Download” saved no file");
  } else {
    const saved = path.join(fx.downloads, file);
    const data = JSON.parse(fs.readFileSync(saved, "utf8"));
    const v = data.votes?.[0];
    if (data.format !== "chorus-votes" || data.version !== 1 || data.votes.length !== 1) fail(`votes: downloaded ${JSON.stringify(data).slice(0, 200)}`);
    else if (v.groupId !== fx.newest || v.winner !== after.token || v.losers.length !== fx.ballot - 1 || v.voter !== label) fail(`votes: the vote is ${JSON.stringify(v)}`);
    else note(`votes: downloaded ${file}: one vote, ${after.token} best of ${fx.ballot}, voter "${v.voter}"`);
    for (const needle of [...fx.slugs, ...fx.names]) if (fs.readFileSync(saved, "utf8").toLowerCase().includes(needle.toLowerCase())) fail(`votes: the votes file names an Artist (${needle})`);
    const run = (args) => new Promise((resolve) => execFile(fx.chorus, ["--root", fx.root, ...args], (err, stdout, stderr) => resolve({ code: err ? err.code : 0, stderr })));
    const imported = await run(["votes", "import", saved]);
    if (imported.code !== 0) fail(`votes: chorus votes import exited ${imported.code}: ${imported.stderr}`);
    const again = await run(["votes", "import", saved]);
    if (again.code !== 0 || !/Nothing to import/.test(again.stderr)) fail(`votes: a second import was not a no-op: ${again.stderr}`);
    const built = await run(["build"]);
    if (built.code !== 0) fail(`votes: chorus build exited ${built.code}: ${built.stderr}`);
    await page.goto(pages.leaderboard, { waitUntil: "load" });
    const board = await page.evaluate(() => ({
      lede: document.querySelector(".lede")?.textContent || "",
      first: document.querySelector(".leaderboard tbody tr th")?.textContent || "",
    }));
    if (!/From 1 blind vote on 1 group/.test(board.lede)) fail(`votes: the leaderboard says ${board.lede}`);
    else if (board.first !== after.name) fail(`votes: the leaderboard leads with ${board.first}, not the picked ${after.name}`);
    else note(`votes: imported and built; the leaderboard leads with ${board.first}, the Artist picked`);
    await shot(page, "leaderboard-voted-1280");
  }
  // The vote is still there after a reload; the page passes axe in that state too.
  await page.setBypassCSP(true);
  await page.goto(pages.blind, { waitUntil: "load" });
  const kept = await page.evaluate(() => !!document.querySelector(".column.voted"));
  if (!kept) fail("votes: the vote was not kept in the browser across a reload");
  await page.evaluate(fs.readFileSync(require.resolve("axe-core/axe.min.js"), "utf8"));
  const axe = await page.evaluate(async () => (await window.axe.run(document, { resultTypes: ["violations"] }))
    .violations.map((v) => `${v.id} (${v.impact}): ${v.nodes.slice(0, 3).map((n) => n.target.join(" ")).join(" | ")}`));
  for (const v of axe) fail(`axe blind after voting: ${v}`);
  for (const p of problems) fail(`votes: ${p}`);
  await context.close();
}

// ---- 1. console errors and failed requests -------------------------------------------
console.log("console errors and failed requests");
for (const [name, url] of Object.entries(pages)) {
  if (await loadClean(name, url)) note(`${name}: clean`);
}
{
  const page = await newPage();
  await page.goto(pages.notfound);
  const home = await page.$eval("main a", (a) => a.href);
  const res = await page.goto(home);
  if (!res || res.status() !== 200) fail(`404 page: its home link ${home} does not load`);
  else note(`404 page: home link works from a deep URL (${home})`);
  await page.close();
}

// ---- 2. layout ---------------------------------------------------------------------
console.log("layout");
const WIDTHS = [360, 390, 768, 1024, 1280, 1920];
for (const name of ["compare", "blind", "index", "run", "failed_run", "artist", "prompt", "leaderboard", "notfound"]) {
  const page = await newPage();
  for (const width of WIDTHS) {
    await page.setViewport({ width, height: 900 });
    await page.goto(pages[name], { waitUntil: "load" });
    const r = await page.evaluate(() => {
      const out = { sideways: document.documentElement.scrollWidth - document.documentElement.clientWidth, columns: [], overflow: [] };
      for (const col of document.querySelectorAll(".compare > .column")) {
        const c = col.getBoundingClientRect();
        out.columns.push([Math.round(c.left), Math.round(c.right)]);
        for (const el of col.querySelectorAll("*")) {
          if (el.closest(".visually-hidden")) continue;
          const e = el.getBoundingClientRect();
          if (e.width === 0 && e.height === 0) continue;
          if (e.left < c.left - 1 || e.right > c.right + 1) {
            out.overflow.push(`${el.tagName.toLowerCase()}.${el.className} ${Math.round(e.left)}–${Math.round(e.right)} outside ${Math.round(c.left)}–${Math.round(c.right)}`);
          }
        }
      }
      out.viewport = window.innerWidth;
      return out;
    });
    if (r.sideways > 0) fail(`${name} at ${width}px: the document scrolls sideways by ${r.sideways}px`);
    for (const [l, rt] of r.columns) {
      if (l < 0 || rt > r.viewport) fail(`${name} at ${width}px: a column spans ${l}–${rt}, outside the ${r.viewport}px viewport`);
    }
    for (const o of r.overflow.slice(0, 3)) fail(`${name} at ${width}px: ${o}`);
    if (r.columns.length) note(`${name} at ${width}px: ${r.columns.length} columns in view, ${new Set(r.columns.map((c) => c[1] <= r.viewport)).size === 1 ? "all inside" : "?"}`);
    if ([390, 1024, 1280].includes(width)) await shot(page, `${name}-${width}`);
  }
  await page.close();
}
{
  // Dark mode screenshots of the difference views.
  const page = await newPage(1280, 900);
  await page.emulateMediaFeatures([{ name: "prefers-color-scheme", value: "dark" }]);
  await page.goto(pages.compare, { waitUntil: "load" });
  await page.evaluate(() => document.querySelector("#differences")?.scrollIntoView());
  await shot(page, "compare-differences-dark-1280");
  await page.emulateMediaFeatures([{ name: "prefers-color-scheme", value: "light" }]);
  await page.evaluate(() => document.querySelector("#differences")?.scrollIntoView());
  await shot(page, "compare-differences-1280");
  await page.goto(pages.artist, { waitUntil: "load" });
  await page.evaluate(() => document.querySelector("#profile")?.scrollIntoView());
  await shot(page, "artist-profile-1280");
  await page.close();
}

// ---- 3. keyboard and the lightbox ---------------------------------------------------
console.log("keyboard");
async function lightboxChecks(name, url, width) {
  const page = await newPage(width, 900);
  await page.goto(url, { waitUntil: "load" });
  const expected = await page.$$eval("a.lightbox-link", (as) => as.length);
  const hrefless = await page.$$eval(".lightbox a", (as) => as.filter((a) => !a.getAttribute("href")).length);
  if (hrefless) fail(`${name}: ${hrefless} lightbox link(s) without an href before opening`);
  // Tab through the page: every image is reached, each column costs one tab stop.
  const reached = new Set();
  const perColumn = new Map();
  for (let i = 0; i < 400; i++) {
    await page.keyboard.press("Tab");
    const info = await page.evaluate(() => {
      const a = document.activeElement;
      if (!a || a === document.body) return null;
      const col = a.closest(".column");
      return { image: a.matches("a.lightbox-link") ? a.getAttribute("data-key") : null, col: col ? col.id : null, inStatement: !!a.closest(".statement, .reveal, details, .vote"), footer: !!a.closest("footer") };
    });
    if (!info) continue;
    if (info.image) reached.add(info.image);
    if (info.col && !info.inStatement) perColumn.set(info.col, (perColumn.get(info.col) || 0) + 1);
    if (info.footer) break;
  }
  if (reached.size !== expected) fail(`${name}: Tab reached ${reached.size} of ${expected} images`);
  for (const [col, n] of perColumn) if (n > 1) fail(`${name}: column ${col} has ${n} tab stops`);
  note(`${name}: Tab reached ${reached.size}/${expected} images; tab stops per column: ${[...new Set(perColumn.values())].join(",") || "–"}`);

  // Enter opens; focus moves in; arrows move; Tab stays in; Escape closes; focus returns.
  await page.focus("a.lightbox-link");
  const openerHref = await page.$eval("a.lightbox-link", (a) => a.getAttribute("data-key"));
  await page.keyboard.press("Enter");
  await sleep(100);
  const state = () => page.evaluate(() => {
    const box = document.querySelector(".lightbox");
    return { open: box && !box.hidden, inside: box && box.contains(document.activeElement),
      count: box?.querySelector(".lightbox-count")?.textContent, hash: location.hash,
      locked: getComputedStyle(document.documentElement).overflow === "hidden",
      hrefs: [...(box?.querySelectorAll("a") || [])].every((a) => a.getAttribute("href")),
      caption: box?.querySelector(".lightbox-caption")?.textContent };
  });
  let s = await state();
  if (!s.open) { fail(`${name}: Enter on an image did not open the lightbox`); await page.close(); return; }
  if (!s.inside) fail(`${name}: focus did not move into the lightbox`);
  if (!s.locked) fail(`${name}: the page behind still scrolls while the lightbox is open`);
  if (!s.hash.startsWith("#view-")) fail(`${name}: no #view- permalink (hash ${s.hash})`);
  if (!s.hrefs) fail(`${name}: a lightbox link has no href`);
  if (expected > 1) {
    await page.keyboard.press("ArrowRight");
    const s2 = await state();
    if (s2.count !== `2 / ${expected}`) fail(`${name}: ArrowRight shows ${s2.count}, not 2 / ${expected}`);
    await page.keyboard.press("ArrowLeft");
  }
  for (let i = 0; i < 12; i++) {
    await page.keyboard.press("Tab");
    if (!(await state()).inside) { fail(`${name}: Tab #${i + 1} left the lightbox`); break; }
  }
  await page.keyboard.down("Shift");
  for (let i = 0; i < 6; i++) {
    await page.keyboard.press("Tab");
    if (!(await state()).inside) { fail(`${name}: Shift+Tab left the lightbox`); break; }
  }
  await page.keyboard.up("Shift");
  await shot(page, `${name}-lightbox-${width}`);
  await page.keyboard.press("Escape");
  await sleep(300);
  s = await state();
  if (s.open) fail(`${name}: Escape did not close the lightbox`);
  const back = await page.evaluate(() => document.activeElement?.getAttribute("data-key"));
  if (back !== openerHref) fail(`${name}: focus went to ${back}, not back to the image that opened the lightbox`);
  if (s.hash) fail(`${name}: the permalink ${s.hash} stayed after closing`);
  // Back closes a viewer opened by a click; the permalink opens it.
  await page.click("a.lightbox-link");
  await sleep(100);
  const key = (await state()).hash;
  await page.goBack();
  await sleep(300);
  if ((await state()).open) fail(`${name}: Back did not close the lightbox`);
  await page.goto(url.split("#")[0] + key, { waitUntil: "load" });
  await sleep(200);
  if (!(await state()).open) fail(`${name}: the permalink ${key} did not open the lightbox`);
  else note(`${name}: lightbox keyboard, focus trap, scroll lock, permalink and Back all work`);
  await page.close();
}
await lightboxChecks("compare", pages.compare, 1280);
await lightboxChecks("compare", pages.compare, 390);
await lightboxChecks("blind", pages.blind, 1280);
await lightboxChecks("run", pages.run, 1280);

// Swipe on a touch screen: left shows the next image, right the previous one.
{
  const page = await browser.newPage();
  await page.setViewport({ width: 390, height: 844, hasTouch: true, isMobile: true });
  await page.goto(pages.compare, { waitUntil: "load" });
  await page.$eval("a.lightbox-link", (a) => a.click());
  await sleep(150);
  const cdp = await page.createCDPSession();
  const swipe = async (fromX, toX) => {
    const y = 400;
    await cdp.send("Input.dispatchTouchEvent", { type: "touchStart", touchPoints: [{ x: fromX, y }] });
    for (let i = 1; i <= 5; i++) await cdp.send("Input.dispatchTouchEvent", { type: "touchMove", touchPoints: [{ x: fromX + ((toX - fromX) * i) / 5, y }] });
    await cdp.send("Input.dispatchTouchEvent", { type: "touchEnd", touchPoints: [] });
    await sleep(150);
    return page.$eval(".lightbox-count", (e) => e.textContent);
  };
  const total = await page.$$eval("a.lightbox-link", (as) => as.length);
  const afterLeft = await swipe(300, 80);
  const afterRight = await swipe(80, 300);
  if (afterLeft !== `2 / ${total}` || afterRight !== `1 / ${total}`) fail(`swipe: left showed ${afterLeft}, then right ${afterRight}`);
  else note(`swipe: left → ${afterLeft}, right → ${afterRight}`);
  await page.close();
}

// ---- 4. axe-core ---------------------------------------------------------------------
console.log("axe-core");
const axeSource = fs.readFileSync(require.resolve("axe-core/axe.min.js"), "utf8");
for (const [name, url] of Object.entries(pages)) {
  for (const scheme of ["light", "dark"]) {
    for (const width of [390, 1280]) {
      const page = await newPage(width, 900);
      await page.setBypassCSP(true);
      await page.emulateMediaFeatures([{ name: "prefers-color-scheme", value: scheme }]);
      await page.goto(url, { waitUntil: "load" });
      await page.evaluate(axeSource);
      const result = await page.evaluate(async () => {
        // Open every <details> so the folded content is checked too.
        document.querySelectorAll("details").forEach((d) => { d.open = true; });
        const r = await window.axe.run(document, { resultTypes: ["violations"] });
        return r.violations.map((v) => `${v.id} (${v.impact}): ${v.nodes.slice(0, 3).map((n) => n.target.join(" ")).join(" | ")}`);
      });
      for (const v of result) fail(`axe ${name} ${scheme} ${width}px: ${v}`);
      if (!result.length && width === 1280) note(`${name} (${scheme}): 0 violations`);
      await page.close();
    }
  }
}

for (const name of ["compare", "blind", "run"]) {
  // The open lightbox too (light mode, phone width).
  const page = await newPage(390, 800);
  await page.setBypassCSP(true);
  await page.goto(pages[name], { waitUntil: "load" });
  await page.evaluate(axeSource);
  await page.click("a.lightbox-link");
  await sleep(200);
  const result = await page.evaluate(async () => (await window.axe.run(document, { resultTypes: ["violations"] }))
    .violations.map((v) => `${v.id} (${v.impact}): ${v.nodes.slice(0, 3).map((n) => n.target.join(" ")).join(" | ")}`));
  for (const v of result) fail(`axe ${name} with the lightbox open: ${v}`);
  if (!result.length) note(`${name} with the lightbox open: 0 violations`);
  await shot(page, `${name}-lightbox-390`);
  await page.close();
}

// ---- 5. blind pages name no Artist ----------------------------------------------------
console.log("blind");
{
  const page = await newPage(1280, 900);
  const urls = [];
  page.on("request", (r) => urls.push(r.url()));
  await page.goto(pages.blind, { waitUntil: "load" });
  await page.evaluate(async () => { for (let y = 0; y < document.body.scrollHeight; y += 500) { window.scrollTo(0, y); await new Promise((r) => setTimeout(r, 20)); } });
  await page.waitForNetworkIdle({ idleTime: 200, timeout: 10000 }).catch(() => {});
  // Open the lightbox too: its URLs and attributes count.
  await page.click("a.lightbox-link");
  await sleep(200);
  const attrs = await page.evaluate(() => {
    const out = [];
    for (const el of document.querySelectorAll("*")) for (const a of el.attributes) out.push(`${el.tagName.toLowerCase()}[${a.name}]=${a.value}`);
    out.push(`location=${location.href}`);
    return out;
  });
  let leaks = 0;
  for (const needle of [...fx.slugs, ...fx.names]) {
    const n = needle.toLowerCase();
    for (const a of attrs) if (a.toLowerCase().includes(n)) { fail(`blind: attribute names an Artist: ${a}`); leaks++; }
    for (const u of urls) if (u.toLowerCase().includes(n)) { fail(`blind: URL names an Artist: ${u}`); leaks++; }
  }
  if (!leaks) note(`blind: ${attrs.length} attributes and ${urls.length} URLs, none names an Artist`);
  const html = fs.readFileSync(path.join(fx.site, fx.blind), "utf8");
  if (!/Reveal all/.test(html)) fail("blind: no “Reveal all”");
  // The fixture's blind page is the newest group's: it leads to the next older one's.
  await page.goto(pages.blind, { waitUntil: "load" });
  const [nav] = await Promise.all([
    page.waitForNavigation({ waitUntil: "load" }).catch(() => null),
    page.evaluate(() => [...document.querySelectorAll("a")].find((a) => /Next group, blind/.test(a.textContent))?.click()),
  ]);
  const landed = page.url();
  if (!nav || !nav.ok() || !/\/blind\.html$/.test(landed) || landed === pages.blind) fail(`blind: “Next group, blind” led to ${landed}`);
  else note(`blind: “Next group, blind” leads to ${landed.replace(base, "")}`);
  await page.close();
}

// ---- 5b. the style map: keyboard reaches every mark, focus shows its label ---------------
console.log("style map");
{
  const page = await newPage(1280, 900);
  await page.goto(pages.prompt, { waitUntil: "load" });
  const marks = await page.$$eval(".style-map a.pt", (as) => as.length);
  if (!marks) fail("style map: the prompt page has no map marks");
  // From the voice table (the last stop before the map), Tab until a mark has focus.
  await page.focus(".voice .table-scroll");
  let state = null;
  for (let i = 0; i < 40; i++) {
    await page.keyboard.press("Tab");
    state = await page.evaluate(() => {
      const a = document.activeElement;
      if (!a || !a.closest(".style-map")) return null;
      const tips = [...document.querySelectorAll(".style-map .tip")];
      const shown = tips.filter((t) => getComputedStyle(t).visibility === "visible");
      const mine = a.querySelector(".tip");
      const bg = a.closest(".style-map").querySelector(".tip-bg");
      return { href: a.getAttribute("href"), shown: shown.length, mineShown: !!mine && getComputedStyle(mine).visibility === "visible", bgShown: !!bg && getComputedStyle(bg).visibility === "visible", text: mine?.textContent || "", html: a.outerHTML.slice(0, 160), focus: a.matches(":focus") };
    });
    if (state) break;
  }
  if (!state) fail("style map: Tab never reached a mark");
  else if (!state.mineShown || state.shown !== 1) fail(`style map: focus showed ${state.shown} label(s), its own: ${state.mineShown} (${state.focus ? "focused" : "not :focus"} ${state.html})`);
  else if (!state.bgShown) fail("style map: focus showed the label without the band's background");
  else {
    note(`style map: ${marks} marks; Tab reaches them and focus shows one label ("${state.text}")`);
    await page.evaluate(() => document.activeElement.scrollIntoView({ block: "center" }));
    await shot(page, "prompt-style-map-focus");
    const res = await page.goto(new URL(state.href, pages.prompt).href);
    if (!res || res.status() !== 200) fail(`style map: mark link ${state.href} does not load`);
  }
  await page.close();
}

// ---- 5c. wide tables say they scroll; the style map fits (issue 26, item 19) ----------------
console.log("scroll hints");
for (const name of ["compare", "prompt", "artist", "run", "leaderboard"]) {
  const page = await newPage(390, 900);
  for (const width of [390, 1280]) {
    await page.setViewport({ width, height: 900 });
    await page.goto(pages[name], { waitUntil: "load" });
    await sleep(100);
    const boxes = await page.evaluate(() => [...document.querySelectorAll(".table-wrap, .table-scroll, .chart-scroll")].map((el, i) => {
      el.dataset.probe = String(i);
      const hint = el.querySelector(":scope > .scroll-more");
      return {
        i, cls: el.className, overflows: el.scrollWidth > el.clientWidth + 1,
        focusable: el.tabIndex === 0, region: el.getAttribute("role") === "region",
        label: el.getAttribute("aria-label") || (el.getAttribute("aria-labelledby") && document.getElementById(el.getAttribute("aria-labelledby"))?.textContent) || "",
        hint: !!hint && hint.offsetHeight > 0 && getComputedStyle(hint).visibility === "visible",
      };
    }));
    let wide = 0;
    for (const b of boxes) {
      if (!b.focusable || !b.region || !b.label.trim()) fail(`${name} at ${width}px: ${b.cls} is not a focusable, labelled region`);
      if (b.overflows && !b.hint) fail(`${name} at ${width}px: ${b.cls} scrolls sideways with no visible hint`);
      if (!b.overflows && b.hint) fail(`${name} at ${width}px: ${b.cls} fits yet says it scrolls`);
      if (!b.overflows) continue;
      wide += 1;
      // At the far end there is nothing more to see: the hint goes.
      const atEnd = await page.evaluate(async (i) => {
        const el = document.querySelector(`[data-probe="${i}"]`);
        el.scrollLeft = el.scrollWidth;
        await new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)));
        const hint = el.querySelector(":scope > .scroll-more");
        return hint.offsetHeight > 0 && getComputedStyle(hint).visibility === "visible";
      }, b.i);
      if (atEnd) fail(`${name} at ${width}px: ${b.cls} still says it scrolls at its far end`);
    }
    note(`${name} at ${width}px: ${boxes.length} scroll regions, ${wide} wide, each with its hint`);
    if (name === "prompt") {
      const map = await page.evaluate(() => {
        const svg = document.querySelector("svg.style-map");
        if (!svg) return null;
        const r = svg.getBoundingClientRect();
        const marks = [...svg.querySelectorAll("a.pt")].map((a) => a.getBoundingClientRect().right);
        return { right: r.right, viewport: document.documentElement.clientWidth, marks: Math.max(...marks) };
      });
      if (!map) fail("prompt: no style map");
      else if (map.right > map.viewport + 0.5 || map.marks > map.viewport + 0.5) fail(`prompt at ${width}px: the style map reaches ${Math.round(map.right)}px (marks ${Math.round(map.marks)}px) in a ${map.viewport}px viewport`);
      else note(`prompt at ${width}px: the style map fits (${Math.round(map.right)}px of ${map.viewport}px)`);
    }
    if (width === 390) {
      await page.evaluate(() => document.querySelector(".scroll-more")?.parentElement.scrollIntoView({ block: "center" }));
      await shot(page, `${name}-scroll-hint-390`);
    }
  }
  await page.close();
}

// ---- 5d. a tap on a style-map mark names it; a second tap follows it (item 20) --------------
console.log("style map on a touch screen");
{
  const page = await browser.newPage();
  await page.setViewport({ width: 390, height: 844, hasTouch: true, isMobile: true });
  await page.goto(pages.prompt, { waitUntil: "load" });
  const marks = await page.$$("svg.style-map a.pt");
  const mark = marks[Math.floor(marks.length / 2)];
  await mark.evaluate((a) => a.scrollIntoView({ block: "center" }));
  // On the mark's shape (the link's box also spans its hidden label in the band). Marks
  // can overlap: the one named is the one on top where the finger was.
  await (await mark.$(".mk")).tap();
  await sleep(300);
  const first = await page.evaluate(() => {
    const a = document.activeElement;
    const tip = a && a.querySelector ? a.querySelector(".tip") : null;
    const shown = [...document.querySelectorAll(".style-map .tip")].filter((t) => getComputedStyle(t).visibility === "visible");
    return { url: location.href, focused: !!a && a.matches("svg.style-map a.pt"), href: a && a.getAttribute ? a.getAttribute("href") : null, shown: !!tip && shown.length === 1 && shown[0] === tip, text: tip ? tip.textContent : "" };
  });
  const href = first.href;
  if (first.url !== pages.prompt) fail(`style map tap: the first tap left the page for ${first.url}`);
  else if (!first.focused || !first.shown) fail(`style map tap: the first tap did not name the mark (${JSON.stringify(first)})`);
  else {
    note(`style map tap: the first tap names the mark ("${first.text}")`);
    await shot(page, "prompt-style-map-tap-390");
    const named = await page.evaluateHandle(() => document.activeElement.querySelector(".mk"));
    const [nav] = await Promise.all([page.waitForNavigation({ timeout: 5000 }).catch(() => null), named.tap()]);
    const target = new URL(href, pages.prompt).href;
    if (!nav || page.url() !== target) fail(`style map tap: the second tap did not open ${target} (at ${page.url()})`);
    else note(`style map tap: the second tap opens the run (${href})`);
  }
  await page.close();
}

// ---- 6. the Nu HTML checker -------------------------------------------------------------
console.log("Nu HTML checker");
{
  const files = [];
  const walk = (d) => { for (const e of fs.readdirSync(d, { withFileTypes: true })) { const p = path.join(d, e.name); if (e.isDirectory()) walk(p); else if (e.name.endsWith(".html")) files.push(p); } };
  walk(fx.site);
  const jar = require("vnu-jar");
  const out = await new Promise((resolve) => {
    execFile("java", ["-Xss8m", "-jar", jar, "--errors-only", "--format", "json", ...files], { maxBuffer: 64 << 20 },
      (err, stdout, stderr) => resolve(stderr || stdout));
  });
  let messages = [];
  try { messages = JSON.parse(out).messages; } catch { fail(`Nu checker gave no JSON: ${out.slice(0, 300)}`); }
  const errors = messages.filter((m) => m.type === "error" || m.subType === "fatal");
  for (const m of errors.slice(0, 20)) fail(`Nu: ${m.url?.split("/site/")[1]}:${m.lastLine}: ${m.message}`);
  note(`Nu: ${files.length} pages, ${errors.length} errors`);
}

// ---- 7. live reload in `chorus serve` ----------------------------------------------------
console.log("live reload");
if (fx.preview) {
  const page = await newPage(1024, 800);
  await page.goto(fx.preview.url, { waitUntil: "load" });
  const marker = `Live reload marker ${Date.now()}`;
  const record = JSON.parse(fs.readFileSync(fx.preview.run_file, "utf8"));
  record.artistStmt = `${marker}\n\n${record.artistStmt}`;
  fs.writeFileSync(fx.preview.run_file, JSON.stringify(record, null, 2) + "\n");
  let seen = false;
  for (let i = 0; i < 120 && !seen; i++) {
    await sleep(250);
    seen = await page.evaluate((m) => document.body.innerText.includes(m), marker).catch(() => false);
  }
  if (!seen) fail("live reload: the open page never showed the changed run text");
  else note("live reload: the open page showed the changed run text without a manual reload");
  await page.close();
}

await browser.close();
server.close();
console.log(`browser checks: ${failures.length} failure(s)`);
process.exit(failures.length ? 1 : 0);
