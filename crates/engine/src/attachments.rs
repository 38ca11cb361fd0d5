//! The files attachment probes carry, built in code so that every byte is explained: a PDF,
//! a Word document, a macro-enabled Excel workbook (with a VBA project part that holds no
//! module, so no code at all), password-protected ZIPs (ZipCrypto and AES), a ZIP holding a
//! file named like a program (its content is plain text), and a large file of pseudo-random
//! bytes. Filters that look at names, types or encryption flags treat them as they would treat
//! the real thing; none of them can do anything when opened.

use std::io::{Cursor, Write};

use mailcanary_core::canary::Attachment;
use mailcanary_core::probes::ProbeKind;
use zip::write::SimpleFileOptions;

/// The password of the protected ZIPs (they protect nothing; it is only for the flag).
const ZIP_PASSWORD: &str = "mailcanary";

/// Size of the large attachment.
pub const LARGE_BYTES: usize = 10 * 1024 * 1024;

/// Builds the attachment for a variant.
pub fn build(kind: ProbeKind) -> Attachment {
    let (filename, content_type, bytes) = match kind {
        ProbeKind::Pdf => ("invoice.pdf", "application/pdf", pdf()),
        ProbeKind::Docx => (
            "report.docx",
            "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
            docx(),
        ),
        ProbeKind::Xlsm => (
            "estimate.xlsm",
            "application/vnd.ms-excel.sheet.macroEnabled.12",
            xlsm(),
        ),
        ProbeKind::ZipZipcrypto => (
            "documents.zip",
            "application/zip",
            protected_zip(Protection::ZipCrypto),
        ),
        ProbeKind::ZipAes => (
            "documents-aes.zip",
            "application/zip",
            protected_zip(Protection::Aes),
        ),
        ProbeKind::ZipExe => ("invoice.zip", "application/zip", exe_zip()),
        ProbeKind::Large => ("large-test-file.bin", "application/octet-stream", large()),
    };
    Attachment {
        kind: kind.as_str().to_string(),
        filename: filename.to_string(),
        content_type: content_type.to_string(),
        bytes,
    }
}

const NOTE: &str = "Mail Canary test file. It checks that attachments of this kind reach the \
                    mailbox; it can be deleted.";

/// A one-page PDF 1.4 with one line of text; offsets in the cross-reference table are computed.
fn pdf() -> Vec<u8> {
    let content = format!("BT /F1 14 Tf 72 770 Td ({NOTE}) Tj ET");
    let objects = [
        "<< /Type /Catalog /Pages 2 0 R >>".to_string(),
        "<< /Type /Pages /Kids [3 0 R] /Count 1 >>".to_string(),
        "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R \
         /Resources << /Font << /F1 5 0 R >> >> >>"
            .to_string(),
        format!(
            "<< /Length {} >>\nstream\n{content}\nendstream",
            content.len()
        ),
        "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>".to_string(),
    ];
    let mut out = b"%PDF-1.4\n".to_vec();
    let mut offsets = Vec::new();
    for (i, body) in objects.iter().enumerate() {
        offsets.push(out.len());
        out.extend_from_slice(format!("{} 0 obj\n{body}\nendobj\n", i + 1).as_bytes());
    }
    let xref = out.len();
    out.extend_from_slice(
        format!("xref\n0 {}\n0000000000 65535 f \n", objects.len() + 1).as_bytes(),
    );
    for o in offsets {
        out.extend_from_slice(format!("{o:010} 00000 n \n").as_bytes());
    }
    out.extend_from_slice(
        format!(
            "trailer\n<< /Size {} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n",
            objects.len() + 1
        )
        .as_bytes(),
    );
    out
}

fn zip_of(files: &[(&str, &[u8])], options: SimpleFileOptions) -> Vec<u8> {
    let mut w = zip::ZipWriter::new(Cursor::new(Vec::new()));
    for (name, bytes) in files {
        w.start_file(*name, options).expect("in-memory zip");
        w.write_all(bytes).expect("in-memory zip");
    }
    w.finish().expect("in-memory zip").into_inner()
}

fn deflated() -> SimpleFileOptions {
    SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated)
        .last_modified_time(zip::DateTime::default())
}

const RELS_HEAD: &str = r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">"#;

/// A minimal Word document: one paragraph.
fn docx() -> Vec<u8> {
    let types = r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">
<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>
<Default Extension="xml" ContentType="application/xml"/>
<Override PartName="/word/document.xml" ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/>
</Types>"#;
    let rels = format!(
        r#"{RELS_HEAD}<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="word/document.xml"/></Relationships>"#
    );
    let doc = format!(
        r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"><w:body><w:p><w:r><w:t>{NOTE}</w:t></w:r></w:p></w:body></w:document>"#
    );
    zip_of(
        &[
            ("[Content_Types].xml", types.as_bytes()),
            ("_rels/.rels", rels.as_bytes()),
            ("word/document.xml", doc.as_bytes()),
        ],
        deflated(),
    )
}

/// A VBA project container (an OLE compound file) with the PROJECT stream and an empty VBA
/// storage: it names a project but holds no module, so there is no code to run.
fn vba_project() -> Vec<u8> {
    let mut cf = cfb::CompoundFile::create(Cursor::new(Vec::new())).expect("in-memory cfb");
    cf.create_storage("/VBA").expect("in-memory cfb");
    {
        let mut s = cf.create_stream("/PROJECT").expect("in-memory cfb");
        s.write_all(b"ID=\"{00000000-0000-0000-0000-000000000000}\"\r\nName=\"VBAProject\"\r\n")
            .expect("in-memory cfb");
    }
    {
        // _VBA_PROJECT header (MS-OVBA 2.3.4.1): reserved 0x61CC, version, reserved bytes.
        let mut s = cf
            .create_stream("/VBA/_VBA_PROJECT")
            .expect("in-memory cfb");
        s.write_all(&[0xCC, 0x61, 0xFF, 0xFF, 0x00, 0x00, 0x00])
            .expect("in-memory cfb");
    }
    cf.flush().expect("in-memory cfb");
    cf.into_inner().into_inner()
}

/// A macro-enabled workbook: one sheet with one cell, and a vbaProject part.
fn xlsm() -> Vec<u8> {
    let types = r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">
<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>
<Default Extension="xml" ContentType="application/xml"/>
<Default Extension="bin" ContentType="application/vnd.ms-office.vbaProject"/>
<Override PartName="/xl/workbook.xml" ContentType="application/vnd.ms-excel.sheet.macroEnabled.main+xml"/>
<Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>
</Types>"#;
    let rels = format!(
        r#"{RELS_HEAD}<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="xl/workbook.xml"/></Relationships>"#
    );
    let workbook = r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"><sheets><sheet name="Sheet1" sheetId="1" r:id="rId1"/></sheets></workbook>"#;
    let wb_rels = format!(
        r#"{RELS_HEAD}<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" Target="worksheets/sheet1.xml"/><Relationship Id="rId2" Type="http://schemas.microsoft.com/office/2006/relationships/vbaProject" Target="vbaProject.bin"/></Relationships>"#
    );
    let sheet = format!(
        r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData><row r="1"><c r="A1" t="inlineStr"><is><t>{NOTE}</t></is></c></row></sheetData></worksheet>"#
    );
    let vba = vba_project();
    zip_of(
        &[
            ("[Content_Types].xml", types.as_bytes()),
            ("_rels/.rels", rels.as_bytes()),
            ("xl/workbook.xml", workbook.as_bytes()),
            ("xl/_rels/workbook.xml.rels", wb_rels.as_bytes()),
            ("xl/worksheets/sheet1.xml", sheet.as_bytes()),
            ("xl/vbaProject.bin", &vba),
        ],
        deflated(),
    )
}

enum Protection {
    ZipCrypto,
    Aes,
}

/// A ZIP with one encrypted text file.
fn protected_zip(p: Protection) -> Vec<u8> {
    use zip::unstable::write::FileOptionsExt;
    let options = match p {
        Protection::ZipCrypto => deflated()
            .with_deprecated_encryption(ZIP_PASSWORD.as_bytes())
            .expect("a non-empty password"),
        Protection::Aes => deflated().with_aes_encryption(zip::AesMode::Aes256, ZIP_PASSWORD),
    };
    zip_of(&[("documents.txt", NOTE.as_bytes())], options)
}

/// A plain ZIP holding a text file whose name ends in `.exe`.
fn exe_zip() -> Vec<u8> {
    zip_of(&[("invoice.pdf.exe", NOTE.as_bytes())], deflated())
}

/// Pseudo-random bytes (xorshift; the same every time), so that compression cannot shrink them.
fn large() -> Vec<u8> {
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut out = Vec::with_capacity(LARGE_BYTES);
    while out.len() < LARGE_BYTES {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        out.extend_from_slice(&x.to_le_bytes());
    }
    out.truncate(LARGE_BYTES);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    #[test]
    fn pdf_is_well_formed() {
        let b = pdf();
        let text = String::from_utf8(b.clone()).unwrap();
        assert!(text.starts_with("%PDF-1.4\n") && text.ends_with("%%EOF\n"));
        // Every xref offset points at its object.
        let xref_at: usize = text
            .rsplit("startxref\n")
            .next()
            .unwrap()
            .lines()
            .next()
            .unwrap()
            .parse()
            .unwrap();
        assert!(text[xref_at..].starts_with("xref"));
        for (i, line) in text[xref_at..].lines().skip(3).take(5).enumerate() {
            let off: usize = line[..10].parse().unwrap();
            assert!(
                text[off..].starts_with(&format!("{} 0 obj", i + 1)),
                "object {}",
                i + 1
            );
        }
    }

    #[test]
    fn office_files_are_zips_with_the_right_parts() {
        for (bytes, parts) in [
            (docx(), vec!["[Content_Types].xml", "word/document.xml"]),
            (
                xlsm(),
                vec![
                    "[Content_Types].xml",
                    "xl/workbook.xml",
                    "xl/vbaProject.bin",
                ],
            ),
        ] {
            let mut z = zip::ZipArchive::new(Cursor::new(bytes)).unwrap();
            for p in parts {
                assert!(z.by_name(p).is_ok(), "{p}");
            }
        }
        let mut z = zip::ZipArchive::new(Cursor::new(xlsm())).unwrap();
        let mut types = String::new();
        z.by_name("[Content_Types].xml")
            .unwrap()
            .read_to_string(&mut types)
            .unwrap();
        assert!(types.contains("macroEnabled"));
        let mut vba = Vec::new();
        z.by_name("xl/vbaProject.bin")
            .unwrap()
            .read_to_end(&mut vba)
            .unwrap();
        let cf = cfb::CompoundFile::open(Cursor::new(vba)).unwrap();
        assert!(cf.is_storage("/VBA") && cf.is_stream("/PROJECT"));
    }

    #[test]
    fn protected_zips_are_encrypted_and_open_with_the_password() {
        for p in [Protection::ZipCrypto, Protection::Aes] {
            let bytes = protected_zip(p);
            // The local header's general-purpose flag has bit 0 (encrypted) set.
            assert_eq!(&bytes[..4], b"PK\x03\x04");
            assert_eq!(bytes[6] & 1, 1);
            let mut z = zip::ZipArchive::new(Cursor::new(bytes)).unwrap();
            let mut text = String::new();
            z.by_index_decrypt(0, ZIP_PASSWORD.as_bytes())
                .unwrap()
                .read_to_string(&mut text)
                .unwrap();
            assert_eq!(text, NOTE);
        }
    }

    #[test]
    fn every_variant_builds_with_its_name() {
        for k in ProbeKind::ALL {
            let a = build(*k);
            assert_eq!(a.kind, k.as_str());
            assert!(!a.bytes.is_empty());
        }
        assert_eq!(build(ProbeKind::Large).bytes.len(), LARGE_BYTES);
        assert!(build(ProbeKind::Xlsm).filename.ends_with(".xlsm"));
    }
}
