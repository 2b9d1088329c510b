//! The fake over plain HTTP/1.1 on a local port, one request per
//! connection, for a separate process (the CLI) pointed at it by a
//! kubeconfig.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};

use serde_json::Value;

use super::{FakeApi, status};

/// Largest request body read.
const MAX_BODY: usize = 16 << 20;

impl FakeApi {
    /// Serves this fake on `127.0.0.1` (a free port) from a background
    /// thread for the rest of the process; returns the address.
    ///
    /// # Errors
    ///
    /// No local port can be bound.
    pub fn serve_http(&self) -> std::io::Result<SocketAddr> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let addr = listener.local_addr()?;
        let api = self.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                // A connection that breaks off is the client's business.
                let _ = api.answer(stream);
            }
        });
        Ok(addr)
    }

    fn answer(&self, stream: TcpStream) -> std::io::Result<()> {
        let mut reader = BufReader::new(stream.try_clone()?);
        let mut line = String::new();
        reader.read_line(&mut line)?;
        let mut parts = line.split_whitespace();
        let method = parts.next().unwrap_or_default().to_owned();
        let target = parts.next().unwrap_or_default().to_owned();
        let mut length = 0usize;
        loop {
            let mut header = String::new();
            if reader.read_line(&mut header)? == 0 || header.trim().is_empty() {
                break;
            }
            if let Some((name, value)) = header.split_once(':')
                && name.trim().eq_ignore_ascii_case("content-length")
            {
                length = value.trim().parse().unwrap_or(0);
            }
        }
        let (path, query) = target.split_once('?').unwrap_or((target.as_str(), ""));
        let (code, reply) = if length > MAX_BODY {
            (413, status(413, "RequestEntityTooLarge", "body too large"))
        } else {
            let mut body = vec![0; length];
            reader.read_exact(&mut body)?;
            if body.is_empty() {
                self.handle(&method, path, query, None)
            } else {
                match serde_json::from_slice::<Value>(&body) {
                    Ok(v) => self.handle(&method, path, query, Some(v)),
                    Err(e) => (400, status(400, "BadRequest", &e.to_string())),
                }
            }
        };
        let bytes = serde_json::to_vec(&reply).unwrap_or_default();
        let mut stream = stream;
        write!(
            stream,
            "HTTP/1.1 {code} Fake\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
            bytes.len()
        )?;
        stream.write_all(&bytes)?;
        stream.flush()
    }
}
