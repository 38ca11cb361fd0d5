// Drills and the runbook. A drill sends a practice alarm through the real channels; someone
// presses "I saw it", and the time it took is kept. The runbook says what to do when mail stops,
// written while mail still works, and is shown during a drill.

import type { Ctx, OpenOptions, View } from "../ctx";
import { byId, field, h, options, setText } from "../dom";
import { dateTime, duration, t, time } from "../i18n";
import type { Drill, Runbook } from "../ipc";
import { showError } from "./common";

const RUNBOOK_FIELDS = ["contact", "provider_support", "webmail", "backup_channel", "notes"] as const;

export class DrillView implements View {
  readonly name = "drill";
  private drills: Drill[] = [];
  private active: Drill | null = null;
  private acked: Drill | null = null;
  private runbook: Runbook | null = null;
  /** The runbook form was edited since it was loaded or saved: do not overwrite it. */
  private dirty = false;
  private savedShown = false;
  private mailbox = "";

  constructor(
    private readonly section: HTMLElement,
    private readonly ctx: Ctx,
  ) {}

  render(): void {
    const d = t();
    const kept = this.section.querySelector("form") ? this.readRunbook() : this.runbook;
    const select = h("select", { id: "drill-mailbox", name: "drill_mailbox" });
    select.addEventListener("change", () => (this.mailbox = select.value));
    const start = h("button", { type: "button", id: "start-drill", class: "primary" }, d.startDrill);
    start.addEventListener("click", () => void this.start());
    const ack = h("button", { type: "button", id: "ack-drill", class: "primary" }, d.ackDrill);
    ack.addEventListener("click", () => void this.ack());
    const form = h(
      "form",
      { id: "runbook", novalidate: true, "aria-labelledby": "runbook-title" },
      ...RUNBOOK_FIELDS.map((n) => field(d.runbook[n], h("textarea", { name: n, id: `runbook-${n}`, rows: n === "notes" ? "4" : "2" }))),
      h("p", { id: "runbook-error", class: "error", role: "alert", hidden: true }),
      h("div", { class: "buttons" }, h("button", { type: "submit", id: "save-runbook" }, d.saveRunbook)),
      h("p", { id: "runbook-saved", role: "status" }),
    );
    form.addEventListener("submit", (e) => {
      e.preventDefault();
      void this.saveRunbook();
    });
    form.addEventListener("input", () => {
      this.dirty = true;
      this.savedShown = false;
      this.drawSaved();
    });
    this.section.replaceChildren(
      h("h2", { id: "drill-title", tabindex: "-1" }, d.drillTitle),
      h("p", { class: "intro" }, d.drillExplain),
      h("div", { class: "toolbar" }, h("label", { for: "drill-mailbox" }, d.drillMailbox), select, start),
      h("p", { id: "drill-none", class: "muted", hidden: true }, d.noMailboxForDrill),
      h(
        "div",
        { id: "drill-active", class: "banner drill", hidden: true },
        h("p", { class: "text" }),
        h("dl", { class: "runbook-view" }),
        ack,
      ),
      h("p", { id: "drill-result", role: "status" }),
      h("p", { id: "drill-error", class: "error", role: "alert", hidden: true }),
      h("h3", {}, d.drillsCaption),
      h("p", { id: "drills-none", class: "muted" }, d.noDrills),
      h(
        "table",
        { id: "drills" },
        h("caption", { class: "visually-hidden" }, d.drillsCaption),
        h("thead", {}, h("tr", {}, h("th", { scope: "col" }, d.mailbox), h("th", { scope: "col" }, d.started), h("th", { scope: "col" }, d.acknowledged))),
        h("tbody", {}),
      ),
      h("h2", { id: "runbook-title" }, d.runbookTitle),
      h("p", { class: "intro" }, d.runbookIntro),
      form,
    );
    if (kept) this.fillRunbook(kept);
    this.updateMailboxes();
    this.drawActive();
    this.drawDrills();
    this.drawSaved();
  }

  opened(opts: OpenOptions): void {
    this.updateMailboxes();
    if (opts.focus) byId(this.section, "drill-title").focus();
    void this.load();
  }

  /** The mailbox choice follows the cards. */
  updateMailboxes(): void {
    const select = this.section.querySelector<HTMLSelectElement>("#drill-mailbox");
    if (!select) return;
    const names = this.ctx.cards().map((c) => c.mailbox);
    if (!names.includes(this.mailbox)) this.mailbox = names[0] ?? "";
    select.replaceChildren(...options(names.map((n) => [n, n]), this.mailbox));
    byId(this.section, "drill-none").hidden = names.length > 0;
    select.disabled = names.length === 0;
    byId<HTMLButtonElement>(this.section, "start-drill").disabled = names.length === 0;
  }

  /** Event `drill`: started, acknowledged or ended (here or from the tray). */
  onDrill(drill: Drill): void {
    this.upsert(drill);
    const running = drill.acked_at_ms === null && drill.ended_at_ms === null;
    if (running) this.active = drill;
    else if (this.active?.id === drill.id) {
      this.active = null;
      if (drill.acked_at_ms !== null) this.acked = drill;
    }
    this.drawActive();
    this.drawDrills();
  }

  private async load(): Promise<void> {
    const error = byId(this.section, "drill-error");
    try {
      const [drills, runbook] = await Promise.all([
        this.ctx.ipc.invoke("drills", { days: 90 }),
        this.dirty ? Promise.resolve(null) : this.ctx.ipc.invoke("runbook", {}),
      ]);
      this.drills = [...drills].sort((a, b) => b.started_at_ms - a.started_at_ms);
      // A drill still running (from before this window, or from the tray) can be acknowledged here.
      this.active = this.drills.find((x) => x.acked_at_ms === null && x.ended_at_ms === null) ?? this.active;
      if (runbook && !this.dirty) {
        this.runbook = runbook;
        this.fillRunbook(runbook);
      }
    } catch (err) {
      showError(null, error, err);
    }
    this.drawActive();
    this.drawDrills();
  }

  private async start(): Promise<void> {
    const error = byId(this.section, "drill-error");
    error.hidden = true;
    if (!this.mailbox) return;
    try {
      const drill = await this.ctx.ipc.invoke("start_drill", { mailbox: this.mailbox });
      this.acked = null;
      this.onDrill(drill);
      byId(this.section, "ack-drill").focus();
    } catch (err) {
      showError(null, error, err);
    }
  }

  private async ack(): Promise<void> {
    const drill = this.active;
    if (!drill) return;
    const error = byId(this.section, "drill-error");
    error.hidden = true;
    try {
      const done = await this.ctx.ipc.invoke("ack_drill", { id: drill.id });
      this.onDrill(done);
      if (this.active?.id === drill.id) {
        // The answer says it still runs (it should not): stop showing it anyway.
        this.active = null;
        this.drawActive();
      }
      byId(this.section, "start-drill").focus();
    } catch (err) {
      showError(null, error, err);
    }
  }

  private async saveRunbook(): Promise<void> {
    const form = byId<HTMLFormElement>(this.section, "runbook");
    const error = byId(this.section, "runbook-error");
    error.hidden = true;
    const runbook = this.readRunbook();
    try {
      await this.ctx.ipc.invoke("save_runbook", { runbook });
      this.runbook = runbook;
      this.dirty = false;
      this.savedShown = true;
      this.drawSaved();
      this.drawActive();
    } catch (err) {
      showError(form, error, err);
    }
  }

  private readRunbook(): Runbook {
    const form = byId<HTMLFormElement>(this.section, "runbook");
    const v = (n: string) => (form.elements.namedItem(n) as HTMLTextAreaElement).value;
    return { contact: v("contact"), provider_support: v("provider_support"), webmail: v("webmail"), backup_channel: v("backup_channel"), notes: v("notes") };
  }

  private fillRunbook(r: Runbook): void {
    const form = byId<HTMLFormElement>(this.section, "runbook");
    for (const n of RUNBOOK_FIELDS) (form.elements.namedItem(n) as HTMLTextAreaElement).value = r[n];
    // Says the form holds the saved runbook (end-to-end tests wait for it before typing).
    form.dataset.loaded = "true";
  }

  private upsert(drill: Drill): void {
    const i = this.drills.findIndex((x) => x.id === drill.id);
    if (i >= 0) this.drills[i] = drill;
    else this.drills.unshift(drill);
  }

  private drawSaved(): void {
    setText(byId(this.section, "runbook-saved"), this.savedShown ? t().saved : "");
  }

  private drawActive(): void {
    const d = t();
    const box = byId(this.section, "drill-active");
    const a = this.active;
    box.hidden = a === null;
    setText(box.querySelector(".text")!, a ? d.drillActive(a.mailbox, time(a.started_at_ms)) : "");
    // What to do, from the runbook, right where the alarm is.
    const rb = this.runbook;
    box.querySelector(".runbook-view")!.replaceChildren(
      ...(rb ? RUNBOOK_FIELDS.filter((n) => rb[n].trim() !== "").flatMap((n) => [h("dt", {}, d.runbook[n]), h("dd", {}, rb[n])]) : []),
    );
    const result = byId(this.section, "drill-result");
    const ok = this.acked;
    setText(result, ok && ok.acked_at_ms !== null ? d.drillAcked(duration(ok.acked_at_ms - ok.started_at_ms)) : "");
  }

  private drawDrills(): void {
    const d = t();
    const table = byId(this.section, "drills");
    table.hidden = this.drills.length === 0;
    byId(this.section, "drills-none").hidden = this.drills.length > 0;
    table.querySelector("tbody")!.replaceChildren(
      ...this.drills.map((x) =>
        h(
          "tr",
          { "data-id": String(x.id), "data-acked": String(x.acked_at_ms !== null) },
          h("td", {}, x.mailbox),
          h("td", {}, dateTime(x.started_at_ms)),
          h(
            "td",
            {},
            x.acked_at_ms !== null
              ? d.ackAfter(duration(x.acked_at_ms - x.started_at_ms))
              : x.ended_at_ms === null
                ? d.running
                : d.notAcknowledged,
          ),
        ),
      ),
    );
  }
}
