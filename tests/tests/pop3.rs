//! The POP3 client against the harness's real Dovecot: STLS and implicit TLS, a refused login
//! with its response code, UIDL, TOP, RETR of a message with dot-stuffed lines (byte for
//! byte), DELE applied at QUIT and only then.

use std::time::Duration;

use mailcanary_engine::core::Category;
use mailcanary_engine::net::{self, MailStream};
use mailcanary_engine::pop3::Pop3Conn;
use mailcanary_engine::tls;
use mailcanary_tests::MailServer;
use secrecy::SecretString;

const USER: &str = "pop@example.test";
const PASSWORD: &str = "pop3-test-password-5";
const LIMIT: Duration = Duration::from_secs(10);

/// A message with lines that start with a dot, which POP3 must stuff and the client unstuff.
const DOTTED: &str = "From: customer@example.jp\r\nTo: pop@example.test\r\nSubject: dots\r\n\
Message-ID: <dots@example.jp>\r\n\r\n.leading dot\r\n..two dots\r\n.\r\nend\r\n";

async fn starttls(ms: &MailServer) -> Pop3Conn {
    let tcp = tokio::net::TcpStream::connect(("127.0.0.1", ms.port("MS_POP3_PORT")))
        .await
        .unwrap();
    let mut c = Pop3Conn::greet(MailStream::plain(tcp), LIMIT)
        .await
        .unwrap();
    let caps = c.capa().await.unwrap().to_vec();
    for cap in ["STLS", "UIDL", "TOP", "USER"] {
        assert!(caps.iter().any(|c| c == cap), "{cap} in {caps:?}");
    }
    let tcp = c.stls().await.unwrap();
    let roots = tls::load_ca_file(&ms.ca_file()).unwrap();
    let stream = net::tls_handshake(tls::client_config(roots).unwrap(), "localhost", tcp)
        .await
        .unwrap();
    Pop3Conn::resumed(stream, LIMIT)
}

#[test]
fn a_pop3_session_lists_reads_downloads_and_deletes_as_a_mail_program_does() {
    let ms = MailServer::start();
    ms.add_user(USER, PASSWORD);
    ms.deliver(
        USER,
        "INBOX",
        "From: a@example.jp\r\nTo: pop@example.test\r\nSubject: first\r\n\r\nhello\r\n",
    );
    ms.deliver(USER, "INBOX", DOTTED);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        // A wrong password: refused with the response code, classified.
        let mut c = starttls(&ms).await;
        let wrong = SecretString::from("not-the-password".to_string());
        let f = c.login(USER, &wrong).await.unwrap_err();
        assert_eq!(f.category, Category::AuthFailed, "{}", f.evidence);
        assert!(f.evidence.contains("[AUTH]"), "{}", f.evidence);

        let mut c = starttls(&ms).await;
        c.login(USER, &SecretString::from(PASSWORD.to_string()))
            .await
            .unwrap();
        let list = c.uidl().await.unwrap();
        assert_eq!(list.len(), 2, "{list:?}");
        let top = String::from_utf8(c.top(1).await.unwrap()).unwrap();
        assert!(top.contains("Subject: first"), "{top}");
        assert!(!top.contains("hello"), "headers only: {top}");
        let full = c.retr(2).await.unwrap();
        let text = String::from_utf8(full).unwrap();
        let body = &text[text.find("\r\n\r\n").unwrap()..];
        assert!(
            body.ends_with("\r\n\r\n.leading dot\r\n..two dots\r\n.\r\nend\r\n"),
            "dot-unstuffed: {body:?}"
        );
        // DELE takes effect at QUIT: a session opened meanwhile still sees both.
        c.dele(1).await.unwrap();
        let tcp = tokio::net::TcpStream::connect(("127.0.0.1", ms.port("MS_POP3S_PORT")))
            .await
            .unwrap();
        let roots = tls::load_ca_file(&ms.ca_file()).unwrap();
        let stream = net::tls_handshake(tls::client_config(roots).unwrap(), "localhost", tcp)
            .await
            .unwrap();
        let mut other = Pop3Conn::greet(stream, LIMIT).await.unwrap();
        other
            .login(USER, &SecretString::from(PASSWORD.to_string()))
            .await
            .unwrap();
        assert_eq!(other.uidl().await.unwrap().len(), 2);
        other.quit().await.unwrap();
        c.quit().await.unwrap();
        let mut after = starttls(&ms).await;
        after
            .login(USER, &SecretString::from(PASSWORD.to_string()))
            .await
            .unwrap();
        let left = after.uidl().await.unwrap();
        assert_eq!(left.len(), 1);
        assert_eq!(left[0].1, list[1].1, "the other message, same unique id");
        after.quit().await.unwrap();
    });
}
