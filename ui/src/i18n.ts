// Every string the window shows, in English and Japanese. The language comes from the app
// (`overview().lang`, which follows the settings), never from the web view's navigator.
// Japanese is the polite office register: staff read it, not engineers.

import type { Lang, StageEvent, StageName, State } from "./ipc";

const en = {
  appTitle: "Mail Canary",
  navLabel: "Screens",
  nav: {
    status: "Status",
    add: "Add mailbox",
    history: "History",
    drill: "Drill & runbook",
    settings: "Settings",
  },
  loading: "Loading…",
  saved: "Saved.",
  cannot: (msg: string) => `That did not work: ${msg}`,

  // Status
  statusTitle: "Mailboxes",
  overallNone: "No mailboxes yet.",
  overallOne: "The mailbox is healthy.",
  overallAll: (n: number) => `All ${n} mailboxes healthy.`,
  overallBad: (bad: number, n: number) => `${bad} of ${n} mailboxes need attention.`,
  overallWaiting: "The first check is running…",
  pausedUntil: (time: string) => `Checks paused until ${time}`,
  resume: "Resume",
  pause1h: "Pause for 1 hour",
  trouble: (why: string) => `Mail Canary is not checking anything right now: ${why}`,
  state: {
    ok: "Healthy",
    warning: "Needs attention",
    critical: "Mail is not flowing",
    unknown: "Cannot tell",
    waiting: "First check running…",
  } as Record<State, string>,
  lastCheck: "Last check",
  checkNow: "Check now",
  checking: "Checking…",
  checkNowLabel: (name: string) => `Check now: ${name}`,
  checkingLabel: (name: string) => `Checking ${name}…`,
  remove: "Remove",
  removeLabel: (name: string) => `Remove ${name}`,
  removeConfirm: (name: string) =>
    `Remove the mailbox “${name}”? Its checks stop and its saved password is deleted from this computer.`,
  empty: "No mailbox is watched yet. Add the office's mailbox to start.",
  addMailbox: "Add mailbox",
  cardsLabel: "Mailboxes",
  stagesLabel: (name: string) => `Steps of the latest check of ${name}`,
  role: { smtp: "sending server", imap: "receiving server", pop3: "receiving server", oauth: "sign-in server" },
  foundIn: (folder: string, dur: string) => `Found in ${folder} after ${dur}`,

  // Durations
  sec: "s",
  min: "min",
  hour: "h",

  // Wizard
  addTitle: "Add a mailbox",
  addIntro:
    "Mail Canary sends a test message (a “canary”) from the mailbox to itself and checks that it arrives. " +
    "The settings are in your provider's instructions or in your mail program's account settings.",
  presetLabel: "Your mail provider",
  presetChoose: "Choose…",
  presetManual: "Other / manual",
  appPasswordWarn: "This provider needs an app password, not your normal password — how:",
  oauthOnlyWarn:
    "This provider no longer accepts passwords for mail programs: sign in with the provider below instead.",
  receiving: "Receiving mail",
  receiveChoice: { imap: "IMAP", pop3: "POP3" } as Record<string, string>,
  pop3Note:
    "POP3 sees the inbox only: a test message put in the junk folder counts as lost, so look in webmail's junk folder then. IMAP sees both.",
  noPop3: (provider: string) => `${provider} does not offer POP3: choose IMAP.`,
  sending: "Sending mail (SMTP)",
  label: {
    name: "Short name",
    address: "Email address",
    login: "Login name",
    imap_host: "Server",
    imap_port: "Port",
    imap_security: "Security",
    receive: "Protocol",
    smtp_host: "Server",
    smtp_port: "Port",
    smtp_security: "Security",
    ca_file: "Extra CA certificate file (PEM)",
    password: "Password",
    auth: "How Mail Canary signs in",
    oauth_client_id: "Client id of the office's registered app",
    oauth_authorize_url: "Sign-in address (authorization endpoint)",
    oauth_token_url: "Token address (token endpoint)",
    oauth_scope: "Scopes",
    oauth_client_secret: "Client secret of the app (Google)",
  } as Record<string, string>,
  hint: {
    name: "Letters, digits, - and _, for example office. It names the mailbox in alerts and reports.",
    login: "Leave empty if you log in with the email address.",
    ca_file: "Only for a server with its own certificate authority. Leave empty otherwise.",
    password: "Kept only in this computer's password store (keyring).",
    oauth_client_id: "From the app registration with Microsoft or Google (see docs/OAUTH.md). No password is kept: the sign-in stays in this computer's keyring.",
    oauth_client_secret: "Google gives desktop apps a client secret with the client id. Kept only in this computer's keyring.",
  } as Record<string, string>,
  authChoice: {
    password: "With the mailbox's password",
    microsoft: "Sign in with Microsoft (Microsoft 365, Outlook.com)",
    google: "Sign in with Google (Gmail, Google Workspace)",
    custom: "Sign in with another OAuth2 server",
  } as Record<string, string>,
  signIn: "Sign in in the browser",
  signingIn: "Waiting for the sign-in in the browser…",
  signedIn: "Signed in. Now test, then save.",
  signInAgain: "Sign in again",
  signInAgainLabel: (name: string) => `Sign in again: ${name}`,
  advanced: "Advanced",
  secTls: "TLS (SSL)",
  secStarttls: "STARTTLS",
  err: {
    name: "Use 1 to 40 letters, digits, - or _, starting with a letter or digit (for example office).",
    nameTaken: "There is already a mailbox with this name.",
    address: "Enter an email address like name@example.co.jp.",
    port: "Enter a port number from 1 to 65535.",
    hostEmpty: "Enter the server's name, like mail.example.co.jp.",
    host: "Enter only the server's name, without spaces or “://”.",
    password: "Enter the mailbox's password.",
    clientId: "Enter the client id of the registered app.",
    acceptWeak: "This password looks weak: tick “I understand” below to save it anyway.",
  },
  weakTitle: "This password looks weak:",
  weakReason: {
    short: "it is shorter than 12 characters",
    oneClass: "it uses only letters or only digits",
    common: "it is on the list of passwords attackers try first",
    local: "it contains the mailbox's own name",
    domain: "it contains the company's domain name",
  },
  weakWhy:
    "A leaked weak password is how many offices' mail gets used for spam and then blocked by the provider. " +
    "Consider a longer password made of several unrelated words.",
  acceptWeak: "I understand",
  findServers: "Find the servers",
  finding: "Looking for the servers…",
  foundVia: {
    preset: "the provider's settings",
    autoconfig: "the domain's settings file",
    srv: "the domain's DNS records (SRV)",
    mx: "the provider that receives the domain's mail",
    guess: "the usual server names",
  },
  found: (how: string, detail: string, pop3: boolean) =>
    `Servers filled in from ${how} (${detail})${pop3 ? ", receiving over POP3" : ""}. Check them, then test.`,
  notFound: "No servers found for this address: choose the provider above, or type the servers.",
  testNow: "Test now",
  testing: "Testing…",
  save: "Save mailbox",
  cancel: "Cancel",
  testStagesLabel: "Steps of the test",
  testOk: (folder: string, dur: string) => `Mail is flowing: the canary was found in ${folder} after ${dur}`,
  serverSaid: "What each step did and what the servers said",

  // History
  historyTitle: "History",
  historyMailbox: "Mailbox",
  allMailboxes: "All mailboxes",
  historyDays: "Period",
  lastDays: (n: number) => (n === 1 ? "Last 24 hours" : `Last ${n} days`),
  noHistory: "No checks recorded in this period.",
  checks: "Checks",
  uptime: "Uptime",
  p50: "Typical time (median)",
  p95: "Slow checks (95th percentile)",
  chartSummary: (name: string, from: string, to: string, checks: number, failed: number, incidents: number) =>
    `Time from sending to arrival of each check of ${name}, ${from} to ${to}: ${checks} checks, ` +
    `${failed} failed (shown at the top), ${incidents} incidents (shaded).`,
  chartFailed: "failed",
  daysCaption: "By day",
  day: "Day",
  incidentsCaption: "Incidents",
  cause: "Cause",
  started: "Started",
  ended: "Ended",
  ongoing: "ongoing",
  duration: "Duration",
  acknowledged: "Acknowledged",
  notAcked: "no",
  noIncidents: "No incidents in this period.",
  failuresTitle: "Failed checks",
  stageOk: "ok",
  stageFailed: "failed",
  stageName: {
    dns: "Name lookup",
    connect: "Connection",
    tls: "Secure connection (TLS)",
    auth: "Login",
    send: "Sending the canary",
    receive: "Receiving the canary",
    verify: "Checking the canary",
    cleanup: "Removing the canary",
  } as Record<StageName, string>,
  exportCsv: "Export checks (CSV)",
  exportHtml: "Export report (HTML)",
  exported: (path: string) => `Saved to ${path}`,

  // Drill and runbook
  drillTitle: "Drill & runbook",
  drillExplain:
    "A drill is a practice alarm: Mail Canary sends an alert marked DRILL through the real notification " +
    "channels, to check that someone notices it and knows what to do.",
  drillMailbox: "Mailbox for the drill",
  startDrill: "Start a drill",
  drillActive: (name: string, time: string) =>
    `Drill running for ${name} since ${time}. When the alert reaches you, press “I saw it”.`,
  ackDrill: "I saw it",
  drillAcked: (dur: string) => `Drill acknowledged after ${dur}. Well done.`,
  runbookTitle: "Runbook: what to do when mail stops",
  runbookIntro: "Write it down now, while mail works. It is shown during a drill and kept with the history.",
  runbook: {
    contact: "Who to call",
    provider_support: "Provider support (phone, web)",
    webmail: "Webmail address",
    backup_channel: "Backup way to reach customers",
    notes: "Notes",
  } as Record<string, string>,
  saveRunbook: "Save runbook",
  drillsCaption: "Past drills",
  mailbox: "Mailbox",
  ackAfter: (dur: string) => `after ${dur}`,
  notAcknowledged: "not acknowledged",
  running: "running",
  noDrills: "No drills yet.",
  noMailboxForDrill: "Add a mailbox first.",

  // Settings
  settingsTitle: "Settings",
  setting: {
    interval_minutes: "Minutes between checks",
    attachments_every_hours: "Hours between attachment tests",
    lang: "Language",
    notify: "Show desktop notifications",
    webhook_env: "Webhook: name of an environment variable",
    webhook_format: "Webhook format",
    renotify_hours: "Remind every … hours while a problem lasts",
    metrics_addr: "Prometheus metrics address",
    start_at_login: "Start Mail Canary when I log in",
  } as Record<string, string>,
  settingHint: {
    interval_minutes: "From 1 to 1440.",
    attachments_every_hours:
      "Tests with Excel, Word, PDF and ZIP attachments, which some firewalls block. 0 for never, at most 168.",
    webhook_env:
      "The NAME of an environment variable that holds the webhook URL (for example MAILCANARY_WEBHOOK), " +
      "not the URL itself, so the URL stays out of the settings file. Empty for none.",
    renotify_hours: "0 for never.",
    metrics_addr:
      "For a monitoring server (Prometheus) on this computer: a loopback address and port, for example " +
      "127.0.0.1:9898. Empty for off.",
  } as Record<string, string>,
  langAuto: "Same as the computer",
  saveSettings: "Save settings",
  settingErr: {
    interval_minutes: "Enter a whole number of minutes from 1 to 1440.",
    attachments_every_hours: "Enter a whole number of hours from 0 to 168.",
    renotify_hours: "Enter a whole number of hours from 0 to 168.",
    webhook_env: "Enter the name of an environment variable: letters, digits and _, not starting with a digit.",
    webhookUrl: "Enter the NAME of an environment variable that holds the URL, not the URL itself.",
    metrics_addr: "Enter a loopback address and port, like 127.0.0.1:9898, or leave it empty.",
  } as Record<string, string>,
};

export type Dict = typeof en;

const ja: Dict = {
  appTitle: "Mail Canary",
  navLabel: "画面",
  nav: {
    status: "状態",
    add: "メールボックスを追加",
    history: "履歴",
    drill: "訓練と手順書",
    settings: "設定",
  },
  loading: "読み込み中です…",
  saved: "保存しました。",
  cannot: (msg) => `実行できませんでした: ${msg}`,

  statusTitle: "メールボックス",
  overallNone: "メールボックスがまだありません。",
  overallOne: "メールボックスは正常です。",
  overallAll: (n) => `${n} 件のメールボックスはすべて正常です。`,
  overallBad: (bad, n) => `${n} 件中 ${bad} 件のメールボックスに対応が必要です。`,
  overallWaiting: "最初の確認を実行しています…",
  pausedUntil: (time) => `${time} まで確認を一時停止しています`,
  resume: "再開する",
  pause1h: "1 時間停止する",
  trouble: (why) => `現在、Mail Canary は確認を行っていません: ${why}`,
  state: {
    ok: "正常",
    warning: "対応が必要です",
    critical: "メールが届いていません",
    unknown: "判定できません",
    waiting: "最初の確認中です…",
  },
  lastCheck: "最終確認",
  checkNow: "今すぐ確認",
  checking: "確認中です…",
  checkNowLabel: (name) => `今すぐ確認: ${name}`,
  checkingLabel: (name) => `${name} を確認しています…`,
  remove: "削除",
  removeLabel: (name) => `${name} を削除`,
  removeConfirm: (name) =>
    `メールボックス「${name}」を削除しますか？確認を停止し、このパソコンに保存したパスワードも削除します。`,
  empty: "まだ監視しているメールボックスがありません。事務所のメールボックスを追加してください。",
  addMailbox: "メールボックスを追加",
  cardsLabel: "メールボックス",
  stagesLabel: (name) => `${name} の最新の確認の進み具合`,
  role: { smtp: "送信サーバー", imap: "受信サーバー", pop3: "受信サーバー", oauth: "サインインサーバー" },
  foundIn: (folder, dur) => `${dur} で ${folder} に届きました`,

  sec: "秒",
  min: "分",
  hour: "時間",

  addTitle: "メールボックスの追加",
  addIntro:
    "Mail Canary はメールボックスから自分自身あてにテストメール（カナリア）を送り、きちんと届くかを確認します。" +
    "設定内容は、メールサービスの案内やメールソフトのアカウント設定に書かれています。",
  presetLabel: "ご利用のメールサービス",
  presetChoose: "選択してください…",
  presetManual: "その他（手動で入力）",
  appPasswordWarn: "このサービスでは、通常のパスワードではなく「アプリ パスワード」が必要です。手順:",
  oauthOnlyWarn:
    "このサービスは、メールソフトからのパスワードによるログインを受け付けなくなりました。下でメールサービスのサインインを選んでください。",
  receiving: "受信",
  receiveChoice: { imap: "IMAP", pop3: "POP3" },
  pop3Note:
    "POP3 では受信トレイしか見えません。迷惑メールフォルダに入ったテストメールは「届かない」と判定されるので、その場合は Web メールの迷惑メールフォルダを確認してください。IMAP なら両方を確認できます。",
  noPop3: (provider) => `${provider} は POP3 に対応していません。IMAP を選んでください。`,
  sending: "送信 (SMTP)",
  label: {
    name: "短い名前",
    address: "メールアドレス",
    login: "ログイン名",
    imap_host: "サーバー",
    imap_port: "ポート",
    imap_security: "暗号化",
    receive: "プロトコル",
    smtp_host: "サーバー",
    smtp_port: "ポート",
    smtp_security: "暗号化",
    ca_file: "追加の CA 証明書ファイル (PEM)",
    password: "パスワード",
    auth: "Mail Canary のサインイン方法",
    oauth_client_id: "事務所で登録したアプリのクライアント ID",
    oauth_authorize_url: "サインインのアドレス（認可エンドポイント）",
    oauth_token_url: "トークンのアドレス（トークンエンドポイント）",
    oauth_scope: "スコープ",
    oauth_client_secret: "アプリのクライアント シークレット（Google）",
  },
  hint: {
    name: "英数字と - _ で入力してください（例: office）。通知や報告書でこのメールボックスを表す名前です。",
    login: "メールアドレスでログインする場合は空欄のままにしてください。",
    ca_file: "独自の認証局を使うサーバーの場合のみ指定します。通常は空欄のままにしてください。",
    password: "このパソコンのパスワード保管庫（キーリング）にのみ保存されます。",
    oauth_client_id: "Microsoft または Google でのアプリ登録で得られます（docs/OAUTH.md 参照）。パスワードは保存せず、サインインはこのパソコンのキーリングに保管されます。",
    oauth_client_secret: "Google ではデスクトップ アプリにもクライアント ID とともにクライアント シークレットが発行されます。このパソコンのキーリングにのみ保存されます。",
  },
  authChoice: {
    password: "メールボックスのパスワードで",
    microsoft: "Microsoft でサインイン（Microsoft 365・Outlook.com）",
    google: "Google でサインイン（Gmail・Google Workspace）",
    custom: "ほかの OAuth2 サーバーでサインイン",
  },
  signIn: "ブラウザーでサインイン",
  signingIn: "ブラウザーでのサインインを待っています…",
  signedIn: "サインインしました。テストしてから保存してください。",
  signInAgain: "もう一度サインイン",
  signInAgainLabel: (name) => `もう一度サインイン: ${name}`,
  advanced: "詳細設定",
  secTls: "TLS (SSL)",
  secStarttls: "STARTTLS",
  err: {
    name: "英数字・-・_ を 1〜40 文字で、英数字から始めて入力してください（例: office）。",
    nameTaken: "この名前のメールボックスはすでにあります。",
    address: "name@example.co.jp のようなメールアドレスを入力してください。",
    port: "1〜65535 のポート番号を入力してください。",
    hostEmpty: "mail.example.co.jp のようなサーバー名を入力してください。",
    host: "サーバー名だけを入力してください（空白や「://」は含めません）。",
    password: "メールボックスのパスワードを入力してください。",
    clientId: "登録したアプリのクライアント ID を入力してください。",
    acceptWeak: "弱いパスワードのようです。このまま保存する場合は、下の「理解しました」にチェックを入れてください。",
  },
  weakTitle: "このパスワードは弱いようです:",
  weakReason: {
    short: "12 文字より短い",
    oneClass: "英字だけ、または数字だけでできている",
    common: "攻撃者が最初に試すよくあるパスワードである",
    local: "メールボックス自身の名前を含んでいる",
    domain: "会社のドメイン名を含んでいる",
  },
  weakWhy:
    "弱いパスワードが漏れると、メールが迷惑メールの送信に使われ、メールサービスから送信を止められてしまうことがよくあります。" +
    "関係のない単語をいくつか組み合わせた長いパスワードをおすすめします。",
  acceptWeak: "理解しました",
  findServers: "サーバーを探す",
  finding: "サーバーを探しています…",
  foundVia: {
    preset: "メールサービスの設定",
    autoconfig: "ドメインの設定ファイル",
    srv: "ドメインの DNS レコード (SRV)",
    mx: "ドメインのメールを受け取るメールサービス",
    guess: "よく使われるサーバー名",
  },
  found: (how, detail, pop3) =>
    `${how}（${detail}）からサーバーを入力しました${pop3 ? "（POP3で受信）" : ""}。確かめてからテストしてください。`,
  notFound: "このアドレスのサーバーは見つかりませんでした。上でメールサービスを選ぶか、サーバーを入力してください。",
  testNow: "今すぐテスト",
  testing: "テスト中です…",
  save: "保存する",
  cancel: "キャンセル",
  testStagesLabel: "テストの進み具合",
  testOk: (folder, dur) => `メールは正常に届いています: テストメールは ${dur} で ${folder} に届きました`,
  serverSaid: "各手順の結果とサーバーの応答",

  historyTitle: "履歴",
  historyMailbox: "メールボックス",
  allMailboxes: "すべてのメールボックス",
  historyDays: "期間",
  lastDays: (n) => (n === 1 ? "過去 24 時間" : `過去 ${n} 日間`),
  noHistory: "この期間の確認記録はありません。",
  checks: "確認回数",
  uptime: "稼働率",
  p50: "通常の所要時間（中央値）",
  p95: "遅いときの所要時間（95 パーセンタイル）",
  chartSummary: (name, from, to, checks, failed, incidents) =>
    `${name} の各確認で、送信から到着までにかかった時間（${from}〜${to}）: 確認 ${checks} 回、` +
    `失敗 ${failed} 回（上端に表示）、障害 ${incidents} 件（網掛け）。`,
  chartFailed: "失敗",
  daysCaption: "日ごとの集計",
  day: "日付",
  incidentsCaption: "障害",
  cause: "原因",
  started: "開始",
  ended: "終了",
  ongoing: "継続中",
  duration: "継続時間",
  acknowledged: "確認済み",
  notAcked: "未確認",
  noIncidents: "この期間に障害はありませんでした。",
  failuresTitle: "失敗した確認",
  stageOk: "成功",
  stageFailed: "失敗",
  stageName: {
    dns: "サーバー名の検索",
    connect: "接続",
    tls: "暗号化接続 (TLS)",
    auth: "ログイン",
    send: "テストメールの送信",
    receive: "テストメールの受信",
    verify: "テストメールの照合",
    cleanup: "テストメールの削除",
  },
  exportCsv: "確認記録を書き出す (CSV)",
  exportHtml: "報告書を書き出す (HTML)",
  exported: (path) => `${path} に保存しました`,

  drillTitle: "訓練と手順書",
  drillExplain:
    "訓練とは、実際の通知経路で「訓練」と記した警報を送る予行演習です。誰かが気づき、何をすべきか分かっているかを確かめます。",
  drillMailbox: "訓練に使うメールボックス",
  startDrill: "訓練を始める",
  drillActive: (name, time) =>
    `${time} から ${name} の訓練を実施中です。警報に気づいたら「確認しました」を押してください。`,
  ackDrill: "確認しました",
  drillAcked: (dur) => `${dur} で確認されました。お疲れさまでした。`,
  runbookTitle: "手順書: メールが止まったときにすること",
  runbookIntro: "メールが使えるうちに書いておきましょう。訓練のときに表示され、履歴と一緒に保存されます。",
  runbook: {
    contact: "連絡する相手",
    provider_support: "メールサービスのサポート（電話・Web）",
    webmail: "Web メールのアドレス",
    backup_channel: "お客様への別の連絡手段",
    notes: "メモ",
  },
  saveRunbook: "手順書を保存する",
  drillsCaption: "過去の訓練",
  mailbox: "メールボックス",
  ackAfter: (dur) => `${dur} で確認`,
  notAcknowledged: "確認されませんでした",
  running: "実施中",
  noDrills: "まだ訓練を行っていません。",
  noMailboxForDrill: "先にメールボックスを追加してください。",

  settingsTitle: "設定",
  setting: {
    interval_minutes: "確認の間隔（分）",
    attachments_every_hours: "添付ファイルのテストの間隔（時間）",
    lang: "表示言語",
    notify: "デスクトップ通知を表示する",
    webhook_env: "Webhook: 環境変数の名前",
    webhook_format: "Webhook の形式",
    renotify_hours: "問題が続く間、再通知する間隔（時間）",
    metrics_addr: "Prometheus メトリクスのアドレス",
    start_at_login: "ログイン時に Mail Canary を起動する",
  },
  settingHint: {
    interval_minutes: "1〜1440 の範囲で指定します。",
    attachments_every_hours:
      "一部のファイアウォールが止めてしまう Excel・Word・PDF・ZIP の添付ファイルで送受信をテストします。0 でテストしません（最大 168）。",
    webhook_env:
      "Webhook の URL を入れた環境変数の「名前」です（例: MAILCANARY_WEBHOOK）。URL そのものは設定ファイルに残さないため、ここには書きません。空欄で使用しません。",
    renotify_hours: "0 で再通知しません。",
    metrics_addr:
      "このパソコン上の監視サーバー (Prometheus) 用です。ループバックアドレスとポートを指定します（例: 127.0.0.1:9898）。空欄で無効です。",
  },
  langAuto: "パソコンの設定に合わせる",
  saveSettings: "設定を保存する",
  settingErr: {
    interval_minutes: "1〜1440 の整数（分）を入力してください。",
    attachments_every_hours: "0〜168 の整数（時間）を入力してください。",
    renotify_hours: "0〜168 の整数（時間）を入力してください。",
    webhook_env: "環境変数の名前を入力してください（英数字と _、数字以外で始まる）。",
    webhookUrl: "URL そのものではなく、URL を入れた環境変数の名前を入力してください。",
    metrics_addr: "127.0.0.1:9898 のようなループバックアドレスとポートを入力するか、空欄にしてください。",
  },
};

const dicts: Record<Lang, Dict> = { en, ja };
let current: Lang = "en";

/** Switches the language of everything rendered from now on, and the document's `lang`. */
export function setLang(lang: Lang): void {
  current = lang === "ja" ? "ja" : "en";
  document.documentElement.lang = current;
}

export function lang(): Lang {
  return current;
}

/** The dictionary of the current language. */
export function t(): Dict {
  return dicts[current];
}

/** Findings in plain words. The vocabulary is crates/core's Category, plus a few synonyms. */
const categories: Record<Lang, Record<string, string>> = {
  en: {
    ok: "Mail is flowing",
    late: "The canary arrived late",
    junk: "Canary landed in Junk",
    junk_placement: "Canary landed in Junk",
    lost: "The canary did not arrive",
    attachment_blocked: "Mail with some attachments does not arrive",
    attachment_altered: "An attachment arrived removed or changed",
    download_interrupted: "Downloading a message broke off",
    canary_removed: "Something removed the canary before Mail Canary did",
    auth_failed: "The password was refused",
    auth_method_required: "The provider wants an app password or a different sign-in",
    account_locked: "The account is locked or suspended",
    send_blocked: "The provider blocks sending from this mailbox",
    sending_blocked: "The provider blocks sending from this mailbox",
    send_limited: "Sending is limited for now",
    mailbox_full: "The mailbox is full",
    quota_full: "The mailbox is full",
    quota_warning: "The mailbox is nearly full",
    notice_found: "A notice from the provider is waiting in the mailbox",
    tls_untrusted: "The server's certificate is not trusted",
    tls_expired: "The server's certificate has expired",
    tls_expiring: "The server's certificate expires soon",
    tls_intercepted: "Something on the network replaces the server's certificate",
    starttls_missing: "The server no longer offers a secure connection",
    dns_failed: "The server's name cannot be found",
    connect_failed: "The server cannot be reached",
    timeout: "The server did not answer in time",
    server_error: "The server reported an error",
    protocol_error: "The server answered something unexpected",
    config_error: "The settings are incomplete or wrong",
    network_firewall: "Something on the office network (a firewall?) interferes",
    offline: "This computer is offline",
  },
  ja: {
    ok: "メールは正常に届いています",
    late: "テストメールの到着が遅れています",
    junk: "テストメールが迷惑メールフォルダーに入りました",
    junk_placement: "テストメールが迷惑メールフォルダーに入りました",
    lost: "テストメールが届きませんでした",
    attachment_blocked: "特定の添付ファイル付きのメールが届きません",
    attachment_altered: "添付ファイルが削除または変更されて届きました",
    download_interrupted: "メールの受信が途中で切れました",
    canary_removed: "テストメールが Mail Canary 以外によって削除されました",
    auth_failed: "パスワードが受け付けられませんでした",
    auth_method_required: "アプリ パスワードなど別のログイン方法が求められています",
    account_locked: "アカウントがロックまたは停止されています",
    send_blocked: "メールサービスがこのメールボックスからの送信を止めています",
    sending_blocked: "メールサービスがこのメールボックスからの送信を止めています",
    send_limited: "現在、送信が制限されています",
    mailbox_full: "メールボックスの容量がいっぱいです",
    quota_full: "メールボックスの容量がいっぱいです",
    quota_warning: "メールボックスの容量が残りわずかです",
    notice_found: "メールサービスからのお知らせがメールボックスに届いています",
    tls_untrusted: "サーバーの証明書が信頼できません",
    tls_expired: "サーバーの証明書の有効期限が切れています",
    tls_expiring: "サーバーの証明書の有効期限がまもなく切れます",
    tls_intercepted: "ネットワーク上の何かがサーバーの証明書を差し替えています",
    starttls_missing: "サーバーが暗号化接続を提供しなくなりました",
    dns_failed: "サーバー名が見つかりません",
    connect_failed: "サーバーに接続できません",
    timeout: "サーバーが時間内に応答しませんでした",
    server_error: "サーバーがエラーを返しました",
    protocol_error: "サーバーから予期しない応答がありました",
    config_error: "設定が不完全か、間違っています",
    network_firewall: "事務所のネットワーク（ファイアウォールなど）が妨げています",
    offline: "このパソコンがインターネットにつながっていません",
  },
};

/** A finding's category in plain words; an unknown one is shown as it is. */
export function categoryText(category: string): string {
  return categories[current][category] ?? (current === "ja" ? `その他 (${category})` : `Other (${category})`);
}

/** "0.04 s", "2.1 s", "45 s", "3 min", "1 h 5 min" / "2.1 秒", "3 分", "1 時間 5 分". */
export function duration(ms: number): string {
  const d = t();
  if (ms < 1000) return `${(ms / 1000).toFixed(2)} ${d.sec}`;
  if (ms < 9950) return `${(ms / 1000).toFixed(1)} ${d.sec}`;
  if (ms < 59_500) return `${Math.round(ms / 1000)} ${d.sec}`;
  const minutes = Math.round(ms / 60_000);
  if (minutes < 60) return `${minutes} ${d.min}`;
  const h = Math.floor(minutes / 60);
  const m = minutes % 60;
  return m === 0 ? `${h} ${d.hour}` : `${h} ${d.hour} ${m} ${d.min}`;
}

/** A time of day in the app's language, e.g. "10:32 AM" / "10:32". */
export function time(ms: number): string {
  return new Date(ms).toLocaleTimeString(current, { hour: "numeric", minute: "2-digit" });
}

/** A date and time, e.g. "Nov 22, 10:32 AM" / "11月22日 10:32". */
export function dateTime(ms: number): string {
  return new Date(ms).toLocaleString(current, {
    month: "short",
    day: "numeric",
    hour: "numeric",
    minute: "2-digit",
  });
}

/** A short date, e.g. "Nov 22" / "11月22日". */
export function shortDate(ms: number): string {
  return new Date(ms).toLocaleDateString(current, { month: "short", day: "numeric" });
}

/** A percentage with one decimal ("99.5 %"), "–" for none. */
export function percent(p: number | null): string {
  return p === null ? "–" : `${p.toFixed(1)} %`;
}

/** One live step of a check in plain words, e.g. "Connecting to the sending server…". */
export function stageText(e: Pick<StageEvent, "stage" | "protocol" | "state">): string {
  const words = current === "ja" ? stageJa : stageEn;
  const role = t().role[e.protocol];
  const [started, ok, failed] = words[e.stage];
  const text = e.state === "started" ? started : e.state === "ok" ? ok : failed;
  return text.replace("{role}", role);
}

// [while it runs, when it went well, when it failed]
const stageEn: Record<StageName, [string, string, string]> = {
  dns: ["Looking up the {role}…", "Found the {role}", "Could not find the {role}"],
  connect: ["Connecting to the {role}…", "Connected to the {role}", "Could not connect to the {role}"],
  tls: ["Secure connection (TLS) to the {role}…", "Secure connection (TLS) to the {role}", "Secure connection (TLS) to the {role} failed"],
  auth: ["Login to the {role}…", "Login to the {role}", "Login to the {role} refused"],
  send: ["Sending the canary…", "Sending the canary", "Sending the canary failed"],
  receive: ["Waiting for the canary…", "The canary arrived", "The canary did not arrive"],
  verify: ["Checking the canary…", "Checking the canary", "The canary did not check out"],
  cleanup: ["Removing the canary…", "Removing the canary", "Could not remove the canary"],
};

const stageJa: Record<StageName, [string, string, string]> = {
  dns: ["{role}を探しています…", "{role}が見つかりました", "{role}が見つかりません"],
  connect: ["{role}に接続しています…", "{role}に接続しました", "{role}に接続できません"],
  tls: ["{role}と暗号化接続 (TLS) 中です…", "{role}との暗号化接続 (TLS)", "{role}との暗号化接続 (TLS) に失敗しました"],
  auth: ["{role}にログインしています…", "{role}へのログイン", "{role}へのログインが拒否されました"],
  send: ["テストメールを送信しています…", "テストメールの送信", "テストメールを送信できませんでした"],
  receive: ["テストメールの到着を待っています…", "テストメールが届きました", "テストメールが届きませんでした"],
  verify: ["テストメールを照合しています…", "テストメールの照合", "テストメールの照合に失敗しました"],
  cleanup: ["テストメールを削除しています…", "テストメールの削除", "テストメールを削除できませんでした"],
};
