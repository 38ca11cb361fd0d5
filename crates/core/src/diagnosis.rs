//! Plain-language texts for each category: a summary of what broke and an action for office
//! staff, in Japanese and English. The raw server reply travels separately as evidence.

use crate::notice::Notice;
use crate::report::TlsInfo;
use crate::{Category, Lang};

/// Facts a text may mention.
#[derive(Debug, Clone, Default)]
pub struct TextContext<'a> {
    /// The server involved, `host:port`.
    pub server: &'a str,
    /// "sending" or "receiving" side, as a protocol name (`smtp` / `imap`).
    pub protocol: &'a str,
    /// Folder where the canary was found.
    pub folder: &'a str,
    /// Canary latency in seconds.
    pub secs: f64,
    /// Whether receiving (IMAP login) worked in the same check.
    pub receiving_works: bool,
    /// Share of the storage quota in use, percent.
    pub quota_percent: f64,
    /// The mailbox signs in with OAuth2, not a password.
    pub oauth: bool,
}

fn side(lang: Lang, protocol: &str) -> &'static str {
    match (lang, protocol) {
        (Lang::Ja, "oauth") => "サインインサーバー",
        (Lang::En, "oauth") => "sign-in server",
        (Lang::Ja, "smtp") => "送信サーバー",
        (Lang::Ja, _) => "受信サーバー",
        (Lang::En, "smtp") => "sending server",
        (Lang::En, _) => "receiving server",
    }
}

/// The summary and the action for a category.
pub fn texts(category: Category, lang: Lang, c: &TextContext<'_>) -> (String, String) {
    use Category::*;
    let s = side(lang, c.protocol);
    let server = c.server;
    let (summary, action): (String, String) = match lang {
        Lang::En => match category {
            Ok => (
                format!("Mail is flowing: the test message arrived in {} after {:.2} s.", c.folder, c.secs),
                "Nothing to do.".into(),
            ),
            Late => (
                format!("Mail is slow: the test message took {:.0} s to arrive.", c.secs),
                "Customers may notice delays. If it continues, ask the mail provider whether they have delays.".into(),
            ),
            Junk => (
                format!("The test message arrived in the junk folder ({}), not the inbox. Customer mail may be landing there too.", c.folder),
                "Look through the junk folder for real messages, and mark the test message as \"not junk\" in webmail. Ask the provider why mail from this address is treated as spam.".into(),
            ),
            Lost => (
                "The test message was sent but never arrived. Incoming mail may be lost.".into(),
                "Check webmail (including its junk folder) for new mail. If nothing arrives there either, call the mail provider.".into(),
            ),
            AttachmentBlocked => (
                "Messages with some kinds of attachments do not arrive; ordinary messages do.".into(),
                "Something between the provider and this PC (a firewall or security box) is probably removing them. Ask whoever manages the firewall.".into(),
            ),
            AttachmentAltered => (
                "An attachment arrived removed or changed.".into(),
                "Ask whoever manages the firewall or mail filter whether it rewrites attachments.".into(),
            ),
            DownloadInterrupted => (
                "The connection broke while a message was being downloaded.".into(),
                "If this repeats for the same kind of message, a firewall is probably cutting it off. Ask whoever manages it.".into(),
            ),
            CanaryRemoved => (
                "A test message disappeared from the server before Mail Canary removed it.".into(),
                "Another mail program or a server rule may be deleting mail. Check the mail programs' settings.".into(),
            ),
            AuthFailed => (
                format!("The {s} ({server}) refused the password."),
                "If the password was changed recently, enter the new one in Mail Canary. Otherwise sign in to webmail to check the account.".into(),
            ),
            AuthMethodRequired => (
                format!("The {s} ({server}) no longer accepts the ordinary password from mail programs."),
                "Create an app password in the provider's account settings (or use the provider's sign-in), and enter it in Mail Canary.".into(),
            ),
            AccountLocked => (
                format!("The provider has locked this account ({s}, {server})."),
                "Sign in to webmail, or look for a notice from the provider (also in the junk folder), to unlock it. Change the password if it may have leaked.".into(),
            ),
            SendBlocked => (
                if c.receiving_works {
                    "Sending is blocked by the provider; receiving still works. Providers do this when a password has leaked and the account sent spam.".into()
                } else {
                    "Sending is blocked by the provider. Providers do this when a password has leaked and the account sent spam.".into()
                },
                "Change the mailbox password, scan the PCs for viruses, then look for the provider's notice (also in the junk folder) with the unlock steps, or call the provider.".into(),
            ),
            SendLimited => (
                "The provider is limiting how much this mailbox may send for now.".into(),
                "Wait; sending resumes within a day. If nobody sent bulk mail, change the password: it may have leaked.".into(),
            ),
            MailboxFull => (
                if c.quota_percent > 0.0 {
                    format!("The mailbox is full ({:.0} % of its space is used); new mail is being refused.", c.quota_percent)
                } else {
                    "The mailbox is full; new mail is being refused.".into()
                },
                "Delete or archive old mail (empty the trash too) in webmail or the mail program.".into(),
            ),
            QuotaWarning => (
                format!("The mailbox is nearly full ({:.0} % of its space is used); soon new mail will be refused.", c.quota_percent),
                "Delete or archive old mail soon.".into(),
            ),
            NoticeFound => (
                "A notice from the mail provider is waiting in the mailbox.".into(),
                "Read it in webmail; it may contain steps you need to take.".into(),
            ),
            TlsUntrusted => (
                format!("The {s} ({server}) showed a certificate this PC does not trust. The connection may not be safe."),
                "Do not enter passwords elsewhere until this is explained. Ask the provider or IT support; if the server uses a private certificate, give Mail Canary its CA file.".into(),
            ),
            TlsExpired => (
                format!("The certificate of the {s} ({server}) has expired."),
                "Tell the mail provider; mail programs will show warnings until they renew it.".into(),
            ),
            TlsExpiring => (
                format!("The certificate of the {s} ({server}) expires soon."),
                "Tell the mail provider so they renew it in time.".into(),
            ),
            TlsIntercepted => (
                format!("Something between this PC and the {s} ({server}) replaces its certificate."),
                "A firewall or security program is probably inspecting mail. Ask whoever manages it.".into(),
            ),
            StarttlsMissing => (
                format!("The {s} ({server}) did not offer encryption (STARTTLS), so Mail Canary did not send the password."),
                "Something may be stripping encryption on the way. Ask the provider or whoever manages the firewall.".into(),
            ),
            DnsFailed => (
                format!("The name of the {s} ({server}) cannot be looked up."),
                "Check that the internet works on this PC. If it does, check the server name in the settings, or ask the provider.".into(),
            ),
            ConnectFailed => (
                format!("The {s} ({server}) cannot be reached."),
                "Check that the internet works on this PC. If it does, the provider may be down: check their status page or call them.".into(),
            ),
            Timeout => (
                format!("The {s} ({server}) stopped answering."),
                "The provider may be overloaded or down. If it lasts, check their status page or call them.".into(),
            ),
            ServerError => (
                format!("The {s} ({server}) reported an error of its own."),
                "Usually temporary. If it lasts, tell the provider and show them the server's reply.".into(),
            ),
            ProtocolError => (
                format!("The {s} ({server}) answered something Mail Canary does not understand."),
                "Check the server name and port in the settings. If they are right, something in between may interfere.".into(),
            ),
            ConfigError => (
                "Mail Canary's settings for this mailbox are incomplete or wrong.".into(),
                "Open the settings and correct the highlighted field.".into(),
            ),
        },
        Lang::Ja => match category {
            Ok => (
                format!("メールは正常に届いています（テストメールは {:.2} 秒で {} に届きました）。", c.secs, c.folder),
                "対応は不要です。".into(),
            ),
            Late => (
                format!("メールの配送が遅れています（テストメールが届くまで {:.0} 秒かかりました）。", c.secs),
                "お客様へのメールが遅れる可能性があります。続くようならメール事業者に遅延がないか問い合わせてください。".into(),
            ),
            Junk => (
                format!("テストメールが受信トレイではなく迷惑メールフォルダ（{}）に入りました。お客様のメールも入っているかもしれません。", c.folder),
                "迷惑メールフォルダに大事なメールがないか確認し、Web メールでテストメールを「迷惑メールではない」にしてください。迷惑メール扱いの理由をメール事業者に問い合わせてください。".into(),
            ),
            Lost => (
                "テストメールを送りましたが、届きませんでした。受信メールが失われている可能性があります。".into(),
                "Web メール（迷惑メールフォルダも）に新しいメールが届いているか確認し、届いていなければメール事業者に連絡してください。".into(),
            ),
            AttachmentBlocked => (
                "特定の種類の添付ファイル付きメールだけが届きません。普通のメールは届いています。".into(),
                "事業者とこのパソコンの間の機器（ファイアウォールやセキュリティ装置）が取り除いている可能性があります。機器の管理者に相談してください。".into(),
            ),
            AttachmentAltered => (
                "添付ファイルが取り除かれたか、書き換えられて届きました。".into(),
                "ファイアウォールやメールフィルターが添付ファイルを書き換えていないか、管理者に確認してください。".into(),
            ),
            DownloadInterrupted => (
                "メールの受信中に接続が切れました。".into(),
                "同じ種類のメールで繰り返すなら、ファイアウォールが切断している可能性があります。管理者に相談してください。".into(),
            ),
            CanaryRemoved => (
                "Mail Canary が消す前に、テストメールがサーバーから消えました。".into(),
                "別のメールソフトやサーバーの振り分け設定がメールを削除している可能性があります。各パソコンのメールソフトの設定を確認してください。".into(),
            ),
            AuthFailed => (
                format!("{s}（{server}）がパスワードを受け付けませんでした。"),
                "最近パスワードを変えたなら、新しいパスワードを Mail Canary に入力してください。そうでなければ Web メールにログインしてアカウントを確認してください。".into(),
            ),
            AuthMethodRequired => (
                format!("{s}（{server}）は、メールソフトからの通常のパスワードでのログインを受け付けなくなりました。"),
                "事業者のアカウント設定でアプリパスワードを作成し（または事業者のサインインを使い）、Mail Canary に入力してください。".into(),
            ),
            AccountLocked => (
                format!("メール事業者がこのアカウントをロックしています（{s}、{server}）。"),
                "Web メールにログインするか、事業者からのお知らせ（迷惑メールフォルダも）を探してロックを解除してください。パスワードが漏れた可能性があれば変更してください。".into(),
            ),
            SendBlocked => (
                if c.receiving_works {
                    "メール事業者が送信を止めています。受信はできています。パスワードが漏れて迷惑メールの送信に使われたときに、事業者はこうします。".into()
                } else {
                    "メール事業者が送信を止めています。パスワードが漏れて迷惑メールの送信に使われたときに、事業者はこうします。".into()
                },
                "メールのパスワードを変更し、パソコンのウイルス検査をしてから、事業者からのお知らせ（迷惑メールフォルダも）にある解除手順に従うか、事業者に電話してください。".into(),
            ),
            SendLimited => (
                "メール事業者が、このメールアドレスから送れる量を一時的に制限しています。".into(),
                "しばらく待つと（長くて 1 日）送れるようになります。誰も大量送信していないなら、パスワードが漏れた可能性があるので変更してください。".into(),
            ),
            MailboxFull => (
                if c.quota_percent > 0.0 {
                    format!("メールボックスが満杯で（容量の {:.0} % を使用）、新しいメールを受け取れません。", c.quota_percent)
                } else {
                    "メールボックスが満杯で、新しいメールを受け取れません。".into()
                },
                "Web メールかメールソフトで古いメールを削除・整理してください（ごみ箱も空にしてください）。".into(),
            ),
            QuotaWarning => (
                format!("メールボックスの空きが少なくなっています（容量の {:.0} % を使用）。満杯になると新しいメールを受け取れません。", c.quota_percent),
                "早めに古いメールを削除・整理してください。".into(),
            ),
            NoticeFound => (
                "メール事業者からのお知らせがメールボックスに届いています。".into(),
                "Web メールで読んでください。必要な手続きが書かれているかもしれません。".into(),
            ),
            TlsUntrusted => (
                format!("{s}（{server}）が、このパソコンが信頼しない証明書を示しました。安全な接続ではないかもしれません。"),
                "原因がわかるまで、ほかの場所でもパスワードを入力しないでください。事業者か IT 担当に相談してください。独自の証明書を使うサーバーなら、その CA ファイルを Mail Canary に設定してください。".into(),
            ),
            TlsExpired => (
                format!("{s}（{server}）の証明書の有効期限が切れています。"),
                "メール事業者に連絡してください。更新されるまでメールソフトで警告が出ます。".into(),
            ),
            TlsExpiring => (
                format!("{s}（{server}）の証明書の有効期限が近づいています。"),
                "期限までに更新するよう、メール事業者に連絡してください。".into(),
            ),
            TlsIntercepted => (
                format!("このパソコンと{s}（{server}）の間で、何かが証明書を差し替えています。"),
                "ファイアウォールやセキュリティソフトがメールを検査している可能性があります。管理者に相談してください。".into(),
            ),
            StarttlsMissing => (
                format!("{s}（{server}）が暗号化（STARTTLS）を提示しなかったため、パスワードを送りませんでした。"),
                "途中で暗号化が外されている可能性があります。事業者かファイアウォールの管理者に相談してください。".into(),
            ),
            DnsFailed => (
                format!("{s}（{server}）の名前を引けません。"),
                "このパソコンでインターネットが使えるか確認してください。使えるなら、設定のサーバー名を確認するか事業者に問い合わせてください。".into(),
            ),
            ConnectFailed => (
                format!("{s}（{server}）に接続できません。"),
                "このパソコンでインターネットが使えるか確認してください。使えるなら事業者側の障害かもしれません。障害情報を確認するか、事業者に連絡してください。".into(),
            ),
            Timeout => (
                format!("{s}（{server}）から応答がなくなりました。"),
                "事業者側が混雑しているか止まっている可能性があります。続くようなら障害情報を確認するか、事業者に連絡してください。".into(),
            ),
            ServerError => (
                format!("{s}（{server}）がサーバー側のエラーを返しました。"),
                "多くは一時的です。続くようなら、サーバーの応答を添えて事業者に連絡してください。".into(),
            ),
            ProtocolError => (
                format!("{s}（{server}）から理解できない応答が返りました。"),
                "設定のサーバー名とポート番号を確認してください。正しければ、途中の機器が通信を妨げている可能性があります。".into(),
            ),
            ConfigError => (
                "このメールボックスの Mail Canary の設定が不完全か、間違っています。".into(),
                "設定を開き、示された項目を直してください。".into(),
            ),
        },
    };
    if category == AuthFailed && (c.oauth || c.protocol == "oauth") {
        return oauth_texts(lang, c);
    }
    if c.protocol == "pop3" {
        return pop3_texts(category, lang, summary, action);
    }
    (summary, action)
}

/// A refused sign-in of a mailbox that signs in with OAuth2: at the provider's token endpoint
/// (revoked or expired), or at a mail server that refused the token.
fn oauth_texts(lang: Lang, c: &TextContext<'_>) -> (String, String) {
    let s = side(lang, c.protocol);
    let server = c.server;
    // Google ends every sign-in of an app whose consent screen is still in Testing after
    // 7 days: the same finding once a week.
    let google_token_host = crate::config::OAuthProvider::Google
        .defaults(false)
        .1
        .trim_start_matches("https://")
        .split('/')
        .next();
    let google = c.protocol == "oauth" && c.server.split(':').next() == google_token_host;
    let (summary, mut action): (String, String) = match (lang, c.protocol) {
        (Lang::En, "oauth") => (
            "The sign-in for this mailbox was revoked or has expired, so Mail Canary cannot check it.".into(),
            "Sign in again: \"Sign in again\" in Mail Canary's window, or `mailcanary mailbox signin NAME`.".into(),
        ),
        (Lang::En, _) => (
            format!("The {s} ({server}) refused the sign-in."),
            "Sign in again. If it repeats, ask whoever manages the account whether IMAP, POP3 or SMTP sign-in is allowed for this mailbox.".into(),
        ),
        (Lang::Ja, "oauth") => (
            "このメールボックスのサインインが取り消されたか期限切れのため、確認できません。".into(),
            "もう一度サインインしてください（Mail Canary の画面の「もう一度サインイン」、または `mailcanary mailbox signin 名前`）。".into(),
        ),
        (Lang::Ja, _) => (
            format!("{s}（{server}）がサインインを受け付けませんでした。"),
            "もう一度サインインしてください。続くようなら、アカウントの管理者に IMAP・POP3・SMTP でのサインインが許可されているか確認してください。".into(),
        ),
    };
    if google {
        action.push_str(match lang {
            Lang::En => " If this comes back about a week after each sign-in, the app registered in Google Cloud is still in Testing, where Google ends sign-ins after 7 days: publish it (In production), as docs/OAUTH.md says.",
            Lang::Ja => " サインインのたびに約1週間後にまた起きる場合は、Google Cloud に登録したアプリが「テスト中」のままです（Google はテスト中のアプリのサインインを7日で終了します）。docs/OAUTH.md のとおり「本番環境」に公開してください。",
        });
    }
    (summary, action)
}

/// POP3 sees the inbox only, and another POP3 program may take mail off the server: the texts
/// of a mailbox read over POP3 say so where it matters.
fn pop3_texts(category: Category, lang: Lang, summary: String, action: String) -> (String, String) {
    use Category::*;
    match (lang, category) {
        (Lang::En, Ok) => (
            summary,
            "Nothing to do. (Read over POP3, Mail Canary sees the inbox only, not the junk folder: glance at the junk folder in webmail now and then.)".into(),
        ),
        (Lang::En, Lost) => (
            "The test message was sent but never arrived in the inbox. Incoming mail may be lost, or be going to the junk folder, which Mail Canary cannot see over POP3.".into(),
            "Check webmail's junk folder first. If the test messages are not there either, call the mail provider.".into(),
        ),
        (Lang::En, CanaryRemoved) => (
            "Another mail program seems to be taking mail off the server: messages disappeared between two looks. Mail it takes will not reach the other PCs.".into(),
            "If the office reads mail on more than one PC, set every mail program to leave a copy of messages on the server (\"Leave a copy of messages on the server\").".into(),
        ),
        (Lang::Ja, Ok) => (
            summary,
            "対応は不要です。（POP3 で受信しているため、Mail Canary には受信トレイしか見えません。ときどき Web メールで迷惑メールフォルダを確認してください。）".into(),
        ),
        (Lang::Ja, Lost) => (
            "テストメールを送りましたが、受信トレイに届きませんでした。受信メールが失われているか、Mail Canary が POP3 では見られない迷惑メールフォルダに入っている可能性があります。".into(),
            "まず Web メールの迷惑メールフォルダを確認してください。そこにもなければメール事業者に連絡してください。".into(),
        ),
        (Lang::Ja, CanaryRemoved) => (
            "別のメールソフトがサーバーからメールを取り出して削除しているようです（見るたびにメールが消えています）。そのメールはほかのパソコンには届きません。".into(),
            "複数のパソコンでメールを読んでいるなら、すべてのメールソフトで「サーバーにメッセージのコピーを置く」を有効にしてください。".into(),
        ),
        _ => (summary, action),
    }
}

/// The summary and action for a provider notice or bounce found in the mailbox.
pub fn notice_texts(n: &Notice, lang: Lang) -> (String, String) {
    let (subject, from, date, folder) = (&n.subject, &n.from, &n.date, &n.folder);
    match (lang, n.kind.as_str()) {
        (Lang::En, "bounce") => (
            format!(
                "A message about undelivered mail, \u{201c}{subject}\u{201d} from {from} ({date}), is in {folder}."
            ),
            "Open it to see which message did not go out and why.".to_string(),
        ),
        (Lang::Ja, "bounce") => (
            format!(
                "配信できなかったメールのお知らせ「{subject}」（{from}、{date}）が {folder} にあります。"
            ),
            "開いて、どのメールがなぜ届かなかったかを確認してください。".to_string(),
        ),
        (Lang::En, _) => {
            let trust = match n.trusted {
                Some(true) => "Its sender's domain passed DKIM/SPF checks.",
                Some(false) => "Its sender could NOT be verified (DKIM/SPF): it may be phishing.",
                None => "It carries no sender verification results.",
            };
            let summary = if n.in_junk {
                format!(
                    "The provider's notice \u{201c}{subject}\u{201d} from {from} ({date}) is in the junk folder ({folder}) \u{2014} staff may never have seen it."
                )
            } else {
                format!(
                    "A notice from the provider, \u{201c}{subject}\u{201d} from {from} ({date}), is in {folder}."
                )
            };
            (
                summary,
                format!(
                    "Read it in webmail; it may say what to do. {trust} Do not click links in it: sign in to the provider's website yourself."
                ),
            )
        }
        (Lang::Ja, _) => {
            let trust = match n.trusted {
                Some(true) => "送信元ドメインは DKIM/SPF の検証に合格しています。",
                Some(false) => {
                    "送信元を検証できませんでした（DKIM/SPF）。なりすまし（フィッシング）の可能性があります。"
                }
                None => "送信元の検証結果はありません。",
            };
            let summary = if n.in_junk {
                format!(
                    "メール事業者からのお知らせ「{subject}」（{from}、{date}）が迷惑メールフォルダ（{folder}）に入っています。誰も読んでいないかもしれません。"
                )
            } else {
                format!(
                    "メール事業者からのお知らせ「{subject}」（{from}、{date}）が {folder} にあります。"
                )
            };
            (
                summary,
                format!(
                    "Web メールで読んでください。必要な手続きが書かれているかもしれません。{trust}メール内のリンクは開かず、事業者のサイトに自分でログインしてください。"
                ),
            )
        }
    }
}

fn side_of(lang: Lang, t: &TlsInfo) -> &'static str {
    side(lang, t.protocol.as_str())
}

/// Summary and action for a certificate that expires soon.
pub fn tls_expiring_texts(lang: Lang, t: &TlsInfo) -> (String, String) {
    let (server, days, date) = (
        &t.server,
        t.days_left,
        &t.not_after[..10.min(t.not_after.len())],
    );
    match lang {
        Lang::En => (
            format!("The certificate of the {} ({server}) expires in {days} days ({date}).", side_of(lang, t)),
            "Tell the mail provider so they renew it in time; after that date mail programs will refuse to connect.".into(),
        ),
        Lang::Ja => (
            format!("{}（{server}）の証明書は {days} 日後（{date}）に期限切れになります。", side_of(lang, t)),
            "期限までに更新するよう、メール事業者に連絡してください。期限を過ぎるとメールソフトが接続を拒否します。".into(),
        ),
    }
}

/// Summary and action for a certificate whose issuer changed since the last good check.
pub fn tls_intercepted_texts(lang: Lang, t: &TlsInfo, old_issuer: &str) -> (String, String) {
    let (server, new_issuer) = (&t.server, &t.issuer);
    match lang {
        Lang::En => (
            format!("The certificate of the {} ({server}) is now issued by \u{201c}{new_issuer}\u{201d} instead of \u{201c}{old_issuer}\u{201d}. Something between this PC and the server may be re-signing the connection.", side_of(lang, t)),
            "Ask whoever manages the firewall or security software whether it inspects mail (TLS inspection). If nobody changed anything, ask the provider whether they changed certificates; until then, treat the connection as not private.".into(),
        ),
        Lang::Ja => (
            format!("{}（{server}）の証明書の発行者が「{old_issuer}」から「{new_issuer}」に変わりました。このパソコンとサーバーの間の何かが通信を再署名している可能性があります。", side_of(lang, t)),
            "ファイアウォールやセキュリティソフトがメールを検査（TLS インスペクション）していないか、管理者に確認してください。誰も変更していなければ、事業者に証明書を変えたか問い合わせてください。それまでは通信が保護されていないものと考えてください。".into(),
        ),
    }
}

/// Summary and action for attachment variants that failed while the plain canary arrived;
/// `list` names the kinds of file ("password-protected ZIP files or …").
pub fn attachment_texts(category: Category, lang: Lang, list: &str) -> (String, String) {
    match (lang, category) {
        (Lang::En, Category::AttachmentAltered) => (
            format!("Messages with {list} arrive with the attachment removed or changed; ordinary messages are fine."),
            "Something between the provider and this PC (a firewall, security box or mail filter) is probably rewriting them. Ask whoever manages it; meanwhile ask senders for another way to share such files.".into(),
        ),
        (Lang::En, Category::DownloadInterrupted) => (
            format!("The connection breaks while messages with {list} are being downloaded; ordinary messages are fine."),
            "A firewall or security box that inspects mail is probably cutting them off. Mail programs may then lose these messages. Ask whoever manages it.".into(),
        ),
        (Lang::En, _) => (
            format!("Messages with {list} do not arrive; ordinary messages do. Something between the provider and this PC (a firewall or security box) is probably removing them."),
            "Ask whoever manages the firewall or security box whether it filters attachments (\u{201c}mail inspection\u{201d}). Check webmail: if the messages are there, the loss happens on this side. Tell customers to use another way to send such files until it is fixed.".into(),
        ),
        (Lang::Ja, Category::AttachmentAltered) => (
            format!("{list}が付いたメールは、添付ファイルが取り除かれたか書き換えられて届きます。普通のメールは問題ありません。"),
            "事業者とこのパソコンの間の機器（ファイアウォール、セキュリティ装置、メールフィルター）が書き換えている可能性があります。管理者に相談し、それまでは別の方法でファイルを受け取ってください。".into(),
        ),
        (Lang::Ja, Category::DownloadInterrupted) => (
            format!("{list}が付いたメールを受信している途中で接続が切れます。普通のメールは問題ありません。"),
            "メールを検査するファイアウォールやセキュリティ装置が切断している可能性があります。メールソフトがこれらのメールを失うことがあります。管理者に相談してください。".into(),
        ),
        (Lang::Ja, _) => (
            format!("{list}が付いたメールが届きません。普通のメールは届いています。事業者とこのパソコンの間の機器（ファイアウォールやセキュリティ装置）が取り除いている可能性があります。"),
            "ファイアウォールやセキュリティ装置の管理者に、添付ファイルを検査・除去する機能（メール検査）が有効になっていないか確認してください。Web メールに届いていれば、失われているのはこちら側です。直るまで、お客様には別の方法でファイルを送ってもらってください。".into(),
        ),
    }
}

/// "3 of 3 password-protected ZIP files canaries failed since 2026-11-20" as a sentence.
pub fn regularity_text(lang: Lang, human: &str, failed: u32, total: u32, since: &str) -> String {
    match lang {
        Lang::En => {
            format!(" {failed} of {total} test messages with {human} have failed since {since}.")
        }
        Lang::Ja => format!(
            "{since}以降、{human}付きのテストメール {total} 通中 {failed} 通が失敗しています。"
        ),
    }
}

/// A pointer to a notice, appended to the action of a lockout finding.
pub fn notice_pointer(n: &Notice, lang: Lang) -> String {
    match (lang, n.in_junk) {
        (Lang::En, true) => format!(
            " The provider's notice \u{201c}{}\u{201d} is in the junk folder ({}).",
            n.subject, n.folder
        ),
        (Lang::En, false) => format!(
            " The provider's notice \u{201c}{}\u{201d} is in {}.",
            n.subject, n.folder
        ),
        (Lang::Ja, true) => format!(
            "事業者からのお知らせ「{}」が迷惑メールフォルダ（{}）に入っています。",
            n.subject, n.folder
        ),
        (Lang::Ja, false) => format!(
            "事業者からのお知らせ「{}」が {} にあります。",
            n.subject, n.folder
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_category_has_texts_in_both_languages() {
        let ctx = TextContext {
            server: "smtp.example.jp:587",
            protocol: "smtp",
            folder: "INBOX",
            secs: 0.21,
            receiving_works: true,
            quota_percent: 91.0,
            oauth: false,
        };
        for (protocol, oauth, want) in [
            ("oauth", true, "Sign in again"),
            ("imap", true, "refused the sign-in"),
        ] {
            let c = TextContext {
                protocol,
                oauth,
                ..ctx.clone()
            };
            let (s, a) = texts(Category::AuthFailed, Lang::En, &c);
            assert!(s.contains(want) || a.contains(want), "{s} {a}");
            assert!(!s.contains("password"), "{s}");
            assert!(!a.contains("Testing"), "not Google's token endpoint: {a}");
        }
        // Google's token endpoint: the weekly end of a Testing app's sign-ins is named.
        for (lang, want) in [(Lang::En, "7 days"), (Lang::Ja, "7日")] {
            let c = TextContext {
                protocol: "oauth",
                oauth: true,
                server: "oauth2.googleapis.com:443",
                ..ctx.clone()
            };
            let (_, a) = texts(Category::AuthFailed, lang, &c);
            assert!(a.contains(want) && a.contains("docs/OAUTH.md"), "{a}");
        }
        for c in Category::ALL {
            for lang in [Lang::En, Lang::Ja] {
                let (s, a) = texts(*c, lang, &ctx);
                assert!(s.len() > 10 && a.len() > 5, "{c} {lang:?}");
                if lang == Lang::Ja {
                    assert!(!s.is_ascii(), "{c}: Japanese summary is Japanese");
                }
            }
        }
        let (s, _) = texts(Category::SendBlocked, Lang::En, &ctx);
        assert!(s.starts_with("Sending is blocked by the provider; receiving still works."));
        let (s, _) = texts(Category::AuthFailed, Lang::Ja, &ctx);
        assert!(s.contains("送信サーバー（smtp.example.jp:587）"), "{s}");
    }
}
