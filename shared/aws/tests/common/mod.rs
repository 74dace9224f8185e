//! A stand-in HTTP server for the failure modes moto cannot produce (throttling, bare 5xx,
//! paginated IAM pages): every request's body goes to `respond` with its sequence number, and
//! the (status line, content type, extra headers, body) it returns is sent back.
#![allow(dead_code, clippy::unwrap_used)]

use std::io::{BufRead, BufReader, Read, Write};

pub struct Reply {
    pub status: &'static str,
    pub content_type: &'static str,
    pub headers: String,
    pub body: String,
}

/// Serves on a free 127.0.0.1 port until the test process ends; returns `http://127.0.0.1:PORT`.
pub fn stand_in(mut respond: impl FnMut(&str, u32) -> Reply + Send + 'static) -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for (n, stream) in listener.incoming().enumerate() {
            let Ok(mut s) = stream else { return };
            let mut reader = BufReader::new(s.try_clone().unwrap());
            let mut len = 0usize;
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                    break;
                }
                if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                    len = v.trim().parse().unwrap_or(0);
                }
            }
            let mut body = vec![0; len];
            let _ = reader.read_exact(&mut body);
            let r = respond(&String::from_utf8_lossy(&body), n as u32);
            let resp = format!(
                "HTTP/1.1 {}\r\nContent-Type: {}\r\n{}Content-Length: {}\r\nConnection: close\r\n\r\n{}",
                r.status,
                r.content_type,
                r.headers,
                r.body.len(),
                r.body
            );
            let _ = s.write_all(resp.as_bytes());
        }
    });
    format!("http://127.0.0.1:{port}")
}
