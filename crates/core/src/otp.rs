//! One-time passwords of two-factor login: six digits from the OS RNG (the reference used
//! `:rand.uniform(9)` per digit, no CSPRNG and no zeros). Only the SHA-256 of the OTP's id and
//! code is stored; a guess is compared with it in constant time.

use subtle::ConstantTimeEq;
use uuid::Uuid;

use crate::SecretHash;

/// Digits of a code.
pub const DIGITS: u32 = 6;

/// A fresh code, uniform over 000000..=999999. Fails only if the OS RNG is unavailable.
pub fn generate() -> Result<u32, getrandom::Error> {
    const RANGE: u32 = 10u32.pow(DIGITS);
    // Rejection sampling keeps every code equally likely.
    let limit = u32::MAX - u32::MAX % RANGE;
    loop {
        let mut bytes = [0u8; 4];
        getrandom::fill(&mut bytes)?;
        let n = u32::from_le_bytes(bytes);
        if n < limit {
            return Ok(n % RANGE);
        }
    }
}

/// The code as sent: always six digits.
pub fn format(code: u32) -> String {
    format!("{code:06}")
}

/// What is stored for the OTP `id` with `code`: bound to its row, so equal codes of two OTPs
/// are stored differently.
pub fn hash(id: Uuid, code: u32) -> SecretHash {
    SecretHash::of(&format!("{id}:{}", format(code)))
}

/// Whether `guess` is the code of the OTP `id` stored as `stored`, in constant time.
pub fn matches(id: Uuid, guess: u32, stored: &[u8]) -> bool {
    hash(id, guess).as_bytes().ct_eq(stored).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_six_digits_and_only_their_hash_matches() {
        let id = Uuid::now_v7();
        for _ in 0..100 {
            let code = generate().unwrap();
            assert!(code < 1_000_000);
            assert_eq!(format(code).len(), 6);
            let stored = hash(id, code);
            assert!(matches(id, code, stored.as_bytes()));
            assert!(!matches(id, (code + 1) % 1_000_000, stored.as_bytes()));
            assert!(!matches(Uuid::now_v7(), code, stored.as_bytes()));
        }
        assert_eq!(format(42), "000042");
    }
}
