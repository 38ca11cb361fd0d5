// The "Add mailbox" wizard: pick a provider (or type the servers), test a full round trip with
// live steps, save. The password goes from its input straight into the command's arguments;
// it is never logged, never put anywhere else in the page, and cleared after save or cancel.

import type { Ctx, OpenOptions, View } from "../ctx";
import { byId, clearFieldErrors, field, h, options, setFieldError, setText } from "../dom";
import { categoryText, duration, lang, t } from "../i18n";
import type { Auth, MailboxForm, Preset, Security, StageEvent, TestResult } from "../ipc";
import { weakReasons, type WeakReason } from "../password";
import { validAddress, validateMailbox, type FieldErrors } from "../validate";
import { StageList, clearErrors, showError, stageRecords } from "./common";

const TEXT_FIELDS = [
  "name",
  "address",
  "login",
  "imap_host",
  "smtp_host",
  "ca_file",
  "auth",
  "oauth_client_id",
  "oauth_authorize_url",
  "oauth_token_url",
  "oauth_scope",
  "oauth_client_secret",
] as const;
const AUTHS = ["password", "microsoft", "google", "custom"] as const;
const HOSTS = ["imap_host", "smtp_host"] as const;

interface PresetServer {
  host: string;
  port: number;
  security: Security;
}

/** A preset's IMAP server, and its POP3 server when it offers POP3. */
function presetServers(p: Preset): { imap: PresetServer; pop3: PresetServer | null } {
  return {
    imap: { host: p.imap_host, port: p.imap_port, security: p.imap_security },
    pop3:
      p.pop3_host && p.pop3_port
        ? { host: p.pop3_host, port: p.pop3_port, security: p.pop3_security ?? "tls" }
        : null,
  };
}

export class WizardView implements View {
  readonly name = "add";
  private presets: Preset[] | null = null;
  private presetId = "";
  /** Host templates of the chosen preset holding `{domain}`, and what was filled from them. */
  private templates: Partial<Record<(typeof HOSTS)[number], { template: string; filled: string }>> = {};
  /** Names tests ran under: the app may have stored a password in the keyring for each. */
  private tested = new Set<string>();
  private testing = false;
  private result: TestResult | null = null;
  private stages = new StageList({ id: "test-stages", class: "stages" });
  private reasonsShown = "";
  /** A sign-in is waiting for the browser. */
  private signingIn = false;
  /** The name the last sign-in completed for. */
  private signedIn: string | null = null;

  constructor(
    private readonly section: HTMLElement,
    private readonly ctx: Ctx,
  ) {}

  private get form(): HTMLFormElement {
    return byId<HTMLFormElement>(this.section, "wizard");
  }

  render(): void {
    const d = t();
    // Keep what was typed across a language change (the old inputs are about to go).
    const kept = this.section.querySelector("form") ? this.values() : null;
    const accepted = this.section.querySelector<HTMLInputElement>("#accept-weak")?.checked ?? false;
    const fid = (n: string) => ({ name: n, id: `wizard-${n}` });
    const text = (n: string, extra: Record<string, string> = {}) => h("input", { ...fid(n), type: "text", autocomplete: "off", spellcheck: "false", ...extra });
    const port = (n: string) => h("input", { ...fid(n), type: "number", min: "1", max: "65535", step: "1", inputmode: "numeric" });
    const security = (n: string) =>
      h("select", fid(n), ...options([["tls", d.secTls], ["starttls", d.secStarttls]]));
    const preset = h("select", { name: "preset", id: "preset" });
    const password = h("input", { ...fid("password"), type: "password", autocomplete: "new-password" });
    const accept = h("input", { type: "checkbox", id: "accept-weak", name: "accept_weak" });
    const testNow = h("button", { type: "button", id: "test-now" }, d.testNow);
    const cancel = h("button", { type: "button", id: "cancel" }, d.cancel);
    const form = h(
      "form",
      { id: "wizard", novalidate: true, "aria-labelledby": "add-title" },
      field(d.presetLabel, preset),
      h(
        "div",
        { id: "preset-info", hidden: true },
        h("p", { id: "preset-warning", class: "title", hidden: true }),
        h("p", { id: "preset-note", class: "note", hidden: true }),
      ),
      field(d.label.name, text("name", { maxlength: "40" }), d.hint.name),
      field(d.label.address, text("address", { type: "email", autocomplete: "email" })),
      h(
        "div",
        { class: "row" },
        h("button", { type: "button", id: "find-servers" }, d.findServers),
        h("p", { id: "discover-note", class: "note", role: "status", hidden: true }),
      ),
      field(d.label.login, text("login"), d.hint.login),
      field(d.label.auth, h("select", fid("auth"), ...options(AUTHS.map((a) => [a, d.authChoice[a]])))),
      h(
        "div",
        { id: "oauth-box", hidden: true },
        field(d.label.oauth_client_id, text("oauth_client_id"), d.hint.oauth_client_id),
        h(
          "div",
          { id: "oauth-secret", hidden: true },
          field(
            d.label.oauth_client_secret,
            h("input", { ...fid("oauth_client_secret"), type: "password", autocomplete: "off" }),
            d.hint.oauth_client_secret,
          ),
        ),
        h(
          "div",
          { id: "oauth-custom", hidden: true },
          field(d.label.oauth_authorize_url, text("oauth_authorize_url")),
          field(d.label.oauth_token_url, text("oauth_token_url")),
          field(d.label.oauth_scope, text("oauth_scope")),
        ),
        h(
          "div",
          { class: "row" },
          h("button", { type: "button", id: "sign-in" }, d.signIn),
          h("p", { id: "sign-in-status", class: "note", role: "status", hidden: true }),
        ),
      ),
      h("div", { id: "password-box" }, field(d.label.password, password, d.hint.password)),
      h(
        "div",
        { id: "password-warning", class: "warning", role: "alert", hidden: true },
        h("p", { class: "title" }, d.weakTitle),
        h("ul", { class: "reasons" }),
        h("p", {}, d.weakWhy),
        h("div", { class: "row check" }, accept, h("label", { for: "accept-weak" }, d.acceptWeak)),
      ),
      h(
        "fieldset",
        {},
        h("legend", {}, d.receiving),
        field(d.label.receive, h("select", fid("receive"), ...options([["imap", d.receiveChoice.imap], ["pop3", d.receiveChoice.pop3]]))),
        h("p", { id: "pop3-note", class: "note", hidden: true }, d.pop3Note),
        field(d.label.imap_host, text("imap_host")),
        h("div", { class: "pair" }, field(d.label.imap_port, port("imap_port")), field(d.label.imap_security, security("imap_security"))),
      ),
      h(
        "fieldset",
        {},
        h("legend", {}, d.sending),
        field(d.label.smtp_host, text("smtp_host")),
        h("div", { class: "pair" }, field(d.label.smtp_port, port("smtp_port")), field(d.label.smtp_security, security("smtp_security"))),
      ),
      h("details", {}, h("summary", {}, d.advanced), field(d.label.ca_file, text("ca_file"), d.hint.ca_file)),
      h("p", { id: "wizard-error", class: "error", role: "alert", hidden: true }),
      h("div", { class: "buttons" }, testNow, h("button", { type: "submit", id: "save", class: "primary" }, d.save), cancel),
    );
    this.stages.el.setAttribute("aria-label", d.testStagesLabel);
    this.stages.redraw();
    this.section.replaceChildren(
      h("h2", { id: "add-title", tabindex: "-1" }, d.addTitle),
      h("p", { class: "intro" }, d.addIntro),
      form,
      this.stages.el,
      h("div", { id: "test-result", role: "status", tabindex: "-1", hidden: true }),
    );

    preset.setAttribute("aria-describedby", `preset-info ${preset.getAttribute("aria-describedby")}`);
    preset.addEventListener("change", () => this.choosePreset(preset.value));
    const addressInput = byId<HTMLInputElement>(form, "wizard-address");
    addressInput.addEventListener("input", () => {
      this.fillDomain();
      this.drawWeak();
    });
    // An address typed with no provider chosen and no servers yet: look them up at once.
    addressInput.addEventListener("change", () => {
      const empty = HOSTS.every((n) => (form.elements.namedItem(n) as HTMLInputElement).value.trim() === "");
      if (this.presetId === "" && empty) void this.findServers();
    });
    byId(form, "find-servers").addEventListener("click", () => void this.findServers());
    password.addEventListener("input", () => this.drawWeak());
    byId(form, "wizard-auth").addEventListener("change", () => this.drawAuth());
    byId(form, "wizard-receive").addEventListener("change", () => this.chooseReceive());
    byId(form, "sign-in").addEventListener("click", () => void this.signIn());
    testNow.addEventListener("click", () => void this.test());
    form.addEventListener("submit", (e) => {
      e.preventDefault();
      void this.save();
    });
    cancel.addEventListener("click", () => void this.cancel());

    this.drawPresets();
    if (kept) this.setValues(kept);
    else this.defaults();
    accept.checked = accepted;
    this.reasonsShown = "";
    this.drawPresetNote();
    this.drawAuth();
    this.drawReceive();
    this.drawWeak();
    this.drawTesting();
    this.drawResult();
  }

  /** IMAP or POP3: with a provider chosen, its server for that protocol replaces the other's
   * unless the user has typed their own; otherwise the port follows when it was the other
   * protocol's usual one. */
  private chooseReceive(): void {
    const f = this.form;
    const pop3 = (f.elements.namedItem("receive") as HTMLSelectElement).value === "pop3";
    const host = f.elements.namedItem("imap_host") as HTMLInputElement;
    const port = f.elements.namedItem("imap_port") as HTMLInputElement;
    const p = this.preset();
    const servers = p ? presetServers(p) : null;
    const [wanted, other] = servers ? (pop3 ? [servers.pop3, servers.imap] : [servers.imap, servers.pop3]) : [null, null];
    const tpl = this.templates.imap_host;
    const untouched = other !== null && (tpl ? tpl.template === other.host && host.value === tpl.filled : host.value === other.host);
    if (wanted && untouched) {
      if (tpl || wanted.host.includes("{domain}")) {
        this.templates.imap_host = { template: wanted.host, filled: host.value };
        this.fillDomain();
      } else {
        host.value = wanted.host;
      }
      port.value = String(wanted.port);
      if (wanted.security !== "plain") (f.elements.namedItem("imap_security") as HTMLSelectElement).value = wanted.security;
    } else {
      const usual: Record<string, string> = pop3 ? { "993": "995", "143": "110" } : { "995": "993", "110": "143" };
      if (usual[port.value]) port.value = usual[port.value];
    }
    this.drawReceive();
  }

  private drawReceive(): void {
    const d = t();
    const pop3 = (this.form.elements.namedItem("receive") as HTMLSelectElement).value === "pop3";
    const note = byId(this.section, "pop3-note");
    note.hidden = !pop3;
    const p = this.preset();
    // A provider known to offer IMAP only (the demo server's POP3 is not described).
    const without = p && p.pop3_host === null ? (lang() === "ja" ? p.name_ja : p.name) : null;
    setText(note, without ? d.noPop3(without) : d.pop3Note);
  }

  private auth(): string {
    return (this.form.elements.namedItem("auth") as HTMLSelectElement).value;
  }

  /** Password, or a sign-in (with its client id; endpoints too for another server). */
  private drawAuth(): void {
    const d = t();
    const auth = this.auth();
    const oauth = auth !== "password";
    byId(this.section, "oauth-box").hidden = !oauth;
    byId(this.section, "oauth-custom").hidden = auth !== "custom";
    // Google's desktop apps come with a client secret; Microsoft's public clients do not.
    byId(this.section, "oauth-secret").hidden = auth !== "google" && auth !== "custom";
    byId(this.section, "password-box").hidden = oauth;
    if (oauth) byId(this.section, "password-warning").hidden = true;
    else this.drawWeak();
    const status = byId(this.section, "sign-in-status");
    const name = (this.form.elements.namedItem("name") as HTMLInputElement).value.trim();
    const text = this.signingIn ? d.signingIn : this.signedIn !== null && this.signedIn === name ? d.signedIn : "";
    status.hidden = text === "";
    setText(status, text);
    byId(this.section, "sign-in").setAttribute("aria-disabled", String(this.signingIn));
  }

  /** Signs the new mailbox in in the browser; its refresh token goes to the keyring. */
  private async signIn(): Promise<void> {
    if (this.signingIn || this.testing) return;
    const form = this.read();
    if (!this.check(validateMailbox(form, this.ctx.cards().map((c) => c.mailbox)))) return;
    this.signingIn = true;
    this.signedIn = null;
    this.tested.add(form.name);
    this.drawAuth();
    try {
      await this.ctx.ipc.invoke("sign_in", { form });
      this.signedIn = form.name;
    } catch (err) {
      showError(this.form, byId(this.section, "wizard-error"), err).focus();
    } finally {
      this.signingIn = false;
      this.drawAuth();
    }
  }

  opened(opts: OpenOptions): void {
    if (this.presets === null) void this.loadPresets();
    if (opts.focus) byId(this.section, "add-title").focus();
  }

  /** Event `stage`: the test's steps, matched by the name under test. */
  onStage(ev: StageEvent): void {
    if (this.testing && ev.mailbox === this.ctx.testing) this.stages.push(ev);
  }

  private async loadPresets(): Promise<void> {
    try {
      this.presets = await this.ctx.ipc.invoke("presets", {});
      this.drawPresets();
    } catch (err) {
      showError(null, byId(this.section, "wizard-error"), err);
    }
  }

  private drawPresets(): void {
    const d = t();
    const select = byId<HTMLSelectElement>(this.section, "preset");
    const pairs: [string, string][] = [["", d.presetChoose]];
    for (const p of this.presets ?? []) pairs.push([p.id, lang() === "ja" ? p.name_ja : p.name]);
    pairs.push(["manual", d.presetManual]);
    select.replaceChildren(...options(pairs, this.presetId));
  }

  private preset(): Preset | undefined {
    return this.presets?.find((p) => p.id === this.presetId);
  }

  private choosePreset(id: string): void {
    this.presetId = id;
    this.templates = {};
    const p = this.preset();
    if (p) {
      const f = this.form;
      const set = (n: string, v: string) => ((f.elements.namedItem(n) as HTMLInputElement).value = v);
      if (p.address) set("address", p.address);
      if (p.ca_file) set("ca_file", p.ca_file);
      for (const host of HOSTS) {
        const template = p[host];
        if (template.includes("{domain}")) {
          this.templates[host] = { template, filled: "" };
          set(host, "");
        } else {
          set(host, template);
        }
      }
      set("receive", "imap");
      set("imap_port", String(p.imap_port));
      set("smtp_port", String(p.smtp_port));
      // "plain" is not offered here: such a preset leaves the choice as it was.
      if (p.imap_security !== "plain") set("imap_security", p.imap_security);
      if (p.smtp_security !== "plain") set("smtp_security", p.smtp_security);
      // A provider that takes no password any more: its sign-in; otherwise the password.
      set("auth", p.oauth_only && p.oauth ? p.oauth : "password");
      this.drawAuth();
      this.drawReceive();
      this.fillDomain();
      if (p.ca_file) (f.querySelector("details") as HTMLDetailsElement).open = true;
      clearFieldErrors(f);
    }
    this.drawPresetNote();
    this.drawWeak();
  }

  /** Looks the address's servers up and fills in the first settings found. */
  private async findServers(): Promise<void> {
    const d = t();
    const f = this.form;
    const value = (n: string) => (f.elements.namedItem(n) as HTMLInputElement).value.trim();
    const address = value("address");
    const note = byId(this.section, "discover-note");
    const button = byId<HTMLButtonElement>(this.section, "find-servers");
    clearFieldErrors(f);
    if (!validAddress(address)) {
      setFieldError(f, "address", d.err.address);
      return;
    }
    button.disabled = true;
    note.hidden = false;
    setText(note, d.finding);
    try {
      const found = await this.ctx.ipc.invoke("discover", { address });
      // The protocol chosen, where a finding offers it; else the first finding, by its own.
      const receive = f.elements.namedItem("receive") as HTMLSelectElement;
      const wanted = receive.value === "pop3" ? "pop3" : "imap";
      const first = found.find((x) => !x.unverified && x[wanted]) ?? found[0];
      if (!first) {
        setText(note, d.notFound);
        return;
      }
      // Possibly forged on the way (plain HTTP, servers elsewhere): shown, not filled in.
      if (first.unverified) {
        setText(note, first.note ?? d.notFound);
        return;
      }
      const protocol = first[wanted] ? wanted : wanted === "pop3" ? "imap" : "pop3";
      const incoming = first[protocol]!;
      const set = (n: string, v: string) => ((f.elements.namedItem(n) as HTMLInputElement).value = v);
      if (first.source === "preset" && this.presets?.some((p) => p.id === first.detail)) {
        byId<HTMLSelectElement>(this.section, "preset").value = first.detail;
        this.choosePreset(first.detail);
      }
      receive.value = protocol;
      this.drawReceive();
      set("imap_host", incoming.host);
      set("smtp_host", first.smtp.host);
      // "plain" is not offered here: such a finding leaves port and security as they were.
      if (incoming.security !== "plain") {
        set("imap_port", String(incoming.port));
        set("imap_security", incoming.security);
      }
      if (first.smtp.security !== "plain") {
        set("smtp_port", String(first.smtp.port));
        set("smtp_security", first.smtp.security);
      }
      if (first.login && value("login") === "") set("login", first.login);
      setText(note, d.found(d.foundVia[first.source], first.detail, protocol === "pop3"));
    } catch (err) {
      note.hidden = true;
      showError(f, byId(this.section, "wizard-error"), err);
    } finally {
      button.disabled = false;
    }
  }

  /** Fills `{domain}` hosts from the address, unless the user has typed their own. */
  private fillDomain(): void {
    const f = this.form;
    const address = (f.elements.namedItem("address") as HTMLInputElement).value.trim();
    const at = address.lastIndexOf("@");
    const domain = at >= 0 ? address.slice(at + 1) : "";
    for (const host of HOSTS) {
      const tpl = this.templates[host];
      if (!tpl) continue;
      const input = f.elements.namedItem(host) as HTMLInputElement;
      input.placeholder = tpl.template.replace("{domain}", "example.co.jp");
      if (input.value !== tpl.filled) continue;
      tpl.filled = domain.includes(".") ? tpl.template.replace("{domain}", domain) : "";
      input.value = tpl.filled;
    }
  }

  private drawPresetNote(): void {
    const d = t();
    const p = this.preset();
    const note = byId(this.section, "preset-note");
    const warning = byId(this.section, "preset-warning");
    note.hidden = !p || (lang() === "ja" ? p.note_ja : p.note) === "";
    setText(note, p ? (lang() === "ja" ? p.note_ja : p.note) : "");
    const warn = p?.oauth_only ? d.oauthOnlyWarn : p?.app_password ? d.appPasswordWarn : "";
    warning.hidden = warn === "";
    warning.dataset.kind = p?.oauth_only ? "oauth_only" : p?.app_password ? "app_password" : "";
    setText(warning, warn);
    // One box: the warning, then the provider's own how-to.
    const info = byId(this.section, "preset-info");
    info.hidden = note.hidden && warning.hidden;
    info.className = warn ? "warning" : "";
  }

  /** Shows why the typed password is weak, if it is. Rewritten only when the reasons change,
   * so the alert is not read out again at every key. */
  private drawWeak(): void {
    const f = this.form;
    const password = (f.elements.namedItem("password") as HTMLInputElement).value;
    const address = (f.elements.namedItem("address") as HTMLInputElement).value.trim();
    const reasons = weakReasons(password, address);
    const key = reasons.join(",");
    const box = byId(this.section, "password-warning");
    box.hidden = reasons.length === 0;
    if (key === this.reasonsShown) return;
    this.reasonsShown = key;
    const d = t();
    box.querySelector("ul")!.replaceChildren(...reasons.map((r: WeakReason) => h("li", { "data-reason": r }, d.weakReason[r])));
    if (reasons.length === 0) byId<HTMLInputElement>(this.section, "accept-weak").checked = false;
  }

  /** The form as the commands take it. */
  private read(): MailboxForm {
    const v = this.values();
    const num = (s: string) => (s.trim() === "" ? NaN : Number(s));
    return {
      name: v.name.trim(),
      address: v.address.trim(),
      login: v.login.trim(),
      imap_host: v.imap_host.trim(),
      imap_port: num(v.imap_port),
      imap_security: v.imap_security as Security,
      smtp_host: v.smtp_host.trim(),
      smtp_port: num(v.smtp_port),
      smtp_security: v.smtp_security as Security,
      ca_file: v.ca_file.trim(),
      password: v.auth === "password" ? v.password : "", // as typed: spaces may be part of it
      auth: v.auth as Auth,
      oauth_client_id: v.oauth_client_id.trim(),
      oauth_authorize_url: v.oauth_authorize_url.trim(),
      oauth_token_url: v.oauth_token_url.trim(),
      oauth_scope: v.oauth_scope.trim(),
      oauth_client_secret: v.auth === "google" || v.auth === "custom" ? v.oauth_client_secret.trim() : "",
      receive: v.receive === "pop3" ? "pop3" : "imap",
    };
  }

  private values(): Record<string, string> {
    const f = this.form;
    const out: Record<string, string> = {};
    for (const n of [...TEXT_FIELDS, "receive", "imap_port", "smtp_port", "imap_security", "smtp_security", "password"]) {
      out[n] = (f.elements.namedItem(n) as HTMLInputElement | HTMLSelectElement).value;
    }
    return out;
  }

  private setValues(v: Record<string, string>): void {
    const f = this.form;
    for (const [n, value] of Object.entries(v)) (f.elements.namedItem(n) as HTMLInputElement).value = value;
  }

  private defaults(): void {
    this.setValues({ receive: "imap", imap_port: "993", imap_security: "tls", smtp_port: "587", smtp_security: "starttls", auth: "password" });
  }

  /** Shows client-side errors; returns whether there were none. */
  private check(errors: FieldErrors): boolean {
    const f = this.form;
    clearErrors(f, byId(this.section, "wizard-error"));
    const names = Object.keys(errors);
    for (const n of names) setFieldError(f, n, errors[n]);
    if (names.length === 0) return true;
    if (errors.ca_file) f.querySelector("details")!.open = true;
    // Focus the first field at fault, in the form's order.
    const first = [...f.querySelectorAll<HTMLElement>("[name]")].find((c) => errors[c.getAttribute("name")!]);
    first?.focus();
    return false;
  }

  private async test(): Promise<void> {
    if (this.testing) return;
    const form = this.read();
    if (!this.check(validateMailbox(form, this.ctx.cards().map((c) => c.mailbox)))) return;
    this.testing = true;
    this.ctx.testing = form.name;
    this.tested.add(form.name);
    this.result = null;
    this.stages.reset();
    this.drawTesting();
    this.drawResult();
    try {
      this.result = await this.ctx.ipc.invoke("test_mailbox", { form });
      const r = this.result;
      this.stages.finish(
        r.state === "ok" && r.folder && r.latency_ms !== null
          ? t().foundIn(r.folder, duration(r.latency_ms))
          : categoryText(r.category),
        r.state,
      );
      this.drawResult();
    } catch (err) {
      showError(this.form, byId(this.section, "wizard-error"), err).focus();
    } finally {
      this.testing = false;
      this.ctx.testing = null;
      this.drawTesting();
    }
  }

  private async save(): Promise<void> {
    if (this.testing) return;
    const form = this.read();
    const errors = validateMailbox(form, this.ctx.cards().map((c) => c.mailbox));
    const accept = byId<HTMLInputElement>(this.section, "accept-weak");
    if (form.auth === "password" && !errors.password && weakReasons(form.password, form.address).length > 0 && !accept.checked) {
      errors.password = t().err.acceptWeak;
    }
    if (!this.check(errors)) {
      if (errors.password === t().err.acceptWeak && Object.keys(errors).length === 1) accept.focus();
      return;
    }
    try {
      const cards = await this.ctx.ipc.invoke("add_mailbox", { form });
      this.tested.delete(form.name); // saved: its password is meant to stay
      this.ctx.setCards(cards);
      this.reset();
      await this.forgetTested();
      this.ctx.show("status", { mailbox: form.name, focus: true });
    } catch (err) {
      showError(this.form, byId(this.section, "wizard-error"), err).focus();
    }
  }

  private async cancel(): Promise<void> {
    this.reset();
    await this.forgetTested();
    this.ctx.show("status", { focus: true });
  }

  /** Asks the app to forget the passwords of tests whose mailbox was not saved. Best effort:
   * a test that failed before the keyring left nothing to forget. */
  private async forgetTested(): Promise<void> {
    const names = [...this.tested];
    this.tested.clear();
    for (const name of names) await this.ctx.ipc.invoke("cancel_add", { name }).catch(() => undefined);
  }

  /** Back to an empty form; the password is gone from the page. */
  private reset(): void {
    const f = this.form;
    f.reset();
    (f.elements.namedItem("password") as HTMLInputElement).value = "";
    (f.elements.namedItem("oauth_client_secret") as HTMLInputElement).value = "";
    this.presetId = "";
    this.templates = {};
    this.signedIn = null;
    this.result = null;
    this.stages.reset();
    this.drawPresets();
    this.defaults();
    clearErrors(f, byId(this.section, "wizard-error"));
    this.drawPresetNote();
    this.drawAuth();
    this.drawReceive();
    this.drawWeak();
    this.drawTesting();
    this.drawResult();
  }

  private drawTesting(): void {
    const d = t();
    const button = byId<HTMLButtonElement>(this.section, "test-now");
    // aria-disabled, not disabled: the focus stays on the button while the test runs.
    setText(button, this.testing ? d.testing : d.testNow);
    button.setAttribute("aria-disabled", String(this.testing));
    byId(this.section, "save").setAttribute("aria-disabled", String(this.testing));
    this.stages.el.hidden = !this.testing && this.stages.el.childElementCount === 0;
  }

  private drawResult(): void {
    const box = byId(this.section, "test-result");
    const r = this.result;
    box.hidden = r === null;
    if (!r) {
      box.replaceChildren();
      delete box.dataset.state;
      return;
    }
    box.dataset.state = r.state;
    const d = t();
    const parts: HTMLElement[] = [h("p", { class: "summary" }, resultLine(r))];
    if (r.state !== "ok" && r.action) parts.push(h("p", { class: "action" }, r.action));
    if (r.stages.length) parts.push(h("details", { class: "records" }, h("summary", {}, d.serverSaid), stageRecords(r.stages)));
    box.replaceChildren(...parts);
  }
}

/** "Mail is flowing: the canary was found in INBOX after 2.1 s", or the finding's summary. */
function resultLine(r: TestResult): string {
  if (r.state === "ok") return t().testOk(r.folder ?? "INBOX", duration(r.latency_ms ?? 0));
  return r.summary;
}
