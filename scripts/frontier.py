#!/usr/bin/env python3
"""Attainment-vs-GPU-hours frontiers from sweep runs (make eval; docs/simulator.md, "Sweeps").

Usage: frontier.py TRACE ORACLE_JSON OUT_MD OUT_HTML POINT_JSON...

ORACLE_JSON is a `sluice sim --json` run with the oracle (its "oracle" key is the reference);
each POINT_JSON is a `sluice sim --json` run of one policy at one knob value, named
POLICY@KNOB=VALUE.json. Writes the sweep table (per policy: the fewest GPU-hours at which it
reaches 99%, as a ratio to the oracle's, or its best attainment if it never does) as markdown
rows to OUT_MD, and a self-contained HTML page with every policy's frontier on one chart to
OUT_HTML. A policy's frontier is the points no other point of it beats on both axes (fewer
GPU-hours and higher attainment), in GPU-hour order: attainment rises along it.
"""
import html
import json
import os
import sys

TARGET = 0.99
COLORS = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2",
          "#7f7f7f", "#bcbd22", "#17becf"]


def frontier(points):
    """Pareto frontier of (gpu_hours, attainment, label): non-dominated, GPU-hours ascending."""
    best, out = -1.0, []
    for p in sorted(points, key=lambda p: (p[0], -p[1])):
        if p[1] > best:
            out.append(p)
            best = p[1]
    return out


def load(paths):
    pols = {}
    for path in paths:
        base = os.path.basename(path)[:-len(".json")]
        policy, knob = base.split("@", 1)
        with open(path) as f:
            j = json.load(f)
        r = j["runs"][0]
        if r["slo_attainment"] is None:
            continue
        pols.setdefault(policy, []).append((r["gpu_hours"], r["slo_attainment"], knob))
    return pols


def table(trace, pols, oracle_h):
    rows = []
    for policy in sorted(pols):
        fr = frontier(pols[policy])
        ok = [p for p in fr if p[1] >= TARGET]
        if ok:
            p = ok[0]
            rows.append(f"| {trace} | {policy} | {p[0] / oracle_h:.2f} | {p[0]:.1f} | "
                        f"{p[1] * 100:.2f}% | {p[2]} | {len(pols[policy])} |")
        else:
            p = max(fr, key=lambda p: p[1])
            rows.append(f"| {trace} | {policy} | never (best {p[1] * 100:.2f}% at "
                        f"{p[0] / oracle_h:.2f}) | {p[0]:.1f} | {p[1] * 100:.2f}% | {p[2]} | "
                        f"{len(pols[policy])} |")
    return rows


def chart(trace, pols, oracle):
    w, h, ml, mr, mt, mb = 760, 440, 60, 170, 20, 50
    pts = [p for ps in pols.values() for p in ps] + [(oracle["gpu_hours"],
                                                     oracle["slo_attainment"], "oracle")]
    x_hi = max(p[0] for p in pts) * 1.05
    y_lo = min(0.5, min(p[1] for p in pts)) if pts else 0.5
    y_lo = max(0.0, min(y_lo, 0.9))

    def X(v):
        return ml + (w - ml - mr) * v / x_hi

    def Y(v):
        return mt + (h - mt - mb) * (1 - (v - y_lo) / (1 - y_lo))

    s = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" '
         f'font-family="sans-serif" font-size="11">']
    s.append(f'<rect x="{ml}" y="{mt}" width="{w - ml - mr}" height="{h - mt - mb}" '
             'fill="none" stroke="#999"/>')
    for k in range(6):
        yv = y_lo + (1 - y_lo) * k / 5
        s.append(f'<text x="{ml - 6}" y="{Y(yv) + 4:.1f}" text-anchor="end">{yv * 100:.0f}%</text>')
        xv = x_hi * k / 5
        s.append(f'<text x="{X(xv):.1f}" y="{h - mb + 16}" text-anchor="middle">{xv:.0f}</text>')
    s.append(f'<line x1="{ml}" x2="{w - mr}" y1="{Y(TARGET):.1f}" y2="{Y(TARGET):.1f}" '
             'stroke="#d62728" stroke-dasharray="4 3"/>')
    s.append(f'<text x="{(ml + w - mr) / 2}" y="{h - 8}" text-anchor="middle">GPU-hours</text>')
    s.append(f'<text x="14" y="{(mt + h - mb) / 2}" transform="rotate(-90 14 '
             f'{(mt + h - mb) / 2})" text-anchor="middle">SLO attainment</text>')
    for i, policy in enumerate(sorted(pols)):
        c = COLORS[i % len(COLORS)]
        for p in pols[policy]:
            s.append(f'<circle cx="{X(p[0]):.1f}" cy="{Y(p[1]):.1f}" r="2.5" fill="{c}" '
                     f'opacity="0.5"><title>{html.escape(policy)} {html.escape(p[2])}: '
                     f'{p[1] * 100:.2f}% at {p[0]:.1f} GPU-h</title></circle>')
        fr = frontier(pols[policy])
        path = " ".join(f"{'M' if k == 0 else 'L'}{X(p[0]):.1f},{Y(p[1]):.1f}"
                        for k, p in enumerate(fr))
        s.append(f'<path d="{path}" fill="none" stroke="{c}" stroke-width="2"/>')
        s.append(f'<rect x="{w - mr + 12}" y="{mt + 16 * i}" width="10" height="10" fill="{c}"/>')
        s.append(f'<text x="{w - mr + 26}" y="{mt + 16 * i + 9}">{html.escape(policy)}</text>')
    ox, oy = X(oracle["gpu_hours"]), Y(oracle["slo_attainment"])
    s.append(f'<path d="M{ox - 6:.1f},{oy:.1f} L{ox:.1f},{oy - 6:.1f} L{ox + 6:.1f},{oy:.1f} '
             f'L{ox:.1f},{oy + 6:.1f} Z" fill="#222"><title>oracle</title></path>')
    n = len(pols)
    s.append(f'<path d="M{w - mr + 17},{mt + 16 * n} l5,5 l-5,5 l-5,-5 Z" fill="#222"/>')
    s.append(f'<text x="{w - mr + 26}" y="{mt + 16 * n + 9}">oracle</text>')
    s.append("</svg>")
    return "\n".join(s)


def main():
    trace, oracle_json, out_md, out_html = sys.argv[1:5]
    with open(oracle_json) as f:
        oracle = json.load(f)["oracle"]
    pols = load(sys.argv[5:])
    rows = table(trace, pols, oracle["gpu_hours"])
    with open(out_md, "w") as f:
        f.write("\n".join(rows) + ("\n" if rows else ""))
    page = ["<!doctype html><html><head><meta charset=\"utf-8\"><title>sluice sweep: "
            f"{html.escape(trace)}</title></head><body style=\"font-family:sans-serif\">",
            f"<h1>{html.escape(trace)}: attainment against GPU-hours</h1>",
            "<p>Each policy over the values of its knob (dots); lines join the points no other "
            "point of the same policy beats on both axes. The diamond is the oracle "
            f"({oracle['slo_attainment'] * 100:.2f}% at {oracle['gpu_hours']:.1f} GPU-h); the "
            "dashed line is 99%.</p>", chart(trace, pols, oracle),
            "<table border=\"1\" cellpadding=\"3\" style=\"border-collapse:collapse\"><tr>"
            "<th>policy</th><th>knob</th><th>SLO</th><th>GPU-h</th><th>× oracle</th></tr>"]
    for policy in sorted(pols):
        for p in sorted(pols[policy]):
            page.append(f"<tr><td>{html.escape(policy)}</td><td>{html.escape(p[2])}</td>"
                        f"<td>{p[1] * 100:.2f}%</td><td>{p[0]:.1f}</td>"
                        f"<td>{p[0] / oracle['gpu_hours']:.2f}</td></tr>")
    page.append("</table></body></html>")
    with open(out_html, "w") as f:
        f.write("\n".join(page) + "\n")


if __name__ == "__main__":
    main()
