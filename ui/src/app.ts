// The window: a nav bar and five screens, one shown at a time. It subscribes to the app's
// events once and hands each to the screens that care; the screens talk to the app only
// through the Ipc given here (Tauri's in the app, a fake in the tests).

import type { Ctx, OpenOptions, View, ViewName } from "./ctx";
import { VIEWS } from "./ctx";
import { h } from "./dom";
import { lang, setLang, t } from "./i18n";
import type { Card, Ipc, Lang } from "./ipc";
import { DrillView } from "./views/drill";
import { HistoryView } from "./views/history";
import { SettingsView } from "./views/settings";
import { StatusView } from "./views/status";
import { WizardView } from "./views/wizard";

export class App implements Ctx {
  testing: string | null = null;
  private current: ViewName = "status";
  private readonly nav: HTMLElement;
  private readonly title: HTMLElement;
  private readonly sections = new Map<ViewName, HTMLElement>();
  readonly status: StatusView;
  readonly wizard: WizardView;
  readonly history: HistoryView;
  readonly drill: DrillView;
  readonly settings: SettingsView;
  private readonly views: Record<ViewName, View>;

  constructor(
    root: HTMLElement,
    readonly ipc: Ipc,
  ) {
    this.title = h("h1", {});
    this.nav = h("nav", {});
    const main = h("main", { id: "main" });
    for (const v of VIEWS) {
      const section = h("section", { id: `view-${v}`, class: "view", hidden: v !== this.current });
      this.sections.set(v, section);
      main.append(section);
    }
    root.replaceChildren(h("header", { class: "top" }, this.title, this.nav), main);
    this.status = new StatusView(this.sections.get("status")!, this);
    this.wizard = new WizardView(this.sections.get("add")!, this);
    this.history = new HistoryView(this.sections.get("history")!, this);
    this.drill = new DrillView(this.sections.get("drill")!, this);
    this.settings = new SettingsView(this.sections.get("settings")!, this);
    this.views = { status: this.status, add: this.wizard, history: this.history, drill: this.drill, settings: this.settings };
    this.renderAll();
  }

  /** Subscribes to every event, then asks for the first look. Listening comes first so that
   * nothing pushed in between is lost (an older card cannot overwrite a newer one). */
  async start(): Promise<void> {
    const ipc = this.ipc;
    await Promise.all([
      ipc.listen("monitor", (card) => {
        this.status.onMonitor(card);
        this.history.onMonitor();
      }),
      ipc.listen("stage", (ev) => {
        this.status.onStage(ev);
        this.wizard.onStage(ev);
      }),
      ipc.listen("paused", (until) => this.status.setPaused(until)),
      ipc.listen("trouble", (why) => this.status.setTrouble(why)),
      ipc.listen("cards", (cards) => {
        this.status.setCards(cards, true);
        this.mailboxesChanged();
      }),
      ipc.listen("open", (req) => this.show(req.view, { mailbox: req.mailbox, focus: true })),
      ipc.listen("drill", (drill) => this.drill.onDrill(drill)),
    ]);
    await this.reloadOverview();
  }

  async reloadOverview(): Promise<void> {
    try {
      const o = await this.ipc.invoke("overview", {});
      if (o.lang !== lang()) this.applyLang(o.lang);
      this.status.load(o);
      this.mailboxesChanged();
    } catch (err) {
      this.status.setTrouble((err as { message?: string })?.message ?? String(err));
    }
  }

  cards(): Card[] {
    return this.status.list();
  }

  setCards(cards: Card[]): void {
    this.status.setCards(cards, false);
    this.mailboxesChanged();
  }

  show(view: ViewName, opts: OpenOptions = {}): void {
    if (view !== this.current) this.views[this.current].closed?.();
    this.current = view;
    for (const [v, section] of this.sections) section.hidden = v !== view;
    this.drawNav();
    this.views[view].opened(opts);
  }

  applyLang(l: Lang): void {
    // Put the focus back on the same control after the redraw, if it still exists.
    const focused = document.activeElement?.id;
    setLang(l);
    this.renderAll();
    if (focused) document.getElementById(focused)?.focus();
  }

  private mailboxesChanged(): void {
    this.history.updateMailboxes();
    this.drill.updateMailboxes();
  }

  private renderAll(): void {
    const d = t();
    document.documentElement.lang = lang();
    document.title = d.appTitle;
    this.title.textContent = d.appTitle;
    this.nav.setAttribute("aria-label", d.navLabel);
    this.nav.replaceChildren(
      ...VIEWS.map((v) => {
        const b = h("button", { type: "button", "data-view": v }, d.nav[v]);
        b.addEventListener("click", () => this.show(v));
        return b;
      }),
    );
    this.drawNav();
    for (const v of VIEWS) this.views[v].render();
  }

  private drawNav(): void {
    for (const b of this.nav.querySelectorAll<HTMLButtonElement>("button[data-view]")) {
      if (b.dataset.view === this.current) b.setAttribute("aria-current", "page");
      else b.removeAttribute("aria-current");
    }
  }
}
