#!/usr/bin/env bash
# Opens the HTML report in a real browser (Debian's chromium, headless) and fails if the page
# does not render: chromium exits non-zero, no screenshot, a blank screenshot, the heading
# missing from the rendered DOM, or an image that did not load (the charts are inline SVG).
#
#   .ci/browser-check.sh INDEX_HTML OUT_PNG
#
# Needs: chromium (apt-get install -y chromium), python3.
set -euo pipefail

if [ $# -ne 2 ]; then
    echo "usage: $0 INDEX_HTML OUT_PNG" >&2
    exit 2
fi
index=$(realpath "$1")
out=$2
if [ ! -f "$index" ]; then
    echo "browser-check: $index does not exist" >&2
    exit 2
fi
browser=$(command -v chromium || command -v chromium-browser || true)
if [ -z "$browser" ]; then
    echo "browser-check: chromium not found (apt-get install -y chromium)" >&2
    exit 2
fi

profile=$(mktemp -d)
trap 'rm -rf "$profile"' EXIT
flags=(--headless --no-sandbox --disable-gpu --disable-background-networking --no-first-run
    --disable-sync --disable-component-update --disable-quic --hide-scrollbars
    --user-data-dir="$profile")
url="file://$index"
rm -f "$out"

# 1. The screenshot.
if ! timeout 120 "$browser" "${flags[@]}" --screenshot="$out" --window-size=1400,3000 "$url" \
    >"$profile/shot.log" 2>&1; then
    echo "browser-check: chromium failed to take the screenshot:" >&2
    tail -20 "$profile/shot.log" >&2
    exit 1
fi
if [ ! -s "$out" ]; then
    echo "browser-check: chromium exited 0 but wrote no screenshot at $out" >&2
    exit 1
fi

# 2. The DOM after load, with a script that marks every chart image as loaded or broken.
#    (--dump-dom prints the DOM once the page has loaded, so images have had their chance.)
if ! timeout 120 "$browser" "${flags[@]}" --virtual-time-budget=5000 --dump-dom "$url" \
    >"$profile/dom.html" 2>"$profile/dom.log"; then
    echo "browser-check: chromium failed to dump the DOM:" >&2
    tail -20 "$profile/dom.log" >&2
    exit 1
fi

python3 - "$out" "$profile/dom.html" "$index" <<'PY'
import os, re, struct, sys, zlib

png, dom_path, index = sys.argv[1:4]

def fail(msg):
    print(f"browser-check: {msg}", file=sys.stderr)
    sys.exit(1)

# The PNG, decoded with the standard library: more than one colour, and not almost all one.
data = open(png, "rb").read()
if data[:8] != b"\x89PNG\r\n\x1a\n":
    fail(f"{png} is not a PNG")
pos, idat, width = 8, b"", 0
while pos < len(data):
    length, kind = struct.unpack(">I4s", data[pos:pos + 8])
    body = data[pos + 8:pos + 8 + length]
    if kind == b"IHDR":
        width, height, depth, ctype = struct.unpack(">IIBB", body[:10])
        if depth != 8 or ctype not in (2, 6):
            fail(f"unexpected PNG format (depth {depth}, colour type {ctype})")
        bpp = 3 if ctype == 2 else 4
    elif kind == b"IDAT":
        idat += body
    pos += 12 + length
raw = zlib.decompress(idat)
stride = width * bpp
colours, prev, row_start = {}, bytearray(stride), 0
for _ in range(height):
    f, line = raw[row_start], bytearray(raw[row_start + 1:row_start + 1 + stride])
    row_start += 1 + stride
    for i in range(stride):
        a = line[i - bpp] if i >= bpp else 0
        b = prev[i]
        c = prev[i - bpp] if i >= bpp else 0
        if f == 1: line[i] = (line[i] + a) & 255
        elif f == 2: line[i] = (line[i] + b) & 255
        elif f == 3: line[i] = (line[i] + (a + b) // 2) & 255
        elif f == 4:
            p = a + b - c
            pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
            line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
    prev = line
    for x in range(0, stride, bpp * 7):  # every 7th pixel is plenty
        px = bytes(line[x:x + 3])
        colours[px] = colours.get(px, 0) + 1
total = sum(colours.values())
top = max(colours.values())
if len(colours) < 2:
    fail(f"{png} is blank: one colour only")
if top / total > 0.995:
    fail(f"{png} is almost blank: {100 * top / total:.2f} % of it is one colour")
print(f"browser-check: screenshot {width}x{height}, {len(colours)} colours, "
      f"{100 * (1 - top / total):.1f} % not background")

# The rendered DOM: the heading is there, and every chart it shows exists beside the page.
dom = open(dom_path, encoding="utf-8", errors="replace").read()
if "<h1>ipcbench report</h1>" not in dom:
    fail("the rendered page lacks its heading <h1>ipcbench report</h1>")
# The charts are inline SVG: the page is one file. Any <img> would be a file beside it.
charts = len(re.findall(r"<figure[^>]*>\s*<svg", dom))
for src in re.findall(r'<img[^>]*\bsrc="([^"]+)"', dom):
    if "://" in src:
        fail(f"the page loads {src} from the network")
    if not os.path.isfile(os.path.join(os.path.dirname(index), src)):
        fail(f"image {src} is linked but missing")
print(f"browser-check: heading present, {charts} chart(s) inline")
PY

# 3. Each chart in the browser on its own: it must load as an image (naturalWidth > 0).
for svg in $(grep -o 'src="[^"]*\.svg"' "$index" | sed 's/src="//; s/"$//' | sort -u); do
    probe="$profile/probe-${svg//\//_}.html"
    cat >"$probe" <<HTML
<!doctype html><html><body><img id="c" src="file://$(dirname "$index")/$svg">
<script>
const img = document.getElementById("c");
function done() { document.body.setAttribute("data-result",
  img.complete && img.naturalWidth > 0 ? "loaded-" + img.naturalWidth : "broken"); }
if (img.complete) done(); else { img.onload = done; img.onerror = done; }
</script></body></html>
HTML
    result=$(timeout 60 "$browser" "${flags[@]}" --allow-file-access-from-files \
        --virtual-time-budget=3000 --dump-dom "file://$probe" 2>/dev/null \
        | grep -o 'data-result="[^"]*"' || true)
    case "$result" in
        *loaded-*) ;;
        *) echo "browser-check: chart $svg does not load in the browser (${result:-no result})" >&2
           exit 1 ;;
    esac
done
echo "browser-check: ok ($out)"
