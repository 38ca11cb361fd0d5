import { describe, expect, it } from "vitest";
import type { Settings } from "../src/ipc";
import { $, $$, SETTINGS, choose, fixtures, flush, mount, overview, type, type Handlers } from "./fake";

async function openSettings(over: Handlers = {}) {
  const m = await mount(fixtures(over));
  $('nav button[data-view="settings"]').click();
  await flush();
  return m;
}

const control = (n: string) => $<HTMLInputElement>(`#settings [name="${n}"]`);
const errorOf = (n: string) => $(`#settings .field-error[data-field="${n}"]`);

describe("settings screen", () => {
  it("shows the settings with a label for each", async () => {
    await openSettings();
    expect(control("interval_minutes").value).toBe("5");
    expect(control("notify").checked).toBe(true);
    expect(control("lang").value).toBe("auto");
    for (const n of Object.keys(SETTINGS)) {
      expect($(`label[for="${control(n).id}"]`).textContent, n).not.toBe("");
    }
    // The webhook field wants a variable's name, and says so.
    expect($(`#${control("webhook_env").id}-hint`).textContent).toContain("NAME of an environment variable");
    expect($(`#${control("metrics_addr").id}-hint`).textContent).toContain("127.0.0.1:9898");
  });

  it("saves what was entered, with the right types", async () => {
    const saved: Settings[] = [];
    await openSettings({ save_settings: ({ settings }) => (saved.push(settings), settings) });
    type(control("interval_minutes"), "15");
    type(control("webhook_env"), "OFFICE_WEBHOOK");
    choose($("#settings [name=webhook_format]"), "teams");
    control("start_at_login").click();
    type(control("metrics_addr"), "127.0.0.1:9898");
    $("#save-settings").click();
    await flush();
    expect(saved).toEqual([{ ...SETTINGS, interval_minutes: 15, webhook_env: "OFFICE_WEBHOOK", webhook_format: "teams", start_at_login: true, metrics_addr: "127.0.0.1:9898" }]);
    expect($("#settings-saved").textContent).toBe("Saved.");
    type(control("interval_minutes"), "16");
    expect($("#settings-saved").textContent).toBe("");
  });

  it("checks the fields first, with a message at each", async () => {
    const { ipc } = await openSettings({ save_settings: ({ settings }) => settings });
    type(control("interval_minutes"), "0");
    type(control("attachments_every_hours"), "");
    type(control("webhook_env"), "https://hooks.example.com/T000/secret");
    type(control("metrics_addr"), "0.0.0.0:9898");
    $("#save-settings").click();
    await flush();
    expect(ipc.argsOf("save_settings")).toEqual([]);
    expect(errorOf("interval_minutes").textContent).toContain("1 to 1440");
    expect(errorOf("attachments_every_hours").hidden).toBe(false);
    expect(errorOf("webhook_env").textContent).toContain("not the URL itself");
    expect(errorOf("metrics_addr").textContent).toContain("loopback");
    expect(errorOf("renotify_hours").hidden).toBe(true);
    expect(document.activeElement).toBe(control("interval_minutes"));
  });

  it("shows the app's refusal at its field", async () => {
    await openSettings({ save_settings: () => { throw { kind: "invalid", message: "There is no such variable.", field: "webhook_env" }; } });
    type(control("webhook_env"), "NOPE");
    $("#save-settings").click();
    await flush();
    expect(errorOf("webhook_env").textContent).toBe("There is no such variable.");
    expect($("#settings-saved").textContent).toBe("");
  });

  it("switches the whole window to Japanese", async () => {
    await openSettings({ save_settings: ({ settings }) => settings });
    choose($("#settings [name=lang]"), "ja");
    $("#save-settings").focus();
    $("#save-settings").click();
    await flush();
    expect(document.documentElement.lang).toBe("ja");
    expect($('nav button[data-view="settings"]').textContent).toBe("設定");
    expect($('nav button[data-view="settings"]').getAttribute("aria-current")).toBe("page");
    expect($("#view-settings").hidden).toBe(false);
    expect($("#overall").textContent).toBe("2 件のメールボックスはすべて正常です。");
    expect($(".card .state").textContent).toContain("正常");
    expect($(".card .check-now").textContent).toBe("今すぐ確認");
    expect($("#settings-saved").textContent).toBe("保存しました。");
    expect(control("lang").value).toBe("ja");
    expect(document.activeElement).toBe($("#save-settings"));
    // Every screen, not only the one shown.
    expect($("#wizard label[for=preset]").textContent).toBe("ご利用のメールサービス");
    expect($("#start-drill").textContent).toBe("訓練を始める");
  });

  it("asks the app which language \"auto\" means", async () => {
    let lang: "en" | "ja" = "en";
    const { ipc } = await mount(fixtures({
      overview: () => overview({ lang }),
      settings: () => ({ ...SETTINGS, lang: "en" }),
      save_settings: ({ settings }) => settings,
    }));
    $('nav button[data-view="settings"]').click();
    await flush();
    lang = "ja";
    choose($("#settings [name=lang]"), "auto");
    $("#save-settings").click();
    await flush();
    expect(ipc.argsOf("overview")).toHaveLength(2);
    expect(document.documentElement.lang).toBe("ja");
  });
});

describe("language", () => {
  it("comes from the app, not the web view", async () => {
    await mount(fixtures({ overview: () => overview({ lang: "ja", paused_until_ms: Date.UTC(2025, 10, 22, 11, 32) }) }));
    expect(document.documentElement.lang).toBe("ja");
    expect($("h1").textContent).toBe("Mail Canary");
    expect($("#paused").textContent).toContain("11:32 まで確認を一時停止しています");
    expect($$("nav button").map((b) => b.textContent)).toEqual(["状態", "メールボックスを追加", "履歴", "訓練と手順書", "設定"]);
    expect($(".card .meta").textContent).toContain("2.1 秒");
  });
});
