//! Streaming a rendition without caching it: what the player reads when it streams at a
//! `stream_quality` other than `original`. The server gives a rendition's exact length up front
//! and answers any range after one chunk's encode, so this reader asks for the bytes from its
//! position on and, after a seek (symphonia's Ogg reader looks at the last page first), asks
//! again from there. Nothing is written to disk: a stream is a one-off; offline copies go
//! through `fetch_rendition`.

use std::io::{self, Read, Seek, SeekFrom};

use reqwest::blocking::Response;

use super::fetcher::MediaBody;
use super::{CacheError, Fetcher};

pub struct RemoteRendition {
    fetcher: Fetcher,
    hash: String,
    profile: String,
    len: u64,
    pos: u64,
    /// The response being read and the offset its next byte is at.
    body: Option<(u64, Response)>,
}

impl RemoteRendition {
    /// Asks for the rendition from byte 0; the answer's length is the rendition's.
    pub fn open(fetcher: &Fetcher, hash: &str, profile: &str) -> Result<Self, CacheError> {
        let hash = super::layout::normalize_hash(hash)?;
        crate::quality::check_syntax(profile)
            .map_err(|_| CacheError::InvalidHash(format!("{hash}/{profile}")))?;
        let response = match fetcher.rendition(&hash, profile, 0)? {
            MediaBody::Whole(r) | MediaBody::Rest(r) => r,
            MediaBody::Unsatisfiable => {
                return Err(CacheError::NotFound {
                    hash: format!("{hash}/{profile}"),
                });
            }
        };
        let len = response.content_length().ok_or_else(|| CacheError::Http {
            status: 200,
            url: format!(
                "{}/api/v1/media/{hash}/{profile} (no Content-Length)",
                fetcher.base_url()
            ),
        })?;
        Ok(Self {
            fetcher: fetcher.clone(),
            hash,
            profile: profile.to_owned(),
            len,
            pos: 0,
            body: Some((0, response)),
        })
    }

    pub fn len(&self) -> u64 {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    fn request_at(&mut self, pos: u64) -> io::Result<Response> {
        match self.fetcher.rendition(&self.hash, &self.profile, pos) {
            Ok(MediaBody::Rest(r)) => Ok(r),
            // From byte 0 no Range is sent: the whole file is the answer.
            Ok(MediaBody::Whole(r)) if pos == 0 => Ok(r),
            Ok(MediaBody::Whole(_)) | Ok(MediaBody::Unsatisfiable) => {
                Err(io::Error::other(format!(
                    "the server did not answer a range of {}/{}",
                    self.hash, self.profile
                )))
            }
            Err(e) => Err(io::Error::other(e)),
        }
    }
}

impl Read for RemoteRendition {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.pos >= self.len || buf.is_empty() {
            return Ok(0);
        }
        let response = match self.body.take() {
            Some((at, r)) if at == self.pos => r,
            _ => self.request_at(self.pos)?,
        };
        let mut response = response;
        let want = buf.len().min((self.len - self.pos) as usize);
        let n = response.read(&mut buf[..want])?;
        if n == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "the rendition ended before its length",
            ));
        }
        self.pos += n as u64;
        self.body = Some((self.pos, response));
        Ok(n)
    }
}

impl Seek for RemoteRendition {
    fn seek(&mut self, pos: SeekFrom) -> io::Result<u64> {
        let target = match pos {
            SeekFrom::Start(p) => Some(p),
            SeekFrom::End(d) => self.len.checked_add_signed(d),
            SeekFrom::Current(d) => self.pos.checked_add_signed(d),
        }
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "seek before the start"))?;
        // The open response is kept: reading on from where it is needs no new request.
        self.pos = target;
        Ok(target)
    }
}
