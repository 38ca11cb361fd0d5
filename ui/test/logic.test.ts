import { afterEach, describe, expect, it } from "vitest";
import { categoryText, duration, setLang, stageText } from "../src/i18n";
import { weakReasons } from "../src/password";
import { validAddress, validateMailbox, validateSettings } from "../src/validate";
import { SETTINGS } from "./fake";

afterEach(() => setLang("en"));

// crates/core/src/category.rs, in vocabulary order.
const CATEGORIES =
  "ok,late,junk,lost,attachment_blocked,attachment_altered,download_interrupted,canary_removed,auth_failed," +
  "auth_method_required,account_locked,send_blocked,send_limited,mailbox_full,quota_warning,notice_found," +
  "tls_untrusted,tls_expired,tls_expiring,tls_intercepted,starttls_missing,dns_failed,connect_failed,timeout," +
  "server_error,protocol_error,config_error";

describe("words", () => {
  it.each([
    [40, "0.04 s", "0.04 秒"],
    [2100, "2.1 s", "2.1 秒"],
    [45_000, "45 s", "45 秒"],
    [180_000, "3 min", "3 分"],
    [3_900_000, "1 h 5 min", "1 時間 5 分"],
    [7_200_000, "2 h", "2 時間"],
  ])("duration %i ms", (ms, en, ja) => {
    expect(duration(ms)).toBe(en);
    setLang("ja");
    expect(duration(ms)).toBe(ja);
  });

  it("has plain words for every category in both languages, and shows an unknown one as it is", () => {
    for (const lang of ["en", "ja"] as const) {
      setLang(lang);
      for (const c of CATEGORIES.split(",")) expect(categoryText(c), `${lang} ${c}`).not.toMatch(/\(|^$/);
    }
    setLang("en");
    expect(categoryText("auth_failed")).toBe("The password was refused");
    expect(categoryText("junk_placement")).toBe("Canary landed in Junk");
    expect(categoryText("offline")).toBe("This computer is offline");
    expect(categoryText("brand_new")).toBe("Other (brand_new)");
    setLang("ja");
    expect(categoryText("timeout")).toBe("サーバーが時間内に応答しませんでした");
  });

  it("names each step by its server", () => {
    expect(stageText({ stage: "connect", protocol: "smtp", state: "started" })).toBe("Connecting to the sending server…");
    expect(stageText({ stage: "auth", protocol: "imap", state: "failed" })).toBe("Login to the receiving server refused");
    setLang("ja");
    expect(stageText({ stage: "connect", protocol: "imap", state: "ok" })).toBe("受信サーバーに接続しました");
  });
});

describe("weak passwords", () => {
  it.each([
    ["p@ssw0rd", "a@b.jp", ["short", "common"]],
    ["1q2w3e4r", "a@b.jp", ["short", "common"]],
    ["Password2024!!", "a@b.jp", ["common"]],
    ["abcdefghijklmnop", "a@b.jp", ["oneClass"]],
    ["さくらさくらさくらさくら", "a@b.jp", ["oneClass"]],
    ["x-sato.office-99", "sato.office@kaisha.jp", ["local"]],
    ["WelcomeToYamada2025", "info@yamada-shoji.co.jp", ["domain"]],
    ["violet-harbour-73-lantern", "info@yamada-shoji.co.jp", []],
    ["", "info@yamada-shoji.co.jp", []],
  ])("%s", (pw, address, reasons) => {
    expect(weakReasons(pw, address)).toEqual(reasons);
  });
});

describe("form checks", () => {
  const form = {
    name: "office", address: "info@example.co.jp", login: "", imap_host: "imap.example.co.jp", imap_port: 993,
    imap_security: "tls" as const, smtp_host: "smtp.example.co.jp", smtp_port: 587, smtp_security: "starttls" as const,
    ca_file: "", password: "x",
  };

  it("accepts a good form and names each bad field", () => {
    expect(validateMailbox(form, [])).toEqual({});
    expect(Object.keys(validateMailbox({ ...form, name: "-x" }, []))).toEqual(["name"]);
    expect(Object.keys(validateMailbox({ ...form, name: "a".repeat(41) }, []))).toEqual(["name"]);
    expect(Object.keys(validateMailbox({ ...form, name: "a".repeat(40) }, []))).toEqual([]);
    expect(Object.keys(validateMailbox(form, ["office"]))).toEqual(["name"]);
    expect(Object.keys(validateMailbox({ ...form, smtp_port: 1.5, imap_host: "mail host" }, []))).toEqual(["imap_host", "smtp_port"]);
  });

  it.each([
    ["info@example.co.jp", true],
    ["info@example", false],
    ["a@b@c.jp", false],
    ["@example.jp", false],
    ["info@example.", false],
    ["in fo@example.jp", false],
  ])("address %s", (a, ok) => expect(validAddress(a)).toBe(ok));

  it("checks settings", () => {
    expect(validateSettings(SETTINGS)).toEqual({});
    expect(Object.keys(validateSettings({ ...SETTINGS, interval_minutes: 1441, renotify_hours: -1 }))).toEqual(["interval_minutes", "renotify_hours"]);
    expect(validateSettings({ ...SETTINGS, metrics_addr: "[::1]:9898" })).toEqual({});
    expect(Object.keys(validateSettings({ ...SETTINGS, metrics_addr: "127.0.0.1:99999" }))).toEqual(["metrics_addr"]);
    expect(Object.keys(validateSettings({ ...SETTINGS, webhook_env: "1BAD" }))).toEqual(["webhook_env"]);
  });
});
