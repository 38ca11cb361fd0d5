// The history screen: uptime and speed, a timeline, days, incidents and failed checks in full,
// for the IT volunteer or the provider's support. Loaded when the screen opens or a choice
// changes; while it is open, a finished check refreshes it (at most once every 5 s).

import type { Ctx, OpenOptions, View } from "../ctx";
import { byId, h, options } from "../dom";
import { categoryText, dateTime, duration, lang, percent, t } from "../i18n";
import type { DayStats, FailedCheck, History, Incident, MailboxHistory } from "../ipc";
import { latencyChart } from "./chart";
import { showError, stageRecords } from "./common";

const DAYS = [1, 7, 30, 90];
const REFRESH_MS = 5000;

export class HistoryView implements View {
  readonly name = "history";
  private mailbox = "";
  private days = 7;
  private data: History | null = null;
  private loading = false;
  /** Only the answer to the latest request is shown. */
  private seq = 0;
  private lastLoad = 0;
  private timer: ReturnType<typeof setTimeout> | null = null;
  private visible = false;
  private exported: { text: string; error: boolean } | null = null;

  constructor(
    private readonly section: HTMLElement,
    private readonly ctx: Ctx,
  ) {}

  render(): void {
    const d = t();
    const mailbox = h("select", { id: "history-mailbox", name: "mailbox" });
    const days = h("select", { id: "history-days", name: "days" }, ...options(DAYS.map((n) => [String(n), d.lastDays(n)]), String(this.days)));
    mailbox.addEventListener("change", () => {
      this.mailbox = mailbox.value;
      void this.load();
    });
    days.addEventListener("change", () => {
      this.days = Number(days.value);
      void this.load();
    });
    const csv = h("button", { type: "button", id: "export-csv" }, d.exportCsv);
    const html = h("button", { type: "button", id: "export-html" }, d.exportHtml);
    csv.addEventListener("click", () => void this.export("csv"));
    html.addEventListener("click", () => void this.export("html"));
    this.section.replaceChildren(
      h("h2", { id: "history-title", tabindex: "-1" }, d.historyTitle),
      h(
        "div",
        { class: "toolbar" },
        h("label", { for: "history-mailbox" }, d.historyMailbox),
        mailbox,
        h("label", { for: "history-days" }, d.historyDays),
        days,
        csv,
        html,
      ),
      h("p", { id: "export-result", role: "status" }),
      h("p", { id: "history-error", class: "error", role: "alert", hidden: true }),
      h("div", { id: "history-body", "aria-busy": "false" }),
    );
    this.updateMailboxes();
    this.drawExport();
    this.draw();
  }

  opened(opts: OpenOptions): void {
    this.visible = true;
    if (opts.mailbox !== undefined) this.mailbox = opts.mailbox ?? "";
    this.updateMailboxes();
    if (opts.focus) byId(this.section, "history-title").focus();
    void this.load();
  }

  closed(): void {
    this.visible = false;
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
  }

  /** The mailbox choice follows the cards (added or removed mailboxes). */
  updateMailboxes(): void {
    const select = this.section.querySelector<HTMLSelectElement>("#history-mailbox");
    if (!select) return;
    const names = this.ctx.cards().map((c) => c.mailbox);
    if (this.mailbox !== "" && !names.includes(this.mailbox)) names.push(this.mailbox);
    select.replaceChildren(...options([["", t().allMailboxes], ...names.map((n): [string, string] => [n, n])], this.mailbox));
  }

  /** Event `monitor`: a check ended; refresh if open, but not more than every 5 s. */
  onMonitor(): void {
    if (!this.visible || this.timer !== null) return;
    const wait = this.lastLoad + REFRESH_MS - Date.now();
    if (wait <= 0) {
      void this.load();
      return;
    }
    this.timer = setTimeout(() => {
      this.timer = null;
      if (this.visible) void this.load();
    }, wait);
  }

  private async load(): Promise<void> {
    const seq = ++this.seq;
    this.lastLoad = Date.now();
    this.loading = true;
    byId(this.section, "history-body").setAttribute("aria-busy", "true");
    const error = byId(this.section, "history-error");
    error.hidden = true;
    try {
      const data = await this.ctx.ipc.invoke("history", { mailbox: this.mailbox || null, days: this.days });
      if (seq !== this.seq) return;
      this.data = data;
    } catch (err) {
      if (seq !== this.seq) return;
      showError(null, error, err);
    }
    this.loading = false;
    this.draw();
  }

  private async export(format: "csv" | "html"): Promise<void> {
    try {
      const path = await this.ctx.ipc.invoke("export_report", { format, mailbox: this.mailbox || null, days: this.days });
      this.exported = { text: path, error: false };
    } catch (err) {
      this.exported = { text: (err as { message?: string })?.message ?? String(err), error: true };
    }
    this.drawExport();
  }

  private drawExport(): void {
    const out = byId(this.section, "export-result");
    const e = this.exported;
    out.textContent = e === null ? "" : e.error ? t().cannot(e.text) : t().exported(e.text);
    out.classList.toggle("error", e?.error ?? false);
    out.dataset.path = e && !e.error ? e.text : "";
  }

  private draw(): void {
    const d = t();
    const body = byId(this.section, "history-body");
    body.setAttribute("aria-busy", String(this.loading));
    const data = this.data;
    if (data === null) {
      body.replaceChildren(h("p", { class: "muted" }, this.loading ? d.loading : ""));
      return;
    }
    const shown = data.mailboxes.filter((m) => this.mailbox === "" || m.mailbox === this.mailbox);
    if (shown.length === 0 || shown.every((m) => m.checks === 0 && m.points.length === 0)) {
      body.replaceChildren(h("p", { class: "muted" }, d.noHistory));
      return;
    }
    body.replaceChildren(...shown.map((m) => mailboxSection(m, data)));
  }
}

function mailboxSection(m: MailboxHistory, data: History): HTMLElement {
  const d = t();
  const stat = (label: string, value: string, cls: string) => h("div", { class: cls }, h("dt", {}, label), h("dd", {}, value));
  const ms = (v: number | null) => (v === null ? "–" : duration(v));
  return h(
    "section",
    { class: "mailbox-history", "data-mailbox": m.mailbox, "aria-labelledby": `hist-mb-${m.mailbox}` },
    h("h3", { id: `hist-mb-${m.mailbox}` }, m.mailbox, " ", h("span", { class: "address" }, m.address)),
    h(
      "dl",
      { class: "stats" },
      stat(d.checks, String(m.checks), "checks"),
      stat(d.uptime, percent(m.uptime_pct), "uptime"),
      stat(d.p50, ms(m.p50_ms), "p50"),
      stat(d.p95, ms(m.p95_ms), "p95"),
    ),
    h("figure", { class: "chart" }, latencyChart(m, data.from_ms, data.to_ms)),
    daysTable(m.days),
    m.incidents.length ? incidentsTable(m.incidents, data.to_ms) : h("p", { class: "muted no-incidents" }, d.noIncidents),
    m.failures.length ? h("h4", {}, d.failuresTitle) : null,
    ...m.failures.map(failure),
  );
}

function table(cls: string, caption: string, heads: string[], rows: (string | Node)[][]): HTMLTableElement {
  return h(
    "table",
    { class: cls },
    h("caption", {}, caption),
    h("thead", {}, h("tr", {}, ...heads.map((x) => h("th", { scope: "col" }, x)))),
    h("tbody", {}, ...rows.map((r) => h("tr", {}, ...r.map((c, i) => (i === 0 ? h("th", { scope: "row" }, c) : h("td", {}, c)))))),
  );
}

function dayLabel(day: string): string {
  const [y, mo, da] = day.split("-").map(Number);
  if (!y || !mo || !da) return day;
  return new Date(y, mo - 1, da).toLocaleDateString(lang(), { month: "short", day: "numeric", weekday: "short" });
}

function daysTable(days: DayStats[]): HTMLTableElement {
  const d = t();
  const ms = (v: number | null) => (v === null ? "–" : duration(v));
  return table(
    "days",
    d.daysCaption,
    [d.day, d.checks, d.uptime, d.p50, d.p95],
    days.map((x) => [dayLabel(x.day), String(x.checks), percent(x.uptime_pct), ms(x.p50_ms), ms(x.p95_ms)]),
  );
}

function incidentsTable(incidents: Incident[], toMs: number): HTMLTableElement {
  const d = t();
  return table(
    "incidents",
    d.incidentsCaption,
    [d.cause, d.started, d.ended, d.duration, d.acknowledged],
    incidents.map((i) => {
      const causes = (i.causes.length ? i.causes : [i.category]).map(categoryText).join(", ");
      const cause = h("span", { class: "cause", "data-severity": i.severity }, causes);
      const extra = i.summary && !same(i.summary, causes) ? h("span", { class: "summary" }, i.summary) : null;
      const end = i.end_ms ?? Math.max(toMs, Date.now());
      return [
        extra ? h("span", {}, cause, extra) : cause,
        dateTime(i.start_ms),
        i.end_ms === null ? d.ongoing : dateTime(i.end_ms),
        duration(end - i.start_ms),
        i.acknowledged_at_ms === null ? d.notAcked : dateTime(i.acknowledged_at_ms),
      ];
    }),
  );
}

/** Whether a summary only repeats the plain words of its category ("… refused." / "… refused"). */
function same(a: string, b: string): boolean {
  const norm = (x: string) => x.trim().replace(/[.。]$/, "").toLowerCase();
  return norm(a) === norm(b);
}

function failure(f: FailedCheck): HTMLDetailsElement {
  return h(
    "details",
    { class: "failure", "data-state": f.state, "data-category": f.category },
    h("summary", {}, `${dateTime(f.at_ms)} — ${f.summary && !same(f.summary, categoryText(f.category)) ? f.summary : categoryText(f.category)}`),
    f.action ? h("p", { class: "action" }, f.action) : null,
    stageRecords(f.stages),
  );
}
