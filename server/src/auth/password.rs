//! Argon2id with bounded memory: at most `slots` hashes run at once (about one per core), each
//! in a memory buffer owned by its slot and reused, so a burst of logins costs `slots` × 19 MiB
//! however many arrive, and nothing is left behind in the allocator afterwards. A request waits
//! for a slot at most `QUEUE_TIMEOUT`, then gets `Busy`.

use argon2::password_hash::{Output, ParamsString, PasswordHash, SaltString};
use argon2::{Algorithm, Argon2, Block, Params, Version};
use rand::RngCore;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// How long a request queues for a hashing slot before the server says it is busy.
pub const QUEUE_TIMEOUT: Duration = Duration::from_secs(2);
/// What `Retry-After` says when the queue was full.
pub const BUSY_RETRY_SECS: u64 = 2;
/// Stored hashes are ours, but a hash with absurd parameters must not take the memory down.
const MAX_M_COST_KIB: u32 = 256 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum HashError {
    #[error("every password-hashing slot is busy")]
    Busy,
    #[error("password hashing failed: {0}")]
    Failed(String),
}

pub struct PasswordHashing {
    permits: Arc<Semaphore>,
    /// One buffer per slot; a holder of a permit always finds one here.
    buffers: Arc<Mutex<Vec<Vec<Block>>>>,
}

/// A hashing slot: its permit and its memory, returned when dropped.
pub struct Slot {
    _permit: OwnedSemaphorePermit,
    memory: Vec<Block>,
    buffers: Arc<Mutex<Vec<Vec<Block>>>>,
}

impl Drop for Slot {
    fn drop(&mut self) {
        let memory = std::mem::take(&mut self.memory);
        self.buffers
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(memory);
    }
}

/// About one slot per core: more only queue for the same cores while holding memory.
pub fn default_slots() -> usize {
    std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(2)
        .clamp(1, 8)
}

impl PasswordHashing {
    pub fn new(slots: usize) -> Self {
        let slots = slots.max(1);
        Self {
            permits: Arc::new(Semaphore::new(slots)),
            buffers: Arc::new(Mutex::new((0..slots).map(|_| Vec::new()).collect())),
        }
    }

    /// Waits up to `QUEUE_TIMEOUT` for a slot (fair: first come, first served).
    pub async fn slot(&self) -> Result<Slot, HashError> {
        let permit = tokio::time::timeout(QUEUE_TIMEOUT, self.permits.clone().acquire_owned())
            .await
            .map_err(|_| HashError::Busy)?
            .map_err(|_| HashError::Busy)?;
        Ok(self.slot_for(permit))
    }

    /// A slot for blocking code (start-up), waiting as long as it takes.
    pub fn slot_blocking(&self) -> Slot {
        let permit = loop {
            if let Ok(p) = self.permits.clone().try_acquire_owned() {
                break p;
            }
            std::thread::sleep(Duration::from_millis(5));
        };
        self.slot_for(permit)
    }

    fn slot_for(&self, permit: OwnedSemaphorePermit) -> Slot {
        let memory = self
            .buffers
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .pop()
            .unwrap_or_default();
        Slot {
            _permit: permit,
            memory,
            buffers: self.buffers.clone(),
        }
    }
}

impl Slot {
    fn blocks(&mut self, count: usize) -> &mut [Block] {
        if self.memory.len() < count {
            self.memory.resize(count, Block::default());
        }
        &mut self.memory[..count]
    }

    /// An argon2id PHC string for `password` with the default parameters (m = 19 MiB, t = 2).
    pub fn hash(&mut self, password: &str) -> Result<String, HashError> {
        let failed = |e: &dyn std::fmt::Display| HashError::Failed(e.to_string());
        let mut salt_bytes = [0u8; 16];
        rand::rng().fill_bytes(&mut salt_bytes);
        let salt = SaltString::encode_b64(&salt_bytes).map_err(|e| failed(&e))?;
        let params = Params::default();
        let argon = Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone());
        let blocks = self.blocks(params.block_count());
        let output = Output::init_with(Params::DEFAULT_OUTPUT_LEN, |out| {
            argon
                .hash_password_into_with_memory(password.as_bytes(), &salt_bytes, out, blocks)
                .map_err(|_| argon2::password_hash::Error::Crypto)
        })
        .map_err(|e| failed(&e))?;
        let phc = PasswordHash {
            algorithm: Algorithm::Argon2id.ident(),
            version: Some(Version::V0x13.into()),
            params: ParamsString::try_from(&params).map_err(|e| failed(&e))?,
            salt: Some(salt.as_salt()),
            hash: Some(output),
        };
        Ok(phc.to_string())
    }

    /// Whether `password` matches the PHC string `stored` (false when it does not parse).
    pub fn verify(&mut self, password: &str, stored: &str) -> bool {
        let Ok(parsed) = PasswordHash::new(stored) else {
            return false;
        };
        let (Ok(algorithm), Ok(params), Some(expected), Some(salt)) = (
            Algorithm::try_from(parsed.algorithm),
            Params::try_from(&parsed),
            parsed.hash,
            parsed.salt,
        ) else {
            return false;
        };
        let version = match parsed.version.map(Version::try_from) {
            None => Version::default(),
            Some(Ok(v)) => v,
            Some(Err(_)) => return false,
        };
        if params.m_cost() > MAX_M_COST_KIB {
            tracing::warn!(
                m_cost = params.m_cost(),
                "a stored password hash needs too much memory"
            );
            return false;
        }
        let mut salt_buf = [0u8; 64];
        let Ok(salt) = salt.decode_b64(&mut salt_buf) else {
            return false;
        };
        let argon = Argon2::new(algorithm, version, params.clone());
        let blocks = self.blocks(params.block_count());
        let mut out = vec![0u8; expected.len()];
        argon
            .hash_password_into_with_memory(password.as_bytes(), salt, &mut out, blocks)
            .is_ok()
            && constant_time_eq(&out, expected.as_bytes())
    }
}

/// Equal in time whatever the contents, for comparing secrets.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;
    use argon2::password_hash::PasswordHasher;

    #[test]
    fn hashes_verify_only_their_password_and_interoperate_with_the_crate() {
        let pool = PasswordHashing::new(1);
        let mut slot = pool.slot_blocking();
        let h = slot.hash("correct horse").unwrap();
        assert!(h.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{h}");
        assert!(slot.verify("correct horse", &h));
        assert!(!slot.verify("wrong horse", &h));
        assert!(!slot.verify("correct horse", "not a hash"));
        // Hashes made by the argon2 crate's own hasher (existing databases) still verify.
        let salt = SaltString::encode_b64(b"0123456789abcdef").unwrap();
        let theirs = Argon2::default()
            .hash_password(b"old password", &salt)
            .unwrap()
            .to_string();
        assert!(slot.verify("old password", &theirs));
        assert!(!slot.verify("old passwore", &theirs));
    }

    #[tokio::test]
    async fn slots_are_bounded_and_a_full_queue_is_busy() {
        let pool = PasswordHashing::new(2);
        let a = pool.slot().await.unwrap();
        let _b = pool.slot().await.unwrap();
        let started = std::time::Instant::now();
        assert!(matches!(pool.slot().await, Err(HashError::Busy)));
        assert!(started.elapsed() >= QUEUE_TIMEOUT);
        drop(a);
        assert!(pool.slot().await.is_ok());
    }
}
