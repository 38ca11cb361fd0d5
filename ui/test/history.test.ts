import { afterEach, describe, expect, it, vi } from "vitest";
import type { History } from "../src/ipc";
import { $, $$, T0, card, choose, fixtures, flush, history, mailboxHistory, mount, type Handlers } from "./fake";

afterEach(() => vi.useRealTimers());

async function openHistory(over: Handlers = {}) {
  const m = await mount(fixtures(over));
  $('nav button[data-view="history"]').click();
  await flush();
  return m;
}

describe("history screen", () => {
  it("loads when opened and again when a choice changes", async () => {
    const { ipc } = await openHistory();
    expect(ipc.argsOf("history")).toEqual([{ mailbox: null, days: 7 }]);
    expect($$<HTMLOptionElement>("#history-mailbox option").map((o) => o.value)).toEqual(["", "office", "sales"]);
    expect($$<HTMLOptionElement>("#history-days option").map((o) => o.value)).toEqual(["1", "7", "30", "90"]);
    choose($("#history-mailbox"), "office");
    choose($("#history-days"), "30");
    await flush();
    expect(ipc.argsOf("history").slice(1)).toEqual([
      { mailbox: "office", days: 7 },
      { mailbox: "office", days: 30 },
    ]);
  });

  it("shows uptime and speed, a chart with a point per check and a span per incident", async () => {
    await openHistory();
    const section = $('.mailbox-history[data-mailbox="office"]');
    expect($(".uptime dd", section).textContent).toBe("80.0 %");
    expect($(".p50 dd", section).textContent).toBe("2.1 s");
    const svg = $<SVGSVGElement>("svg.latency-chart", section);
    expect(svg.namespaceURI).toBe("http://www.w3.org/2000/svg");
    const points = $$<SVGCircleElement>("circle.point", svg);
    expect(points).toHaveLength(5);
    expect(points.map((p) => p.dataset.severity)).toEqual(["ok", "ok", "critical", "warning", "ok"]);
    // The failed check is in the band at the top, above every plotted one, and has a cross.
    const cy = points.map((p) => Number(p.getAttribute("cy")));
    expect(cy[2]).toBeLessThan(Math.min(cy[0], cy[1], cy[3], cy[4]));
    expect($$("path.cross", svg)).toHaveLength(1);
    // Slower is higher.
    expect(cy[3]).toBeLessThan(cy[1]);
    expect(cy[1]).toBeLessThan(cy[0]);
    // Time runs left to right.
    const cx = points.map((p) => Number(p.getAttribute("cx")));
    expect([...cx].sort((a, b) => a - b)).toEqual(cx);
    const rects = $$<SVGRectElement>("rect.incident", svg);
    expect(rects).toHaveLength(2);
    expect(Number(rects[0].getAttribute("x"))).toBeCloseTo(cx[2], 0);
    expect(svg.getAttribute("role")).toBe("img");
    expect(svg.getAttribute("aria-label")).toContain("5 checks, 1 failed");
    expect($("title", svg).textContent).toBe(svg.getAttribute("aria-label"));
    expect($$("text.label", svg).length).toBeGreaterThanOrEqual(8); // both axes labelled
  });

  it("lists days and incidents in plain words", async () => {
    await openHistory();
    const days = $$("table.days tbody tr");
    expect(days).toHaveLength(2);
    expect(days[1].textContent).toContain("66.7 %");
    const rows = $$("table.incidents tbody tr");
    expect(rows).toHaveLength(2);
    const cells = (tr: HTMLElement) => $$("th, td", tr).map((c) => c.textContent);
    expect(cells(rows[0])[0]).toContain("The password was refused");
    expect(cells(rows[0])[3]).toBe("30 min");
    expect(cells(rows[0])[4]).not.toBe("no");
    expect(cells(rows[1])[0]).toContain("Canary landed in Junk");
    expect(cells(rows[1])[2]).toBe("ongoing");
    expect(cells(rows[1])[4]).toBe("no");
  });

  it("shows failed checks in full, server replies as text", async () => {
    await openHistory();
    const failures = $$<HTMLDetailsElement>("details.failure");
    expect(failures).toHaveLength(1);
    expect($("summary", failures[0]).textContent).toContain("The password was refused");
    expect($(".action", failures[0]).textContent).toBe("Check the password with the provider.");
    const replies = $$("pre.detail", failures[0]);
    expect(replies).toHaveLength(1);
    expect(replies[0].textContent).toBe("a1 NO [AUTHENTICATIONFAILED] <script>alert(1)</script>");
    expect(document.querySelector("#view-history script")).toBeNull();
  });

  it("says so when there is nothing in the period", async () => {
    await openHistory({ history: () => history([mailboxHistory("office", { checks: 0, points: [], days: [], incidents: [], failures: [] })]) });
    expect($("#history-body").textContent).toBe("No checks recorded in this period.");
  });

  it("exports and shows the path written", async () => {
    const { ipc } = await openHistory({ export_report: ({ format }) => `/home/office/Downloads/mailcanary.${format}` });
    choose($("#history-days"), "30");
    $("#export-html").click();
    await flush();
    expect(ipc.argsOf("export_report")).toEqual([{ format: "html", mailbox: null, days: 30 }]);
    expect($("#export-result").textContent).toBe("Saved to /home/office/Downloads/mailcanary.html");
    $("#export-csv").click();
    await flush();
    expect($("#export-result").textContent).toContain("mailcanary.csv");
  });

  it("keeps only the answer to the latest request", async () => {
    const answers: ((h: History) => void)[] = [];
    await openHistory({ history: () => new Promise<History>((r) => answers.push(r)) });
    choose($("#history-mailbox"), "sales");
    answers[1](history([mailboxHistory("sales")]));
    await flush();
    answers[0](history([mailboxHistory("office")]));
    await flush();
    expect($$(".mailbox-history").map((s) => s.dataset.mailbox)).toEqual(["sales"]);
  });

  it("refreshes after a check while open, at most once every 5 s", async () => {
    vi.useFakeTimers({ toFake: ["Date", "setTimeout", "clearTimeout"], now: T0 });
    const m = mount(fixtures());
    await vi.runAllTimersAsync();
    const { ipc } = await m;
    ipc.emit("monitor", card("office", { checked_at_ms: T0 + 1 }));
    expect(ipc.argsOf("history")).toHaveLength(0); // not open: nothing to refresh
    $('nav button[data-view="history"]').click();
    await vi.advanceTimersByTimeAsync(0);
    expect(ipc.argsOf("history")).toHaveLength(1);
    ipc.emit("monitor", card("office", { checked_at_ms: T0 + 2 }));
    ipc.emit("monitor", card("sales", { checked_at_ms: T0 + 3 }));
    await vi.advanceTimersByTimeAsync(1000);
    expect(ipc.argsOf("history")).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(4100);
    expect(ipc.argsOf("history")).toHaveLength(2);
    await vi.advanceTimersByTimeAsync(10_000);
    expect(ipc.argsOf("history")).toHaveLength(2);
    // Closed again: checks do not reload it.
    $('nav button[data-view="status"]').click();
    ipc.emit("monitor", card("office", { checked_at_ms: T0 + 4 }));
    await vi.advanceTimersByTimeAsync(10_000);
    expect(ipc.argsOf("history")).toHaveLength(2);
  });
});
