// The status screen: one card per mailbox, the overall line, pause and trouble banners.
// The first look comes from `overview()`; after that the app pushes events. Cards are updated
// in place, so a keyboard user's focus stays where it was while checks come and go.

import type { Ctx, OpenOptions, View } from "../ctx";
import { byId, h, setText } from "../dom";
import { categoryText, duration, t, time } from "../i18n";
import type { Card, Overview, StageEvent, State } from "../ipc";
import { StageList, showError } from "./common";

const MARK: Record<State, string> = { ok: "✓", warning: "!", critical: "✕", unknown: "?", waiting: "○" };

interface CardView {
  root: HTMLElement;
  stages: StageList;
}

export class StatusView implements View {
  readonly name = "status";
  private cards = new Map<string, Card>();
  private views = new Map<string, CardView>();
  /** Mailboxes whose "Check now" was pressed and whose result has not come yet. */
  private checking = new Set<string>();
  /** Mailboxes whose card holds the focus its disabled button had. */
  private parked = new Set<string>();
  private paused: number | null = null;
  private trouble: string | null = null;

  constructor(
    private readonly section: HTMLElement,
    private readonly ctx: Ctx,
  ) {}

  /** The cards in display order. */
  list(): Card[] {
    return [...this.cards.values()];
  }

  render(): void {
    const d = t();
    const pause = h("button", { type: "button", id: "pause" }, d.pause1h);
    pause.addEventListener("click", () => void this.pause(60));
    const resume = h("button", { type: "button", id: "resume" }, d.resume);
    resume.addEventListener("click", () => void this.pause(0));
    const add = h("button", { type: "button", class: "primary", id: "add-first" }, d.addMailbox);
    add.addEventListener("click", () => this.ctx.show("add", { focus: true }));
    this.section.replaceChildren(
      h("p", { id: "overall", role: "status", "aria-live": "polite", tabindex: "-1" }),
      h("p", { id: "trouble", class: "banner trouble", role: "alert", hidden: true }),
      h("div", { id: "paused", class: "banner paused", hidden: true }, h("span", { class: "text" }), " ", resume),
      h("div", { class: "toolbar" }, pause),
      h("p", { id: "status-error", class: "error", role: "alert", hidden: true }),
      h("div", { id: "empty", class: "empty", hidden: true }, h("p", {}, d.empty), add),
      h("div", { id: "cards", role: "list", "aria-label": d.cardsLabel }),
    );
    // Keep each card's live steps across a language change; the card itself is rebuilt.
    const old = this.views;
    this.views = new Map();
    for (const c of this.cards.values()) this.draw(c, old.get(c.mailbox)?.stages);
    this.drawBanners();
    this.drawOverall();
  }

  opened(opts: OpenOptions): void {
    if (opts.mailbox) {
      const v = this.views.get(opts.mailbox);
      if (v) {
        v.root.scrollIntoView?.({ block: "nearest" });
        v.root.focus();
      }
    } else if (opts.focus) {
      byId(this.section, "overall").focus();
    }
  }

  /** The first look, or a fresh one. */
  load(o: Overview): void {
    this.paused = o.paused_until_ms;
    this.trouble = o.trouble;
    this.setCards(o.cards, false);
    this.drawBanners();
  }

  /** Every card at once: mailboxes not in `cards` are gone. `fresh` (the monitor restarted)
   * also clears the trouble banner. */
  setCards(cards: Card[], fresh: boolean): void {
    const names = new Set(cards.map((c) => c.mailbox));
    for (const name of [...this.cards.keys()]) {
      if (names.has(name)) continue;
      this.cards.delete(name);
      this.checking.delete(name);
      this.views.get(name)?.root.remove();
      this.views.delete(name);
    }
    for (const c of cards) this.apply(c);
    // Put the cards in the app's order, moving only those out of place (a moved node that holds
    // the focus would lose it).
    const box = byId(this.section, "cards");
    let prev: Element | null = null;
    for (const c of cards) {
      const el = this.views.get(c.mailbox)!.root;
      const want: Element | null = prev ? prev.nextElementSibling : box.firstElementChild;
      if (want !== el) {
        if (prev) prev.after(el);
        else box.prepend(el);
      }
      prev = el;
    }
    if (fresh) {
      this.trouble = null;
      this.drawBanners();
    }
    this.drawOverall();
  }

  /** Event `monitor`: a check ended. */
  onMonitor(card: Card): void {
    if (!this.apply(card)) return;
    this.checking.delete(card.mailbox);
    const v = this.views.get(card.mailbox)!;
    const d = t();
    const text =
      card.state === "ok" && card.folder && card.latency_ms !== null
        ? d.foundIn(card.folder, duration(card.latency_ms))
        : card.category
          ? categoryText(card.category)
          : d.state[card.state];
    v.stages.finish(text, card.state);
    this.drawCard(card);
    this.drawOverall();
  }

  /** Event `stage`. */
  onStage(ev: StageEvent): void {
    if (ev.mailbox === this.ctx.testing) return; // the wizard's test, not this card's
    this.views.get(ev.mailbox)?.stages.push(ev);
  }

  /** Event `paused`. */
  setPaused(until: number | null): void {
    this.paused = until;
    this.drawBanners();
  }

  /** Event `trouble`. */
  setTrouble(why: string): void {
    this.trouble = why;
    this.drawBanners();
  }

  /** Stores a card unless it is older than the one shown; returns whether it was taken. */
  private apply(card: Card): boolean {
    const shown = this.cards.get(card.mailbox);
    if (shown && shown.checked_at_ms !== null && (card.checked_at_ms === null || card.checked_at_ms < shown.checked_at_ms)) {
      return false;
    }
    this.cards.set(card.mailbox, card);
    if (this.views.has(card.mailbox)) this.drawCard(card);
    else this.draw(card);
    return true;
  }

  /** Creates a card's elements (once per mailbox and language) and fills them. */
  private draw(card: Card, stages?: StageList): void {
    const d = t();
    const name = card.mailbox;
    const list = stages ?? new StageList({ class: "stages" });
    list.el.setAttribute("aria-label", d.stagesLabel(name));
    list.redraw();
    const check = h("button", { type: "button", class: "check-now" });
    check.addEventListener("click", () => void this.checkNow(name));
    const remove = h("button", { type: "button", class: "remove", "aria-label": d.removeLabel(name) }, d.remove);
    remove.addEventListener("click", () => void this.remove(name));
    const signIn = h("button", { type: "button", class: "sign-in-again", "aria-label": d.signInAgainLabel(name), hidden: true }, d.signInAgain);
    signIn.addEventListener("click", () => void this.signInAgain(name));
    const headingId = `card-${name}-name`;
    const root = h(
      "article",
      { class: "card", role: "listitem", tabindex: "-1", "data-mailbox": name, "aria-labelledby": headingId },
      h("h2", { class: "name", id: headingId }, name),
      h("p", { class: "address" }),
      h("p", { class: "state" }, h("span", { class: "mark", "aria-hidden": "true" }), " ", h("span", { class: "word" })),
      h("p", { class: "summary" }),
      h("p", { class: "action" }),
      h("p", { class: "meta" }),
      h("div", { class: "buttons" }, signIn, check, remove),
      list.el,
    );
    this.views.set(name, { root, stages: list });
    byId(this.section, "cards").append(root);
    this.drawCard(card);
  }

  /** Refreshes a card's texts in place. */
  private drawCard(card: Card): void {
    const v = this.views.get(card.mailbox);
    if (!v) return;
    const d = t();
    const r = v.root;
    r.dataset.state = card.state;
    const q = (sel: string) => r.querySelector<HTMLElement>(sel)!;
    setText(q(".address"), card.address);
    setText(q(".state .mark"), MARK[card.state] ?? "?");
    setText(q(".state .word"), d.state[card.state] ?? card.state);
    setText(q(".summary"), card.summary);
    q(".summary").hidden = card.summary === "";
    setText(q(".action"), card.action);
    q(".action").hidden = card.state === "ok" || card.action === "";
    // A sign-in that was revoked or expired: one click signs in again.
    q(".sign-in-again").hidden = !(card.oauth && card.category === "auth_failed");
    const meta = q(".meta");
    if (card.checked_at_ms !== null) {
      const parts = [`${d.lastCheck} ${time(card.checked_at_ms)}`];
      if (card.latency_ms !== null) parts.push(duration(card.latency_ms));
      if (card.folder) parts.push(card.folder);
      setText(meta, parts.join(" · "));
      meta.hidden = false;
    } else {
      meta.hidden = true;
    }
    this.drawButton(card.mailbox);
  }

  private drawButton(name: string): void {
    const v = this.views.get(name);
    if (!v) return;
    const d = t();
    const button = v.root.querySelector<HTMLButtonElement>(".check-now")!;
    const busy = this.checking.has(name);
    setText(button, busy ? d.checking : d.checkNow);
    button.setAttribute("aria-label", busy ? d.checkingLabel(name) : d.checkNowLabel(name));
    if (busy && document.activeElement === button) {
      // A disabled button drops the focus; park it on the card and give it back later.
      v.root.focus();
      this.parked.add(name);
    }
    button.disabled = busy;
    if (!busy && this.parked.delete(name) && document.activeElement === v.root) button.focus();
  }

  private drawOverall(): void {
    const d = t();
    const cards = [...this.cards.values()];
    const n = cards.length;
    // A mailbox still waiting for its first check needs no attention yet.
    const bad = cards.filter((c) => c.state !== "ok" && c.state !== "waiting").length;
    const waiting = cards.some((c) => c.state === "waiting");
    const text =
      n === 0
        ? d.overallNone
        : bad > 0
          ? d.overallBad(bad, n)
          : waiting
            ? d.overallWaiting
            : n === 1
              ? d.overallOne
              : d.overallAll(n);
    // Rewritten only when it changes, so screen readers announce changes, not every event.
    setText(byId(this.section, "overall"), text);
    byId(this.section, "empty").hidden = n > 0;
  }

  private drawBanners(): void {
    const d = t();
    const paused = byId(this.section, "paused");
    paused.hidden = this.paused === null;
    setText(paused.querySelector(".text")!, this.paused === null ? "" : d.pausedUntil(time(this.paused)));
    byId(this.section, "pause").hidden = this.paused !== null;
    const trouble = byId(this.section, "trouble");
    trouble.hidden = this.trouble === null;
    setText(trouble, this.trouble === null ? "" : d.trouble(this.trouble));
  }

  private async checkNow(name: string): Promise<void> {
    if (this.checking.has(name)) return;
    this.checking.add(name);
    this.clearError();
    // Redraw after the click has been handled, not under it (WebKitWebDriver can lose the
    // click's answer otherwise).
    setTimeout(() => this.drawButton(name), 0);
    try {
      await this.ctx.ipc.invoke("check_now", { mailbox: name });
    } catch (err) {
      this.checking.delete(name);
      setTimeout(() => this.drawButton(name), 0);
      showError(null, byId(this.section, "status-error"), err);
    }
  }

  private async signInAgain(name: string): Promise<void> {
    this.clearError();
    const button = this.views.get(name)?.root.querySelector<HTMLButtonElement>(".sign-in-again");
    button?.setAttribute("aria-disabled", "true");
    try {
      await this.ctx.ipc.invoke("sign_in_again", { mailbox: name });
    } catch (err) {
      showError(null, byId(this.section, "status-error"), err);
    } finally {
      button?.setAttribute("aria-disabled", "false");
    }
  }

  private async pause(minutes: number): Promise<void> {
    this.clearError();
    try {
      await this.ctx.ipc.invoke("pause", { minutes });
      // The `paused` event says the exact time; until it comes, this is close enough.
      if (minutes === 0) this.setPaused(null);
      else if (this.paused === null) this.setPaused(Date.now() + minutes * 60_000);
      byId(this.section, minutes === 0 ? "pause" : "resume").focus();
    } catch (err) {
      showError(null, byId(this.section, "status-error"), err);
    }
  }

  private async remove(name: string): Promise<void> {
    if (!window.confirm(t().removeConfirm(name))) return;
    this.clearError();
    try {
      const cards = await this.ctx.ipc.invoke("remove_mailbox", { mailbox: name });
      this.ctx.setCards(cards);
      byId(this.section, "overall").focus();
    } catch (err) {
      showError(null, byId(this.section, "status-error"), err);
    }
  }

  private clearError(): void {
    const e = byId(this.section, "status-error");
    e.hidden = true;
    e.textContent = "";
  }
}
