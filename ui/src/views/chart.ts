// The latency timeline of one mailbox as inline SVG: a point per check (time across, send-to-
// arrival time up), failed checks along the top band, incidents as shaded spans. Severity is
// shown by shape as well as colour: a filled dot (ok), a ring (warning), a dashed ring
// (unknown), a dot with a cross in the top band (failed).

import { s } from "../dom";
import { categoryText, dateTime, duration, shortDate, t, time } from "../i18n";
import type { CheckPoint, MailboxHistory } from "../ipc";

const W = 720;
const H = 220;
const LEFT = 64;
const RIGHT = 12;
const TOP = 8;
const BAND = 22; // the failed band at the top
const BOTTOM = 28;

/** Whether a check goes in the failed band: it failed, or has no time to plot. */
export function isFailed(p: CheckPoint): boolean {
  return p.severity === "critical" || p.latency_ms === null;
}

/** A round ceiling for the latency axis: 1, 2 or 5 × 10ⁿ ms, at least 1 s. */
function niceMax(ms: number): number {
  const target = Math.max(ms, 1000);
  const mag = 10 ** Math.floor(Math.log10(target));
  for (const m of [1, 2, 5, 10]) if (m * mag >= target) return m * mag;
  return 10 * mag;
}

export function latencyChart(m: MailboxHistory, fromMs: number, toMs: number): SVGSVGElement {
  const d = t();
  const span = Math.max(toMs - fromMs, 1);
  const plotW = W - LEFT - RIGHT;
  const yBase = H - BOTTOM;
  const yTop = TOP + BAND + 14;
  const x = (ms: number) => LEFT + (Math.min(Math.max(ms, fromMs), toMs) - fromMs) / span * plotW;
  const plotted = m.points.filter((p) => !isFailed(p)).map((p) => p.latency_ms as number);
  const max = niceMax(plotted.length ? Math.max(...plotted) : 0);
  const y = (ms: number) => yBase - (ms / max) * (yBase - yTop);
  const failedY = TOP + BAND / 2;

  const failed = m.points.filter(isFailed).length;
  const summary = d.chartSummary(m.mailbox, dateTime(fromMs), dateTime(toMs), m.points.length, failed, m.incidents.length);
  const svg = s("svg", {
    class: "latency-chart",
    viewBox: `0 0 ${W} ${H}`,
    role: "img",
    "aria-label": summary,
    "data-mailbox": m.mailbox,
  });
  svg.append(s("title", {}, summary));

  // Incidents first, so the points are drawn over them.
  for (const inc of m.incidents) {
    const x0 = x(inc.start_ms);
    const x1 = x(inc.end_ms ?? toMs);
    const causes = (inc.causes.length ? inc.causes : [inc.category]).map(categoryText).join(", ");
    svg.append(
      s(
        "rect",
        {
          class: "incident",
          "data-severity": inc.severity,
          x: x0.toFixed(1),
          y: TOP,
          width: Math.max(x1 - x0, 2).toFixed(1),
          height: yBase - TOP,
        },
        s("title", {}, `${causes}: ${dateTime(inc.start_ms)} – ${inc.end_ms === null ? d.ongoing : dateTime(inc.end_ms)}`),
      ),
    );
  }

  // Axes: the failed band, the time axis with five labels, the latency axis with three.
  svg.append(
    s("line", { class: "axis", x1: LEFT, y1: yBase, x2: W - RIGHT, y2: yBase }),
    s("line", { class: "axis", x1: LEFT, y1: TOP, x2: LEFT, y2: yBase }),
    s("line", { class: "band", x1: LEFT, y1: TOP + BAND, x2: W - RIGHT, y2: TOP + BAND }),
    s("text", { class: "label", x: LEFT - 6, y: failedY + 4, "text-anchor": "end" }, d.chartFailed),
  );
  for (const frac of [0, 0.5, 1]) {
    const ms = max * frac;
    svg.append(
      s("text", { class: "label", x: LEFT - 6, y: (y(ms) + 4).toFixed(1), "text-anchor": "end" }, frac === 0 ? "0" : duration(ms)),
    );
    if (frac > 0) svg.append(s("line", { class: "grid", x1: LEFT, y1: y(ms).toFixed(1), x2: W - RIGHT, y2: y(ms).toFixed(1) }));
  }
  const oneDay = span <= 26 * 3600_000;
  for (let i = 0; i <= 4; i++) {
    const ms = fromMs + (span * i) / 4;
    const anchor = i === 0 ? "start" : i === 4 ? "end" : "middle";
    svg.append(
      s("text", { class: "label", x: x(ms).toFixed(1), y: H - 8, "text-anchor": anchor }, oneDay ? time(ms) : shortDate(ms)),
    );
  }

  for (const p of m.points) {
    const bad = isFailed(p);
    const cx = x(p.at_ms);
    const cy = bad ? failedY : y(p.latency_ms as number);
    const label = `${dateTime(p.at_ms)} · ${p.latency_ms === null ? "" : `${duration(p.latency_ms)} · `}${categoryText(p.category)}`;
    const circle = s(
      "circle",
      {
        class: "point",
        "data-severity": p.severity,
        "data-failed": String(bad),
        "data-offline": String(p.offline),
        cx: cx.toFixed(1),
        cy: cy.toFixed(1),
        r: bad ? 5 : p.severity === "ok" ? 3 : 4,
      },
      s("title", {}, label),
    );
    svg.append(circle);
    if (bad) {
      // The cross makes a failure readable without colour.
      const k = 2.6;
      svg.append(
        s("path", {
          class: "cross",
          d: `M${(cx - k).toFixed(1)},${(cy - k).toFixed(1)}L${(cx + k).toFixed(1)},${(cy + k).toFixed(1)}M${(cx - k).toFixed(1)},${(cy + k).toFixed(1)}L${(cx + k).toFixed(1)},${(cy - k).toFixed(1)}`,
          "aria-hidden": "true",
        }),
      );
    }
  }
  return svg;
}
