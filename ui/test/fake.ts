// A fake of the app's side of ui/src/ipc.ts: commands answered from fixtures (or a test's own
// handler), events fired by the test. Every call is recorded with its arguments.

import { App } from "../src/app";
import type { Card, Commands, Drill, Events, History, Ipc, MailboxHistory, Overview, Preset, Settings } from "../src/ipc";

type Handler<K extends keyof Commands> = (args: Commands[K]["args"]) => Commands[K]["ok"] | Promise<Commands[K]["ok"]>;
export type Handlers = { [K in keyof Commands]?: Handler<K> };

export class FakeIpc implements Ipc {
  calls: { cmd: keyof Commands; args: unknown }[] = [];
  private listeners = new Map<string, Set<(p: never) => void>>();

  constructor(public handlers: Handlers = {}) {}

  invoke<K extends keyof Commands>(cmd: K, args: Commands[K]["args"]): Promise<Commands[K]["ok"]> {
    this.calls.push({ cmd, args: structuredClone(args) });
    const h = this.handlers[cmd] as Handler<K> | undefined;
    if (!h) return Promise.reject({ kind: "not_found", message: `no fixture for ${cmd}` });
    try {
      return Promise.resolve(h(args));
    } catch (e) {
      return Promise.reject(e);
    }
  }

  listen<K extends keyof Events>(name: K, handler: (payload: Events[K]) => void): Promise<() => void> {
    let set = this.listeners.get(name);
    if (!set) this.listeners.set(name, (set = new Set()));
    set.add(handler as (p: never) => void);
    return Promise.resolve(() => set.delete(handler as (p: never) => void));
  }

  /** Fires an event as the app would. */
  emit<K extends keyof Events>(name: K, payload: Events[K]): void {
    for (const h of this.listeners.get(name) ?? []) (h as (p: Events[K]) => void)(payload);
  }

  /** The arguments of every call of `cmd`. */
  argsOf<K extends keyof Commands>(cmd: K): Commands[K]["args"][] {
    return this.calls.filter((c) => c.cmd === cmd).map((c) => c.args as Commands[K]["args"]);
  }
}

/** Lets pending promises and zero timers run. */
export async function flush(): Promise<void> {
  for (let i = 0; i < 5; i++) await new Promise((r) => setTimeout(r, 0));
}

export const T0 = Date.UTC(2025, 10, 22, 10, 32, 0);

export function card(mailbox: string, over: Partial<Card> = {}): Card {
  return {
    mailbox,
    address: `${mailbox}@example.co.jp`,
    state: "ok",
    category: "ok",
    summary: "Mail is flowing.",
    action: "Nothing to do.",
    latency_ms: 2100,
    folder: "INBOX",
    checked_at_ms: T0,
    ...over,
  };
}

export function overview(over: Partial<Overview> = {}): Overview {
  return { lang: "en", paused_until_ms: null, trouble: null, cards: [card("office"), card("sales")], ...over };
}

export const PRESETS: Preset[] = [
  {
    id: "gmail", name: "Gmail", name_ja: "Gmail",
    imap_host: "imap.gmail.com", imap_port: 993, imap_security: "tls",
    smtp_host: "smtp.gmail.com", smtp_port: 465, smtp_security: "tls",
    pop3_host: "pop.gmail.com", pop3_port: 995, pop3_security: "tls",
    app_password: true, oauth_only: false,
    note: "Turn on 2-step verification, then create an app password.", note_ja: "2 段階認証を有効にして、アプリ パスワードを作成してください。",
    ca_file: null, address: null,
  },
  {
    id: "outlook", name: "Outlook.com", name_ja: "Outlook.com",
    imap_host: "outlook.office365.com", imap_port: 993, imap_security: "tls",
    smtp_host: "smtp-mail.outlook.com", smtp_port: 587, smtp_security: "starttls",
    app_password: false, oauth_only: true, oauth: "microsoft", note: "", note_ja: "", ca_file: null, address: null,
  },
  {
    id: "rental", name: "Rental server", name_ja: "レンタルサーバー",
    imap_host: "mail.{domain}", imap_port: 993, imap_security: "tls",
    smtp_host: "mail.{domain}", smtp_port: 587, smtp_security: "starttls",
    pop3_host: "pop.{domain}", pop3_port: 110, pop3_security: "starttls",
    app_password: false, oauth_only: false, note: "Use the mailbox password.", note_ja: "メールボックスのパスワードを使います。",
    ca_file: null, address: null,
  },
  {
    id: "demo", name: "Demo server", name_ja: "デモサーバー",
    imap_host: "127.0.0.1", imap_port: 10993, imap_security: "tls",
    smtp_host: "127.0.0.1", smtp_port: 10465, smtp_security: "tls",
    pop3_host: null, pop3_port: null, pop3_security: null,
    app_password: false, oauth_only: false, note: "The local demo.", note_ja: "ローカルのデモです。",
    ca_file: "/tmp/demo/ca.pem", address: "office@example.test",
  },
];

export const SETTINGS: Settings = {
  interval_minutes: 5,
  attachments_every_hours: 24,
  lang: "auto",
  notify: true,
  webhook_env: "",
  webhook_format: "json",
  renotify_hours: 4,
  metrics_addr: "",
  start_at_login: false,
};

export function mailboxHistory(mailbox: string, over: Partial<MailboxHistory> = {}): MailboxHistory {
  const hour = 3600_000;
  return {
    mailbox,
    address: `${mailbox}@example.co.jp`,
    checks: 5,
    uptime_pct: 80,
    p50_ms: 2100,
    p95_ms: 4800,
    points: [
      { at_ms: T0 - 5 * hour, severity: "ok", category: "ok", latency_ms: 2000, summary: "", offline: false },
      { at_ms: T0 - 4 * hour, severity: "ok", category: "ok", latency_ms: 2500, summary: "", offline: false },
      { at_ms: T0 - 3 * hour, severity: "critical", category: "auth_failed", latency_ms: null, summary: "Password refused", offline: false },
      { at_ms: T0 - 2 * hour, severity: "warning", category: "late", latency_ms: 48_000, summary: "", offline: false },
      { at_ms: T0 - 1 * hour, severity: "ok", category: "ok", latency_ms: 1800, summary: "", offline: false },
    ],
    days: [
      { day: "2025-11-21", checks: 2, uptime_pct: 100, p50_ms: 2000, p95_ms: 2500 },
      { day: "2025-11-22", checks: 3, uptime_pct: 66.7, p50_ms: 1800, p95_ms: 48_000 },
    ],
    incidents: [
      {
        mailbox, start_ms: T0 - 3 * hour, end_ms: T0 - 2.5 * hour, severity: "critical", category: "auth_failed",
        causes: ["auth_failed"], summary: "The password was refused.", acknowledged_at_ms: T0 - 2.8 * hour,
      },
      {
        mailbox, start_ms: T0 - 0.5 * hour, end_ms: null, severity: "warning", category: "junk",
        causes: [], summary: "", acknowledged_at_ms: null,
      },
    ],
    drills: [],
    failures: [
      {
        at_ms: T0 - 3 * hour, state: "critical", category: "auth_failed", summary: "The password was refused.",
        action: "Check the password with the provider.",
        stages: [
          { stage: "connect", protocol: "imap", ok: true, ms: 40, detail: "" },
          { stage: "auth", protocol: "imap", ok: false, ms: 120, detail: "a1 NO [AUTHENTICATIONFAILED] <script>alert(1)</script>" },
        ],
      },
    ],
    ...over,
  };
}

export function history(mailboxes: MailboxHistory[] = [mailboxHistory("office")]): History {
  return { from_ms: T0 - 24 * 3600_000, to_ms: T0, mailboxes };
}

export function drill(id: number, over: Partial<Drill> = {}): Drill {
  return { id, mailbox: "office", started_at_ms: T0, acked_at_ms: null, ended_at_ms: null, ...over };
}

/** The default fixtures: two healthy mailboxes, English. */
export function fixtures(over: Handlers = {}): Handlers {
  return {
    overview: () => overview(),
    presets: () => PRESETS,
    history: () => history(),
    settings: () => ({ ...SETTINGS }),
    runbook: () => ({ contact: "Ms Tanaka 03-1234-5678", provider_support: "", webmail: "", backup_channel: "", notes: "" }),
    drills: () => [],
    check_now: () => null,
    pause: () => null,
    ...over,
  };
}

/** A fresh window on a fresh document, started against `ipc`. */
export async function mount(handlers: Handlers = fixtures()): Promise<{ app: App; ipc: FakeIpc; root: HTMLElement }> {
  document.body.replaceChildren();
  const root = document.createElement("div");
  document.body.append(root);
  const ipc = new FakeIpc(handlers);
  const app = new App(root, ipc);
  await app.start();
  await flush();
  return { app, ipc, root };
}

export function $<T extends Element = HTMLElement>(sel: string, root: ParentNode = document): T {
  const e = root.querySelector<T>(sel);
  if (!e) throw new Error(`no ${sel}`);
  return e;
}

export function $$<T extends Element = HTMLElement>(sel: string, root: ParentNode = document): T[] {
  return [...root.querySelectorAll<T>(sel)];
}

/** Types into an input as a user would (value, then an input event). */
export function type(el: HTMLInputElement | HTMLTextAreaElement, value: string): void {
  el.value = value;
  el.dispatchEvent(new Event("input", { bubbles: true }));
}

export function choose(el: HTMLSelectElement, value: string): void {
  el.value = value;
  el.dispatchEvent(new Event("change", { bubbles: true }));
}
