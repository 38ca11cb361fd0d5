// Client-side checks of the forms, before anything is sent. The app checks again (and its
// IpcError names the field); these only save a round trip and say it in plain words.

import { t } from "./i18n";
import type { MailboxForm, Settings } from "./ipc";

/** Field name → message, for the fields that are wrong. */
export type FieldErrors = Record<string, string>;

export const NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_-]{0,39}$/;

/** One @, something before it, and a dot inside the domain after it. */
export function validAddress(address: string): boolean {
  const parts = address.split("@");
  if (parts.length !== 2) return false;
  const [local, domain] = parts;
  if (local === "" || /\s/.test(address)) return false;
  const dot = domain.indexOf(".");
  return dot > 0 && dot < domain.length - 1 && !domain.includes("..");
}

function validPort(port: number): boolean {
  return Number.isInteger(port) && port >= 1 && port <= 65535;
}

function hostError(host: string): string | null {
  if (host.trim() === "") return t().err.hostEmpty;
  if (/\s/.test(host) || host.includes("://")) return t().err.host;
  return null;
}

/** The wizard's form. `existing` holds the names already in use. */
export function validateMailbox(form: MailboxForm, existing: readonly string[]): FieldErrors {
  const e = t().err;
  const errors: FieldErrors = {};
  if (!NAME_PATTERN.test(form.name)) errors.name = e.name;
  else if (existing.includes(form.name)) errors.name = e.nameTaken;
  if (!validAddress(form.address)) errors.address = e.address;
  for (const [host, port] of [
    ["imap_host", "imap_port"],
    ["smtp_host", "smtp_port"],
  ] as const) {
    const he = hostError(form[host]);
    if (he) errors[host] = he;
    if (!validPort(form[port])) errors[port] = e.port;
  }
  const oauth = form.auth !== undefined && form.auth !== "password";
  if (oauth) {
    if ((form.oauth_client_id ?? "").trim() === "") errors.oauth_client_id = e.clientId;
  } else if (form.password === "") {
    errors.password = e.password;
  }
  return errors;
}

function intIn(v: number, lo: number, hi: number): boolean {
  return Number.isInteger(v) && v >= lo && v <= hi;
}

/** The settings form. */
export function validateSettings(s: Settings): FieldErrors {
  const e = t().settingErr;
  const errors: FieldErrors = {};
  if (!intIn(s.interval_minutes, 1, 1440)) errors.interval_minutes = e.interval_minutes;
  if (!intIn(s.attachments_every_hours, 0, 168)) errors.attachments_every_hours = e.attachments_every_hours;
  if (!intIn(s.renotify_hours, 0, 168)) errors.renotify_hours = e.renotify_hours;
  if (s.webhook_env !== "") {
    // The usual mistake: pasting the secret URL itself, which would land in the config file.
    if (/^[a-z][a-z0-9+.-]*:\/\//i.test(s.webhook_env)) errors.webhook_env = e.webhookUrl;
    else if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(s.webhook_env)) errors.webhook_env = e.webhook_env;
  }
  if (s.metrics_addr !== "") {
    const m = /^(127\.\d{1,3}\.\d{1,3}\.\d{1,3}|localhost|\[::1\]):(\d{1,5})$/.exec(s.metrics_addr);
    if (!m || !validPort(Number(m[2]))) errors.metrics_addr = e.metrics_addr;
  }
  return errors;
}
