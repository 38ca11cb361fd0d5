// What the screens share: the IPC boundary, the mailboxes as the status screen knows them, and
// the app-wide moves (switch screen, switch language). Each screen gets this, not the others.

import type { Card, Ipc, Lang } from "./ipc";

export type ViewName = "status" | "add" | "history" | "drill" | "settings";
export const VIEWS: readonly ViewName[] = ["status", "add", "history", "drill", "settings"];

/** What a screen may be opened with. */
export interface OpenOptions {
  /** Show this mailbox (history: select it; status: focus its card). */
  mailbox?: string | null;
  /** Move keyboard focus into the screen (when the app, not the nav bar, switched screens). */
  focus?: boolean;
}

export interface Ctx {
  readonly ipc: Ipc;
  /** The mailboxes' cards, in display order. */
  cards(): Card[];
  /** An authoritative list of every card (the answer of add_mailbox / remove_mailbox). */
  setCards(cards: Card[]): void;
  show(view: ViewName, opts?: OpenOptions): void;
  /** Re-renders every screen in `lang`. */
  applyLang(lang: Lang): void;
  /** Asks the app again for the overview (language resolved from "auto", cards, pause). */
  reloadOverview(): Promise<void>;
  /** The mailbox name the wizard is testing now: its stage events are not a card's. */
  testing: string | null;
}

/** One screen: a section it fills, and re-fills in another language. */
export interface View {
  readonly name: ViewName;
  /** Builds the section's content from the screen's state, in the current language. */
  render(): void;
  /** The screen was shown. */
  opened(opts: OpenOptions): void;
  /** Another screen was shown instead. */
  closed?(): void;
}
