#!/usr/bin/env bash
# sluice sim --report: the HTML file is self-contained, a real browser (headless Chromium) renders
# at least five charts with data from it, and the screenshot shows them (not a blank page). Bad
# report paths fail with exit 1 before anything is simulated, and leave nothing behind.
set -uo pipefail
d=$(mktemp -d)
trap 'rm -rf "$d"' EXIT
fail() { echo "FAIL: $*"; exit 1; }

chromium=$(command -v chromium || command -v chromium-browser) ||
  fail "chromium is not installed (make deps installs it)"

# Paths that cannot be written: refused up front, exit 1, a message naming the path.
out=$("$SLUICE" sim --duration 10m --report "$d/missing/r.html" 2>&1); rc=$?
[ $rc -eq 1 ] || fail "missing folder: exit $rc, want 1 ($out)"
grep -q "cannot write $d/missing/r.html: No such file or directory" <<< "$out" ||
  fail "missing folder: message '$out'"
out=$("$SLUICE" sim --duration 10m --report "$d" 2>&1); rc=$?
[ $rc -eq 1 ] || fail "directory: exit $rc, want 1 ($out)"
grep -q "it is a directory" <<< "$out" || fail "directory: message '$out'"
[ -z "$(ls -A "$d")" ] || fail "failed reports left files behind: $(ls -A "$d")"

# The built-in scenario (two models, four variants), one simulated hour.
report="$d/r.html"
out=$("$SLUICE" sim --duration 1h --seed 3 --report "$report" 2>&1) || fail "sim failed: $out"
grep -q '^mean-sized ' <<< "$out" || fail "no summary table: $out"
[ "$(tail -1 <<< "$out")" = "report: $report" ] || fail "report path not printed last: $out"
[ -s "$report" ] || fail "no report written"
[ "$(ls -A "$d")" = "r.html" ] || fail "temporary files left behind: $(ls -A "$d")"

# Self-contained: nothing to fetch, no script.
grep -qiE '<script|<link|<img|<iframe|src=|url\(|@import' "$report" &&
  fail "the report references something outside itself"
grep -q '<td class="l"><span class="sw" style="background:#222"></span>mean-sized</td>' \
  "$report" || fail "no mean-sized row in the summary table"
grep -q '>oracle</td>' "$report" || fail "no oracle row in the summary table"

# A browser renders it: count the chart SVGs with data in the DOM Chromium built.
flags=(--headless --no-sandbox --disable-gpu --disable-quic --no-first-run
       --disable-background-networking --disable-component-update --disable-sync
       --hide-scrollbars)
dom=$(timeout 60 "$chromium" "${flags[@]}" --user-data-dir="$(mktemp -d -p "$d")" \
  --dump-dom "file://$report" 2>/dev/null) || fail "chromium --dump-dom failed"
in_file=$(grep -o 'class="chart" data-points="[0-9]*"' "$report" | grep -vc '"0"$')
in_dom=$(grep -o 'class="chart" data-points="[0-9]*"' <<< "$dom" | grep -vc '"0"$')
[ "$in_dom" -ge 5 ] || fail "the browser shows $in_dom charts with data, want at least 5"
[ "$in_dom" -eq "$in_file" ] || fail "the file has $in_file charts with data, the DOM $in_dom"
grep -q '<h2 id="scenario">Scenario</h2>' <<< "$dom" || fail "the DOM ends before the scenario"

# ... and draws it: the screenshot has ink, many colours, and the replica charts' fills. Half the
# device scale keeps the whole page in view and the pixels few enough to decode in Python.
png="$d/r.png"
timeout 60 "$chromium" "${flags[@]}" --user-data-dir="$(mktemp -d -p "$d")" \
  --window-size=1100,4200 --force-device-scale-factor=0.5 --screenshot="$png" \
  "file://$report" >/dev/null 2>&1 ||
  fail "chromium --screenshot failed"
[ -s "$png" ] || fail "no screenshot"
python3 - "$png" <<'PY' || fail "the screenshot does not show the report"
import struct, sys, zlib

def decode(path):
    """The pixels of an 8-bit RGB or RGBA, non-interlaced PNG, as rows of bytes."""
    data = open(path, 'rb').read()
    assert data[:8] == b'\x89PNG\r\n\x1a\n', 'not a PNG'
    pos, idat = 8, []
    while pos < len(data):
        n, = struct.unpack('>I', data[pos:pos + 4])
        kind, body = data[pos + 4:pos + 8], data[pos + 8:pos + 8 + n]
        pos += 12 + n
        if kind == b'IHDR':
            w, h, depth, ctype, _, _, interlace = struct.unpack('>IIBBBBB', body)
            assert depth == 8 and ctype in (2, 6) and interlace == 0, 'unexpected PNG kind'
        elif kind == b'IDAT':
            idat.append(body)
    bpp = 3 if ctype == 2 else 4
    raw, stride = zlib.decompress(b''.join(idat)), w * bpp
    rows, prev, p = [], bytearray(stride), 0
    for _ in range(h):
        f, line = raw[p], bytearray(raw[p + 1:p + 1 + stride])
        p += 1 + stride
        if f == 1:
            for i in range(bpp, stride):
                line[i] = (line[i] + line[i - bpp]) & 255
        elif f == 2:
            line = bytearray((a + b) & 255 for a, b in zip(line, prev))
        elif f == 3:
            for i in range(stride):
                left = line[i - bpp] if i >= bpp else 0
                line[i] = (line[i] + (left + prev[i]) // 2) & 255
        elif f == 4:
            for i in range(stride):
                a = line[i - bpp] if i >= bpp else 0
                b, c = prev[i], prev[i - bpp] if i >= bpp else 0
                pa, pb, pc = abs(b - c), abs(a - c), abs(a + b - 2 * c)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
        rows.append(line)
        prev = line
    return w, h, bpp, rows

w, h, bpp, rows = decode(sys.argv[1])
assert (w, h) == (550, 2100), f'screenshot is {w}x{h}'
colours, ink = {}, 0
for line in rows:
    for i in range(0, len(line), bpp):
        px = bytes(line[i:i + 3])
        colours[px] = colours.get(px, 0) + 1
        if min(px) < 235:
            ink += 1
total = w * h
ready = colours.get(bytes((0x4c, 0x78, 0xa8)), 0)
starting = colours.get(bytes((0xf5, 0xb0, 0x41)), 0)
print(f'{len(colours)} colours, {100 * ink / total:.1f}% ink, ready fill {ready} px, '
      f'starting fill {starting} px')
assert len(colours) >= 20, 'too few colours: blank or unstyled'
assert ink / total >= 0.03, 'almost nothing drawn'
assert ready >= 500, 'no replica chart fills (ready) in view'
PY
exit 0
