// The contract between the window and the app (src-tauri/src): the commands it may call, the
// events it is pushed, and their shapes. Every command answers, or fails with an IpcError.
// Nothing else crosses; the window never reads the database or the config file.

export type State = "ok" | "warning" | "critical" | "unknown" | "waiting";
export type Lang = "en" | "ja";
export type Security = "tls" | "starttls" | "plain";
export type StageName = "dns" | "connect" | "tls" | "auth" | "send" | "receive" | "verify" | "cleanup";

/** Every command's error: a kind (`invalid`, `not_found`, `keyring`, `config`, `monitor`,
 * `store`, `io`, `alert` when an alert channel failed, `partly` when settings were saved
 * but something could not be applied) and a message in plain words (today in English). For
 * `invalid`, `field` names the form field at fault (the same names as in MailboxForm). */
export interface IpcError {
  kind: string;
  message: string;
  field?: string;
}

/** One mailbox as the status screen and the tray show it. */
export interface Card {
  mailbox: string;
  address: string;
  state: State;
  /** Category of the latest finding (`ok`, `auth_failed`, `junk`, `send_blocked`...), "" before. */
  category: string;
  summary: string;
  action: string;
  /** Send-to-arrival time of the latest canary. */
  latency_ms: number | null;
  /** Folder where the latest canary landed (INBOX, Junk...). */
  folder: string | null;
  checked_at_ms: number | null;
  /** The mailbox signs in with OAuth2: a refused sign-in offers "Sign in again". */
  oauth?: boolean;
}

/** `overview()`: everything the window shows at first; later changes come as events. */
export interface Overview {
  lang: Lang;
  /** Scheduled checks are paused until then (Unix ms), or not paused. */
  paused_until_ms: number | null;
  /** Why the monitor is not running (bad config, no keyring...), if it is not. */
  trouble: string | null;
  cards: Card[];
}

/** Event `stage`: one step of a running check (a scheduled one, "Check now", or the wizard's
 * test), as it starts and as it ends. SMTP and IMAP steps run side by side and interleave.
 * After `send` ends ok, the check is waiting for the canary until `receive` ends. */
export interface StageEvent {
  mailbox: string;
  stage: StageName;
  protocol: "imap" | "smtp" | "pop3" | "oauth";
  state: "started" | "ok" | "failed";
  /** How long the step took (0 for `started`). */
  ms: number;
}

/** One server as `discover()` found it. */
export interface FoundServer {
  host: string;
  port: number;
  security: Security;
}

/** Settings `discover()` found for an address, and where: `preset` (by the address's
 * domain), `autoconfig` (the domain's autoconfig file), `srv` (its SRV records), `mx` (its
 * mail exchangers are a known provider's) or `guess` (imap./pop./smtp./mail. names that exist). */
export interface Found {
  source: "preset" | "autoconfig" | "srv" | "mx" | "guess";
  /** The preset's id, the autoconfig URL's scheme and host, the MX host, the names tried. */
  detail: string;
  /** The IMAP server, when the source names one. */
  imap: FoundServer | null;
  /** The POP3 server, when the source names one; one of the two is always there. */
  pop3: FoundServer | null;
  smtp: FoundServer;
  /** The login, when the source says it is not the address. */
  login: string | null;
  /** The provider's advice, or a warning. */
  note: string | null;
  /** Possibly forged on the way (an autoconfig file over plain HTTP naming servers outside
   * the domain): shown, never filled in by itself. */
  unverified: boolean;
}

/** A provider preset for the wizard (`presets()`). A host may be a placeholder (Xserver's
 * `svNNNN.xserver.jp`) that the note explains. */
export interface Preset {
  id: string;
  name: string;
  name_ja: string;
  imap_host: string;
  imap_port: number;
  imap_security: Security;
  smtp_host: string;
  smtp_port: number;
  smtp_security: Security;
  /** The POP3 server, when the provider offers POP3 (absent for the demo server). */
  pop3_host?: string | null;
  pop3_port?: number | null;
  pop3_security?: Security | null;
  /** The provider wants an app password (or OAuth), not the normal one. */
  app_password: boolean;
  /** Password login is switched off by the provider: only OAuth works (not yet offered). */
  oauth_only: boolean;
  /** The sign-in the provider offers instead of a password. */
  oauth?: "microsoft" | "google" | null;
  /** One or two sentences: what to switch on, which password to use. */
  note: string;
  note_ja: string;
  /** The local demo server (scripts/demo-app): CA file to trust, already filled. */
  ca_file: string | null;
  /** Filled in for the demo server. */
  address: string | null;
}

/** The wizard's form, as sent to `test_mailbox` and `add_mailbox`. */
export interface MailboxForm {
  /** Short name: letters, digits, `-`, `_` (e.g. "office"). */
  name: string;
  address: string;
  /** Login name if not the address; "" for the address. */
  login: string;
  imap_host: string;
  imap_port: number;
  imap_security: Security;
  smtp_host: string;
  smtp_port: number;
  smtp_security: Security;
  /** Extra CA certificate file (PEM), "" for none. */
  ca_file: string;
  /** Sent once, stored straight in the OS keyring; never written anywhere else. "" keeps
   * the password already in the keyring for this name (after a test). */
  password: string;
  /** "password" (or absent), or the OAuth2 sign-in used instead. */
  auth?: Auth;
  oauth_client_id?: string;
  /** For `custom` (or to override the provider's): endpoints and scopes. */
  oauth_authorize_url?: string;
  oauth_token_url?: string;
  oauth_scope?: string;
  /** The registered app's client secret (Google's desktop apps have one): to the keyring only. */
  oauth_client_secret?: string;
  /** "imap" (or absent), or "pop3": the imap_* fields then name the POP3 server. */
  receive?: "imap" | "pop3";
}

export type Auth = "password" | "microsoft" | "google" | "custom";

/** One recorded step of a finished check. */
export interface StageRecord {
  stage: StageName;
  protocol: "imap" | "smtp" | "pop3" | "oauth" | null;
  ok: boolean;
  ms: number;
  /** What the server said, verbatim where there was a reply. */
  detail: string;
}

/** `test_mailbox(form)`: a complete round trip with the form's settings before saving. */
export interface TestResult {
  state: State;
  category: string;
  summary: string;
  action: string;
  latency_ms: number | null;
  folder: string | null;
  stages: StageRecord[];
}

export interface CheckPoint {
  at_ms: number;
  severity: "ok" | "warning" | "critical" | "unknown";
  category: string;
  latency_ms: number | null;
  summary: string;
  offline: boolean;
}

export interface DayStats {
  /** YYYY-MM-DD, local. */
  day: string;
  checks: number;
  uptime_pct: number | null;
  p50_ms: number | null;
  p95_ms: number | null;
}

export interface Incident {
  mailbox: string;
  start_ms: number;
  /** null while it lasts. */
  end_ms: number | null;
  severity: "ok" | "warning" | "critical" | "unknown";
  category: string;
  causes: string[];
  summary: string;
  acknowledged_at_ms: number | null;
}

export interface Drill {
  id: number;
  mailbox: string;
  started_at_ms: number;
  acked_at_ms: number | null;
  ended_at_ms: number | null;
}

/** A failed check in full: what each step did and the servers' exact replies. */
export interface FailedCheck {
  at_ms: number;
  state: State;
  category: string;
  summary: string;
  action: string;
  stages: StageRecord[];
}

export interface MailboxHistory {
  mailbox: string;
  address: string;
  checks: number;
  uptime_pct: number | null;
  p50_ms: number | null;
  p95_ms: number | null;
  points: CheckPoint[];
  days: DayStats[];
  incidents: Incident[];
  drills: Drill[];
  /** The latest failed checks, newest first (at most 50). */
  failures: FailedCheck[];
}

/** `history({mailbox, days})`: `mailbox` null for all. */
export interface History {
  from_ms: number;
  to_ms: number;
  mailboxes: MailboxHistory[];
}

export interface Runbook {
  contact: string;
  provider_support: string;
  webmail: string;
  backup_channel: string;
  notes: string;
}

export interface Settings {
  /** Minutes between scheduled checks, 1 to 1440. */
  interval_minutes: number;
  /** Hours between attachment probes, 0 for never, at most 168. */
  attachments_every_hours: number;
  /** "auto" follows the OS. */
  lang: "auto" | Lang;
  /** Desktop notifications. */
  notify: boolean;
  /** Name of an environment variable holding a webhook URL ("" for none). */
  webhook_env: string;
  webhook_format: "json" | "slack" | "teams";
  /** Re-notify while a problem lasts, in hours (0: never). */
  renotify_hours: number;
  /** Serve Prometheus metrics at this address ("" for off), e.g. 127.0.0.1:9898 (another
   * address lets other computers read them). */
  metrics_addr: string;
  start_at_login: boolean;
}

/** Event `open`: a notification was clicked; show this view. */
export interface OpenRequest {
  view: "status" | "history";
  mailbox: string | null;
  at_ms: number | null;
}

/** The commands, by name, with their arguments and answers. */
export interface Commands {
  overview: { args: Record<string, never>; ok: Overview };
  check_now: { args: { mailbox: string | null }; ok: null };
  /** 0 resumes; 1 to 1440 pauses scheduled checks. */
  pause: { args: { minutes: number }; ok: null };
  presets: { args: Record<string, never>; ok: Preset[] };
  /** The servers of an address, as mail programs find them; nothing logs in. */
  discover: { args: { address: string }; ok: Found[] };
  test_mailbox: { args: { form: MailboxForm }; ok: TestResult };
  /** Saves the mailbox (config file + keyring) and restarts the monitor with it. */
  add_mailbox: { args: { form: MailboxForm }; ok: Card[] };
  /** Signs the form's new mailbox in with OAuth2 in the browser (refresh token to the keyring). */
  sign_in: { args: { form: MailboxForm }; ok: null };
  /** Signs a saved mailbox in again in the browser, then checks it. */
  sign_in_again: { args: { mailbox: string }; ok: null };
  /** Removes the mailbox from the config and its password from the keyring. */
  remove_mailbox: { args: { mailbox: string }; ok: Card[] };
  /** Forgets a password stored by a test of a mailbox that was not saved. */
  cancel_add: { args: { name: string }; ok: null };
  history: { args: { mailbox: string | null; days: number }; ok: History };
  /** Writes the CSV of checks or the HTML report to the user's Downloads folder (or the data
   * directory); answers the path written. */
  export_report: { args: { format: "csv" | "html"; mailbox: string | null; days: number }; ok: string };
  runbook: { args: Record<string, never>; ok: Runbook };
  save_runbook: { args: { runbook: Runbook }; ok: null };
  /** Sends a drill alert (marked DRILL) through the channels; answers the drill. */
  start_drill: { args: { mailbox: string }; ok: Drill };
  /** Someone saw the drill: ends it, records how fast. */
  ack_drill: { args: { id: number }; ok: Drill };
  drills: { args: { days: number }; ok: Drill[] };
  settings: { args: Record<string, never>; ok: Settings };
  /** Saves and applies (the monitor restarts with them). */
  save_settings: { args: { settings: Settings }; ok: Settings };
}

/** Events pushed by the app. */
export interface Events {
  /** A check ended: the mailbox's new card. */
  monitor: Card;
  stage: StageEvent;
  /** Pause changed: until when, or null when checks run. */
  paused: number | null;
  /** The monitor stopped or cannot start: why. */
  trouble: string;
  /** The monitor runs (again): every card. */
  cards: Card[];
  open: OpenRequest;
  /** A drill started, was acknowledged or ended. */
  drill: Drill;
}

interface TauriGlobal {
  core: { invoke<T>(cmd: string, args?: Record<string, unknown>): Promise<T> };
  event: { listen<T>(name: string, handler: (e: { payload: T }) => void): Promise<() => void> };
}

/** The boundary the rest of the UI talks through; tests replace it with a fake. */
export interface Ipc {
  invoke<K extends keyof Commands>(cmd: K, args: Commands[K]["args"]): Promise<Commands[K]["ok"]>;
  listen<K extends keyof Events>(name: K, handler: (payload: Events[K]) => void): Promise<() => void>;
}

/** The real boundary: Tauri's global API (withGlobalTauri). The window process has one
 * command, `call`, which hands every command to the tray app, where the monitor runs
 * (src-tauri/src/window.rs). */
export function tauriIpc(): Ipc {
  const t = (window as unknown as { __TAURI__: TauriGlobal }).__TAURI__;
  return {
    invoke: (cmd, args) => t.core.invoke("call", { cmd, args }),
    listen: (name, handler) => t.event.listen(name, (e) => handler(e.payload as never)),
  };
}

/** Any rejection as an IpcError: the app's own are kept as they are; anything else (a bug, a
 * missing command) becomes kind `ui` with its text. */
export function asIpcError(err: unknown): IpcError {
  if (err && typeof err === "object" && "message" in err && typeof (err as IpcError).message === "string") {
    const e = err as IpcError;
    return { kind: typeof e.kind === "string" ? e.kind : "ui", message: e.message, field: e.field };
  }
  return { kind: "ui", message: String(err) };
}
