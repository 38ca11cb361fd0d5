import { describe, expect, it } from "vitest";
import type { MailboxForm, TestResult } from "../src/ipc";
import { $, $$, card, choose, fixtures, flush, mount, type, type Handlers } from "./fake";

async function openWizard(over: Handlers = {}) {
  const m = await mount(fixtures(over));
  $('nav button[data-view="add"]').click();
  await flush();
  return m;
}

const input = (name: string) => $<HTMLInputElement>(`#wizard [name="${name}"]`);
const select = (name: string) => $<HTMLSelectElement>(`#wizard [name="${name}"]`);
const errorOf = (name: string) => $(`#wizard .field-error[data-field="${name}"]`);

/** A complete, valid form with a strong password. */
function fillValid(): void {
  type(input("name"), "office2");
  type(input("address"), "info@tanaka-kogyo.co.jp");
  type(input("imap_host"), "imap.example.co.jp");
  type(input("smtp_host"), "smtp.example.co.jp");
  type(input("password"), "correct horse battery staple");
}

const OK_RESULT: TestResult = {
  state: "ok", category: "ok", summary: "Mail is flowing.", action: "", latency_ms: 2100, folder: "INBOX",
  stages: [{ stage: "receive", protocol: "imap", ok: true, ms: 2100, detail: "" }],
};

describe("add mailbox wizard", () => {
  it("labels every field and offers the presets plus manual", async () => {
    const { ipc } = await openWizard();
    expect(ipc.argsOf("presets")).toHaveLength(1);
    const values = $$<HTMLOptionElement>("#preset option").map((o) => o.value);
    expect(values).toEqual(["", "gmail", "outlook", "rental", "demo", "manual"]);
    for (const name of ["name", "address", "login", "imap_host", "imap_port", "imap_security", "smtp_host", "smtp_port", "smtp_security", "ca_file", "password"]) {
      const control = $(`#wizard [name="${name}"]`);
      expect($(`label[for="${control.id}"]`).textContent, name).not.toBe("");
    }
    expect(input("password").type).toBe("password");
    expect($$<HTMLOptionElement>("option", select("smtp_security")).map((o) => o.value)).toEqual(["tls", "starttls"]);
    expect(input("ca_file").closest("details")).not.toBeNull();
  });

  it("fills the servers from a preset and shows its note and warning", async () => {
    await openWizard();
    choose($("#preset"), "gmail");
    expect(input("imap_host").value).toBe("imap.gmail.com");
    expect(input("smtp_port").value).toBe("465");
    expect(select("smtp_security").value).toBe("tls");
    expect($("#preset-note").textContent).toContain("app password");
    expect($("#preset-warning").hidden).toBe(false);
    expect($("#preset-warning").textContent).toContain("needs an app password, not your normal password");

    choose($("#preset"), "outlook");
    expect(select("smtp_security").value).toBe("starttls");
    expect($("#preset-warning").textContent).toContain("no longer accepts passwords");
    expect($("#preset-note").hidden).toBe(true);

    choose($("#preset"), "demo");
    expect(input("address").value).toBe("office@example.test");
    expect(input("ca_file").value).toBe("/tmp/demo/ca.pem");
    expect(input("ca_file").closest("details")!.open).toBe(true);
    expect($("#preset-warning").hidden).toBe(true);

    choose($("#preset"), "manual");
    expect($("#preset-note").hidden).toBe(true);
    expect(input("imap_host").value).toBe("127.0.0.1"); // kept, to edit
  });

  it("fills {domain} hosts from the address until the user types their own", async () => {
    await openWizard();
    choose($("#preset"), "rental");
    expect(input("imap_host").value).toBe("");
    type(input("address"), "info@tanaka-kogyo.co.jp");
    expect(input("imap_host").value).toBe("mail.tanaka-kogyo.co.jp");
    expect(input("smtp_host").value).toBe("mail.tanaka-kogyo.co.jp");
    type(input("smtp_host"), "smtp.other.jp");
    type(input("address"), "info@suzuki.jp");
    expect(input("imap_host").value).toBe("mail.suzuki.jp");
    expect(input("smtp_host").value).toBe("smtp.other.jp");
  });

  it("looks up the servers of a typed address and fills them in, saying from where", async () => {
    const { ipc } = await openWizard({
      discover: ({ address }) =>
        address.endsWith("@tanaka-kogyo.co.jp")
          ? [
              {
                source: "autoconfig", detail: "https://autoconfig.tanaka-kogyo.co.jp",
                imap: { host: "imap.tanaka-kogyo.co.jp", port: 993, security: "tls" },
                pop3: null,
                smtp: { host: "smtp.tanaka-kogyo.co.jp", port: 465, security: "tls" },
                login: "info", note: null, unverified: false,
              },
            ]
          : [],
    });
    // Typed, then left (the change event): looked up at once, no provider chosen.
    type(input("address"), "info@tanaka-kogyo.co.jp");
    input("address").dispatchEvent(new Event("change"));
    await flush();
    expect(ipc.argsOf("discover")).toEqual([{ address: "info@tanaka-kogyo.co.jp" }]);
    expect(input("imap_host").value).toBe("imap.tanaka-kogyo.co.jp");
    expect(input("smtp_port").value).toBe("465");
    expect(select("smtp_security").value).toBe("tls");
    expect(input("login").value).toBe("info");
    expect($("#discover-note").textContent).toContain("the domain's settings file");
    expect($("#discover-note").textContent).toContain("https://autoconfig.tanaka-kogyo.co.jp");

    // Servers already there: a new address is not looked up by itself, only on request.
    type(input("address"), "info@suzuki.jp");
    input("address").dispatchEvent(new Event("change"));
    await flush();
    expect(ipc.argsOf("discover")).toHaveLength(1);
    $("#find-servers").click();
    await flush();
    expect(ipc.argsOf("discover")).toHaveLength(2);
    expect($("#discover-note").textContent).toContain("No servers found");
    expect(input("imap_host").value).toBe("imap.tanaka-kogyo.co.jp"); // left as it was

    // Not an address: said at the field, nothing asked.
    type(input("address"), "suzuki.jp");
    $("#find-servers").click();
    await flush();
    expect(ipc.argsOf("discover")).toHaveLength(2);
    expect(errorOf("address").textContent).toContain("email address");
  });

  it("swaps in the provider's POP3 server when POP3 is chosen, unless the user typed their own", async () => {
    await openWizard();
    choose($("#preset"), "gmail");
    choose(select("receive"), "pop3");
    expect(input("imap_host").value).toBe("pop.gmail.com");
    expect(input("imap_port").value).toBe("995");
    expect($("#pop3-note").textContent).toContain("inbox only");
    choose(select("receive"), "imap");
    expect(input("imap_host").value).toBe("imap.gmail.com");
    expect(input("imap_port").value).toBe("993");

    // A host typed by hand stays; only the usual port follows.
    type(input("imap_host"), "mail.example.jp");
    choose(select("receive"), "pop3");
    expect(input("imap_host").value).toBe("mail.example.jp");
    expect(input("imap_port").value).toBe("995");

    // Hosts made from the address: the POP3 one, with its own port and security.
    choose($("#preset"), "rental");
    type(input("address"), "info@suzuki.jp");
    choose(select("receive"), "pop3");
    expect(input("imap_host").value).toBe("pop.suzuki.jp");
    expect(input("imap_port").value).toBe("110");
    expect(select("imap_security").value).toBe("starttls");
    type(input("address"), "info@tanaka.jp");
    expect(input("imap_host").value).toBe("pop.tanaka.jp");

    // A provider without POP3 says so.
    choose($("#preset"), "demo");
    choose(select("receive"), "pop3");
    expect(input("imap_host").value).toBe("127.0.0.1");
    expect($("#pop3-note").textContent).toContain("Demo server does not offer POP3");
  });

  it("fills in a POP3 server when that is all a finding offers, or when POP3 was chosen", async () => {
    const server = (host: string, port: number) => ({ host, port, security: "tls" as const });
    const { ipc } = await openWizard({
      discover: ({ address }) =>
        address.endsWith("@pop-isp.jp")
          ? [
              {
                source: "autoconfig", detail: "https://autoconfig.pop-isp.jp",
                imap: null, pop3: server("pop.pop-isp.jp", 995), smtp: server("smtp.pop-isp.jp", 465),
                login: null, note: null, unverified: false,
              },
            ]
          : [
              {
                source: "srv", detail: "both.jp",
                imap: server("imap.both.jp", 993), pop3: null, smtp: server("smtp.both.jp", 465),
                login: null, note: null, unverified: false,
              },
              {
                source: "guess", detail: "imap.both.jp, pop.both.jp, smtp.both.jp",
                imap: server("imap.both.jp", 993), pop3: server("pop.both.jp", 995),
                smtp: server("smtp.both.jp", 587), login: null, note: null, unverified: false,
              },
            ],
    });
    // POP3 only: the protocol follows, with its note.
    type(input("address"), "info@pop-isp.jp");
    $("#find-servers").click();
    await flush();
    expect(select("receive").value).toBe("pop3");
    expect(input("imap_host").value).toBe("pop.pop-isp.jp");
    expect(input("imap_port").value).toBe("995");
    expect($("#pop3-note").hidden).toBe(false);
    expect($("#discover-note").textContent).toContain("receiving over POP3");

    // POP3 chosen: the first finding that offers it, though an IMAP-only one comes first.
    type(input("address"), "info@both.jp");
    $("#find-servers").click();
    await flush();
    expect(select("receive").value).toBe("pop3");
    expect(input("imap_host").value).toBe("pop.both.jp");
    expect(input("smtp_port").value).toBe("587");

    // IMAP chosen: the first finding, its IMAP server.
    choose(select("receive"), "imap");
    $("#find-servers").click();
    await flush();
    expect(ipc.argsOf("discover")).toHaveLength(3);
    expect(input("imap_host").value).toBe("imap.both.jp");
    expect(input("imap_port").value).toBe("993");
    expect($("#pop3-note").hidden).toBe(true);
    expect($("#discover-note").textContent).not.toContain("POP3");
  });

  it("checks the form before any call, with a message at each field", async () => {
    const { ipc } = await openWizard();
    type(input("name"), "bad name!");
    type(input("address"), "info@localhost");
    type(input("imap_host"), "imaps://mail.example.jp");
    type(input("imap_port"), "70000");
    type(input("smtp_host"), "");
    type(input("smtp_port"), "0");
    $("#test-now").click();
    await flush();
    $("#save").click();
    await flush();
    expect(ipc.argsOf("test_mailbox")).toEqual([]);
    expect(ipc.argsOf("add_mailbox")).toEqual([]);
    expect(errorOf("name").textContent).toContain("letters, digits");
    expect(errorOf("address").textContent).toContain("email address");
    expect(errorOf("imap_host").textContent).toContain("://");
    expect(errorOf("imap_port").textContent).toContain("1 to 65535");
    expect(errorOf("smtp_host").textContent).toContain("server's name");
    expect(errorOf("smtp_port").hidden).toBe(false);
    expect(errorOf("password").textContent).toContain("password");
    expect(errorOf("login").hidden).toBe(true);
    expect(input("name").getAttribute("aria-invalid")).toBe("true");
    expect(input("name").getAttribute("aria-describedby")).toContain(errorOf("name").id);
    expect(document.activeElement).toBe(input("name"));
  });

  it("refuses a name already in use", async () => {
    const { ipc } = await openWizard();
    fillValid();
    type(input("name"), "office");
    $("#test-now").click();
    await flush();
    expect(errorOf("name").textContent).toBe("There is already a mailbox with this name.");
    expect(ipc.argsOf("test_mailbox")).toEqual([]);
  });

  it.each([
    ["password", ["short", "oneClass", "common"]],
    ["Sakura2024!", ["short", "common"]],
    ["12345678901234", ["oneClass"]],
    ["info-secret-2024-x", ["local"]],
    ["TanakaKogyo!2024", ["domain"]],
  ])("warns about the weak password %s", async (pw, reasons) => {
    await openWizard();
    type(input("address"), "info@tanaka-kogyo.co.jp");
    type(input("password"), pw);
    const box = $("#password-warning");
    expect(box.hidden).toBe(false);
    expect(box.getAttribute("role")).toBe("alert");
    expect($$("li", box).map((li) => li.dataset.reason)).toEqual(reasons);
    expect(box.textContent).toContain("used for spam and then blocked by the provider");
  });

  it("says nothing about a strong password", async () => {
    await openWizard();
    type(input("address"), "info@tanaka-kogyo.co.jp");
    type(input("password"), "violet-harbour-73-lantern");
    expect($("#password-warning").hidden).toBe(true);
  });

  it("saves a weak password only once the user ticks I understand", async () => {
    const saved: MailboxForm[] = [];
    const { ipc } = await openWizard({
      add_mailbox: ({ form }: { form: MailboxForm }) => {
        saved.push(form);
        return [card("office"), card("sales"), card(form.name, { state: "waiting", checked_at_ms: null })];
      },
    });
    fillValid();
    type(input("password"), "sakura123");
    $("#save").click();
    await flush();
    expect(ipc.argsOf("add_mailbox")).toEqual([]);
    expect(errorOf("password").textContent).toContain("I understand");
    expect(document.activeElement).toBe($("#accept-weak"));
    $<HTMLInputElement>("#accept-weak").click();
    $("#save").click();
    await flush();
    expect(saved).toHaveLength(1);
    expect(saved[0].password).toBe("sakura123");
  });

  it("shows an IpcError at its field, or above the buttons without one", async () => {
    let error: unknown = { kind: "invalid", message: "The server name has a typo.", field: "smtp_host" };
    await openWizard({ add_mailbox: () => { throw error; } });
    fillValid();
    $("#save").click();
    await flush();
    expect(errorOf("smtp_host").hidden).toBe(false);
    expect(errorOf("smtp_host").textContent).toBe("The server name has a typo.");
    expect($("#wizard-error").hidden).toBe(true);
    error = { kind: "keyring", message: "The keyring is locked." };
    $("#save").click();
    await flush();
    expect(errorOf("smtp_host").hidden).toBe(true);
    expect($("#wizard-error").hidden).toBe(false);
    expect($("#wizard-error").textContent).toBe("The keyring is locked.");
    expect($("#wizard-error").getAttribute("role")).toBe("alert");
  });

  it("tests the settings with live steps and shows the result", async () => {
    let finish: (r: TestResult) => void = () => {};
    const { ipc } = await openWizard({ test_mailbox: () => new Promise<TestResult>((r) => (finish = r)) });
    fillValid();
    $("#test-now").click();
    await flush();
    const [args] = ipc.argsOf("test_mailbox");
    expect(args.form).toMatchObject({ name: "office2", imap_port: 993, smtp_port: 587, imap_security: "tls", smtp_security: "starttls", login: "", ca_file: "" });
    expect($("#test-now").textContent).toBe("Testing…");
    ipc.emit("stage", { mailbox: "office2", stage: "connect", protocol: "smtp", state: "started", ms: 0 });
    ipc.emit("stage", { mailbox: "office", stage: "connect", protocol: "imap", state: "started", ms: 0 });
    ipc.emit("stage", { mailbox: "office2", stage: "send", protocol: "smtp", state: "ok", ms: 300 });
    const steps = $$("#test-stages li");
    expect(steps.map((li) => li.dataset.stage)).toEqual(["connect", "send", "receive"]);
    expect(steps[2].textContent).toContain("Waiting for the canary…");
    finish(OK_RESULT);
    await flush();
    expect($("#test-result").hidden).toBe(false);
    expect($("#test-result").dataset.state).toBe("ok");
    expect($("#test-result").textContent).toContain("Mail is flowing: the canary was found in INBOX after 2.1 s");
    expect($("#test-now").textContent).toBe("Test now");
  });

  it("shows a failed test's summary, action and the server's reply as text", async () => {
    await openWizard({
      test_mailbox: () => ({
        state: "critical", category: "auth_failed", summary: "The password was refused.", action: "Check the password.",
        latency_ms: null, folder: null,
        stages: [{ stage: "auth", protocol: "smtp", ok: false, ms: 80, detail: "535 5.7.8 <b>bad</b> credentials" }],
      }),
    });
    fillValid();
    $("#test-now").click();
    await flush();
    const box = $("#test-result");
    expect(box.dataset.state).toBe("critical");
    expect($(".summary", box).textContent).toBe("The password was refused.");
    expect($(".action", box).textContent).toBe("Check the password.");
    expect($("pre.detail", box).textContent).toBe("535 5.7.8 <b>bad</b> credentials");
    expect(box.querySelector("b")).toBeNull();
  });

  it("saves, shows the new card and forgets the password", async () => {
    const { ipc } = await openWizard({
      add_mailbox: ({ form }: { form: MailboxForm }) => [card("office"), card("sales"), card(form.name, { state: "waiting", checked_at_ms: null })],
    });
    fillValid();
    $("#save").click();
    await flush();
    expect(ipc.argsOf("add_mailbox")[0].form.password).toBe("correct horse battery staple");
    expect($("#view-status").hidden).toBe(false);
    expect($('.card[data-mailbox="office2"]').dataset.state).toBe("waiting");
    expect(input("password").value).toBe("");
    expect(input("name").value).toBe("");
    expect(document.body.innerHTML).not.toContain("correct horse");
    expect(ipc.argsOf("cancel_add")).toEqual([]);
  });

  it("after saving, forgets the passwords of other names tested on the way", async () => {
    const { ipc } = await openWizard({
      test_mailbox: () => OK_RESULT,
      cancel_add: () => null,
      add_mailbox: ({ form }) => [card("office"), card("sales"), card(form.name, { state: "waiting", checked_at_ms: null })],
    });
    fillValid();
    type(input("name"), "ofice2");
    $("#test-now").click();
    await flush();
    type(input("name"), "office2");
    $("#test-now").click();
    await flush();
    $("#save").click();
    await flush();
    expect(ipc.argsOf("cancel_add")).toEqual([{ name: "ofice2" }]);
  });

  it("cancel forgets a password a test stored, and clears the form", async () => {
    const { ipc } = await openWizard({ test_mailbox: () => OK_RESULT, cancel_add: () => null });
    fillValid();
    $("#test-now").click();
    await flush();
    $("#cancel").click();
    await flush();
    expect(ipc.argsOf("cancel_add")).toEqual([{ name: "office2" }]);
    expect(input("password").value).toBe("");
    expect($("#test-result").hidden).toBe(true);
    expect($("#view-status").hidden).toBe(false);
    // Every name tested is forgotten, not only the last; a saved one is kept.
    $('nav button[data-view="add"]').click();
    fillValid();
    $("#test-now").click();
    await flush();
    type(input("name"), "office3");
    $("#test-now").click();
    await flush();
    $("#cancel").click();
    await flush();
    expect(ipc.argsOf("cancel_add").slice(1)).toEqual([{ name: "office2" }, { name: "office3" }]);
    // Without a test there is nothing to forget.
    $('nav button[data-view="add"]').click();
    $("#cancel").click();
    await flush();
    expect(ipc.argsOf("cancel_add")).toHaveLength(3);
  });

  it("signs in with the provider instead of a password, then saves without one", async () => {
    const { ipc } = await openWizard({ sign_in: () => null, add_mailbox: () => [card("office2")] });
    choose($("#preset"), "outlook");
    // A provider that takes no password: its sign-in is chosen, the password field goes.
    expect(select("auth").value).toBe("microsoft");
    expect($("#password-box").hidden).toBe(true);
    expect($("#oauth-box").hidden).toBe(false);
    expect($("#oauth-custom").hidden).toBe(true);
    type(input("name"), "office2");
    type(input("address"), "info@tanaka-kogyo.co.jp");
    // No client id: said at the field, nothing asked of the app.
    $("#sign-in").click();
    await flush();
    expect(errorOf("oauth_client_id").textContent).toContain("client id");
    expect(ipc.argsOf("sign_in")).toHaveLength(0);
    type(input("oauth_client_id"), "0f1e2d3c-aaaa-bbbb-cccc-000000000001");
    $("#sign-in").click();
    await flush();
    const [{ form }] = ipc.argsOf("sign_in");
    expect(form).toMatchObject({ name: "office2", auth: "microsoft", oauth_client_id: "0f1e2d3c-aaaa-bbbb-cccc-000000000001", password: "" });
    expect($("#sign-in-status").textContent).toBe("Signed in. Now test, then save.");
    $("#save").click();
    await flush();
    const [{ form: saved }] = ipc.argsOf("add_mailbox");
    expect(saved).toMatchObject({ auth: "microsoft", password: "" });
  });

  it("asks Google's client secret, and another server's endpoints", async () => {
    const { ipc } = await openWizard({ sign_in: () => null });
    choose(select("auth"), "google");
    expect($("#oauth-secret").hidden).toBe(false);
    expect(input("oauth_client_secret").type).toBe("password");
    expect($("#oauth-custom").hidden).toBe(true);
    type(input("name"), "office2");
    type(input("address"), "info@tanaka-kogyo.co.jp");
    type(input("imap_host"), "imap.gmail.com");
    type(input("smtp_host"), "smtp.gmail.com");
    type(input("oauth_client_id"), "123-abc.apps.googleusercontent.com");
    type(input("oauth_client_secret"), "GOCSPX-not-really");
    $("#sign-in").click();
    await flush();
    expect(ipc.argsOf("sign_in")[0].form).toMatchObject({ auth: "google", oauth_client_secret: "GOCSPX-not-really" });
    choose(select("auth"), "microsoft");
    expect($("#oauth-secret").hidden).toBe(true);
    choose(select("auth"), "custom");
    expect($("#oauth-custom").hidden).toBe(false);
    expect($("#password-box").hidden).toBe(true);
    choose(select("auth"), "password");
    expect($("#oauth-box").hidden).toBe(true);
    expect($("#password-box").hidden).toBe(false);
  });

  it("reads a mailbox over POP3 when asked, and says what POP3 cannot see", async () => {
    const { ipc } = await openWizard({ test_mailbox: () => OK_RESULT });
    expect($("#pop3-note").hidden).toBe(true);
    expect(input("imap_port").value).toBe("993");
    choose(select("receive"), "pop3");
    expect(input("imap_port").value).toBe("995");
    expect($("#pop3-note").hidden).toBe(false);
    expect($("#pop3-note").textContent).toContain("inbox only");
    fillValid();
    $("#test-now").click();
    await flush();
    expect(ipc.argsOf("test_mailbox")[0].form).toMatchObject({ receive: "pop3", imap_port: 995 });
    // Back to IMAP: its usual port again; a port typed by hand stays.
    choose(select("receive"), "imap");
    expect(input("imap_port").value).toBe("993");
    type(input("imap_port"), "1993");
    choose(select("receive"), "pop3");
    expect(input("imap_port").value).toBe("1993");
  });
});
