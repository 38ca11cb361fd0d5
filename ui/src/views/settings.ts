// The settings screen: how often to check, how to alert, the language. Saving applies them
// (the app restarts its monitor); a changed language redraws the whole window.

import type { Ctx, OpenOptions, View } from "../ctx";
import { byId, field, h, options, setFieldError, setText } from "../dom";
import { t } from "../i18n";
import type { Settings } from "../ipc";
import { validateSettings } from "../validate";
import { clearErrors, showError } from "./common";

const NUMBERS = ["interval_minutes", "attachments_every_hours", "renotify_hours"] as const;
const TEXTS = ["webhook_env", "metrics_addr"] as const;
const CHECKS = ["notify", "start_at_login"] as const;

export class SettingsView implements View {
  readonly name = "settings";
  private settings: Settings | null = null;
  private savedShown = false;

  constructor(
    private readonly section: HTMLElement,
    private readonly ctx: Ctx,
  ) {}

  private get form(): HTMLFormElement {
    return byId<HTMLFormElement>(this.section, "settings");
  }

  render(): void {
    const d = t();
    const kept = this.section.querySelector("form") && this.settings ? this.read() : this.settings;
    const id = (n: string) => ({ name: n, id: `settings-${n}` });
    const num = (n: string, min: number, max: number) =>
      h("input", { ...id(n), type: "number", min: String(min), max: String(max), step: "1", inputmode: "numeric" });
    const text = (n: string) => h("input", { ...id(n), type: "text", autocomplete: "off", spellcheck: "false" });
    const check = (n: string) => h("input", { ...id(n), type: "checkbox" });
    const form = h(
      "form",
      { id: "settings", novalidate: true, "aria-labelledby": "settings-title" },
      field(d.setting.interval_minutes, num("interval_minutes", 1, 1440), d.settingHint.interval_minutes),
      field(d.setting.attachments_every_hours, num("attachments_every_hours", 0, 168), d.settingHint.attachments_every_hours),
      field(
        d.setting.lang,
        h("select", id("lang"), ...options([["auto", d.langAuto], ["en", "English"], ["ja", "日本語"]])),
      ),
      field(d.setting.notify, check("notify")),
      field(d.setting.renotify_hours, num("renotify_hours", 0, 168), d.settingHint.renotify_hours),
      field(d.setting.webhook_env, text("webhook_env"), d.settingHint.webhook_env),
      field(
        d.setting.webhook_format,
        h("select", id("webhook_format"), ...options([["json", "JSON"], ["slack", "Slack"], ["teams", "Microsoft Teams"]])),
      ),
      field(d.setting.metrics_addr, text("metrics_addr"), d.settingHint.metrics_addr),
      field(d.setting.start_at_login, check("start_at_login")),
      h("p", { id: "settings-error", class: "error", role: "alert", hidden: true }),
      h("div", { class: "buttons" }, h("button", { type: "submit", id: "save-settings", class: "primary" }, d.saveSettings)),
      h("p", { id: "settings-saved", role: "status" }),
    );
    form.addEventListener("submit", (e) => {
      e.preventDefault();
      void this.save();
    });
    form.addEventListener("input", () => {
      this.savedShown = false;
      this.drawSaved();
    });
    this.section.replaceChildren(h("h2", { id: "settings-title", tabindex: "-1" }, d.settingsTitle), form);
    if (kept) this.fill(kept);
    this.drawSaved();
  }

  opened(opts: OpenOptions): void {
    if (opts.focus) byId(this.section, "settings-title").focus();
    void this.load();
  }

  private async load(): Promise<void> {
    try {
      this.settings = await this.ctx.ipc.invoke("settings", {});
      this.fill(this.settings);
    } catch (err) {
      showError(null, byId(this.section, "settings-error"), err);
    }
  }

  private fill(s: Settings): void {
    const f = this.form;
    // Says the form holds the saved settings (end-to-end tests wait for it before typing).
    f.dataset.loaded = "true";
    const el = (n: string) => f.elements.namedItem(n) as HTMLInputElement;
    for (const n of NUMBERS) el(n).value = String(s[n]);
    for (const n of TEXTS) el(n).value = s[n];
    for (const n of CHECKS) el(n).checked = s[n];
    el("lang").value = s.lang;
    el("webhook_format").value = s.webhook_format;
  }

  private read(): Settings {
    const f = this.form;
    const el = (n: string) => f.elements.namedItem(n) as HTMLInputElement;
    const num = (n: string) => (el(n).value.trim() === "" ? NaN : Number(el(n).value));
    return {
      interval_minutes: num("interval_minutes"),
      attachments_every_hours: num("attachments_every_hours"),
      lang: el("lang").value as Settings["lang"],
      notify: el("notify").checked,
      webhook_env: el("webhook_env").value.trim(),
      webhook_format: el("webhook_format").value as Settings["webhook_format"],
      renotify_hours: num("renotify_hours"),
      metrics_addr: el("metrics_addr").value.trim(),
      start_at_login: el("start_at_login").checked,
    };
  }

  private async save(): Promise<void> {
    const f = this.form;
    const general = byId(this.section, "settings-error");
    clearErrors(f, general);
    this.savedShown = false;
    this.drawSaved();
    const settings = this.read();
    const errors = validateSettings(settings);
    const names = Object.keys(errors);
    if (names.length) {
      for (const n of names) setFieldError(f, n, errors[n]);
      [...f.querySelectorAll<HTMLElement>("[name]")].find((c) => errors[c.getAttribute("name")!])?.focus();
      return;
    }
    const before = this.settings?.lang;
    try {
      const saved = await this.ctx.ipc.invoke("save_settings", { settings });
      this.settings = saved;
      this.savedShown = true;
      this.fill(saved);
      this.drawSaved();
      if (saved.lang !== before) {
        // "auto" is resolved by the app; a fixed language is applied at once.
        if (saved.lang === "auto") await this.ctx.reloadOverview();
        else this.ctx.applyLang(saved.lang);
      }
    } catch (err) {
      showError(f, general, err).focus();
    }
  }

  private drawSaved(): void {
    setText(byId(this.section, "settings-saved"), this.savedShown ? t().saved : "");
  }
}
