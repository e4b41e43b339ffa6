#!/usr/bin/env bash
# Lighthouse scores of the built gallery: builds the offline demo (no key, no network),
# serves it on 127.0.0.1 under a sub-path, and audits the index, a compare page, a run
# page, a blind page, an Artist page and a prompt page with Debian's chromium.
#
#   scripts/lighthouse.sh [GROUPS]      # default 6 groups; prints one row per page,
#                                       # then any weighted audit under 0.9
#
# Needs node/npm (lighthouse is installed once into target/lighthouse, from the npm
# registry) and /usr/bin/chromium (or CHROME_PATH). Not part of `cargo test`: Lighthouse's
# performance score depends on the machine, so it is a measurement, not a check.
set -euo pipefail
cd "$(dirname "$0")/.."
groups="${1:-6}"

lh_dir=target/lighthouse
if [[ ! -x $lh_dir/node_modules/.bin/lighthouse ]]; then
  mkdir -p "$lh_dir"
  (cd "$lh_dir" && npm init -y >/dev/null && npm install --no-audit --no-fund --loglevel=error lighthouse@12 >/dev/null)
fi
export CHROME_PATH="${CHROME_PATH:-/usr/bin/chromium}"

# CHORUS_BIN: an already built binary (else a release build is made).
chorus="${CHORUS_BIN:-}"
if [[ -z $chorus ]]; then
  cargo build --release --quiet
  chorus="$PWD/target/release/chorus"
fi
work="$(mktemp -d)"
trap 'kill "${server:-0}" 2>/dev/null || true; rm -rf "$work"' EXIT
(cd "$work" && "$chorus" init >/dev/null && "$chorus" generate --offline --repeat "$groups" >/dev/null 2>&1 \
  && "$chorus" build >/dev/null 2>&1)

# Served under /gallery/, as on GitHub Pages for a project site.
mkdir -p "$work/www" && ln -s "$work/site" "$work/www/gallery"
port=$((20000 + RANDOM % 20000))
python3 -m http.server "$port" --bind 127.0.0.1 --directory "$work/www" >/dev/null 2>&1 &
server=$!
sleep 1

site="$work/site"
group="$(cd "$site/groups" && ls | head -1)"
run="$(cd "$site/groups/$group" && ls *.html | grep -v -e '^index.html$' -e '^blind.html$' | head -1)"
artist="$(cd "$site/artists" && ls *.html | grep -v '^index.html$' | head -1)"
prompt="$(cd "$site/prompts" && ls *.html | grep -v '^index.html$' | head -1)"
base="http://127.0.0.1:$port/gallery"

printf '%-10s %12s %14s %15s %5s\n' page performance accessibility best-practices seo
for pair in "index:index.html" "compare:groups/$group/index.html" "run:groups/$group/$run" \
  "blind:groups/$group/blind.html" "artist:artists/$artist" "prompt:prompts/$prompt"; do
  name="${pair%%:*}"
  url="$base/${pair#*:}"
  "$lh_dir/node_modules/.bin/lighthouse" "$url" --quiet --output=json --output-path="$work/$name.json" \
    --only-categories=performance,accessibility,best-practices,seo \
    --chrome-flags="--headless=new --no-sandbox --disable-gpu --disable-quic --no-first-run --disable-background-networking --disable-component-update --disable-sync" \
    >/dev/null 2>&1 || { echo "$name: lighthouse failed on $url" >&2; continue; }
  node -e '
    const r = require(process.argv[1]);
    const s = (k) => Math.round(r.categories[k].score * 100);
    console.log(process.argv[2].padEnd(10), String(s("performance")).padStart(12), String(s("accessibility")).padStart(14),
      String(s("best-practices")).padStart(15), String(s("seo")).padStart(5));
    for (const [k, c] of Object.entries(r.categories)) for (const ref of c.auditRefs) {
      const a = r.audits[ref.id];
      if (ref.weight > 0 && a.score !== null && a.score < 0.9) console.log(`    ${k}: ${a.id} (${a.score})`);
    }' "$work/$name.json" "$name"
done
