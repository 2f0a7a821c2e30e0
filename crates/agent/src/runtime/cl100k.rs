//! OpenAI's `cl100k_base` tokenizer, built from a compact copy of its token table. tiktoken-rs
//! would build the table into the binary as 1.7 MB of base64 text; here the same 100,256 tokens
//! are kept as length-prefixed bytes in rank order, deflated (0.46 MB, made by
//! `scripts/pack-cl100k.py`; source and licence in `crates/agent/assets/README.md`), and turned
//! into tiktoken-rs's [`CoreBPE`] on first use. A test checks it encodes exactly as
//! tiktoken-rs's own `cl100k_base`.

use std::io::Read;
use std::sync::LazyLock;

use rustc_hash::FxHashMap;
use tiktoken_rs::{CoreBPE, Rank};

/// The packed token table.
const PACKED: &[u8] = include_bytes!("../../assets/cl100k_base.bin.deflate");

/// How many ordinary tokens the table holds.
const TOKENS: usize = 100_256;

/// cl100k_base's pre-tokenizer pattern (as in tiktoken).
const PATTERN: &str = "'(?i:[sdmt]|ll|ve|re)|[^\\r\\n\\p{L}\\p{N}]?+\\p{L}++|\\p{N}{1,3}+| ?[^\\s\\p{L}\\p{N}]++[\\r\\n]*+|\\s++$|\\s*[\\r\\n]|\\s+(?!\\S)|\\s";

/// cl100k_base's special tokens and their ranks.
const SPECIAL: [(&str, Rank); 5] = [
    ("<|endoftext|>", 100_257),
    ("<|fim_prefix|>", 100_258),
    ("<|fim_middle|>", 100_259),
    ("<|fim_suffix|>", 100_260),
    ("<|endofprompt|>", 100_276),
];

/// The tokenizer, built once; `None` if the built-in table cannot be read (a test guarantees it
/// can, so callers fall back to an estimate only in a broken build).
pub fn tokenizer() -> Option<&'static CoreBPE> {
    static BPE: LazyLock<Option<CoreBPE>> = LazyLock::new(|| match build() {
        Ok(bpe) => Some(bpe),
        Err(error) => {
            tracing::error!("the built-in cl100k token table is unusable: {error}");
            None
        }
    });
    BPE.as_ref()
}

fn build() -> Result<CoreBPE, String> {
    let mut table = Vec::with_capacity(760_000);
    flate2::read::ZlibDecoder::new(PACKED)
        .read_to_end(&mut table)
        .map_err(|error| format!("inflating: {error}"))?;
    let mut encoder = FxHashMap::default();
    encoder.reserve(TOKENS);
    let mut rest = table.as_slice();
    while let Some((&length, after)) = rest.split_first() {
        let length = usize::from(length);
        if length == 0 || after.len() < length {
            return Err(format!("token {} is cut short", encoder.len()));
        }
        let (token, after) = after.split_at(length);
        let rank = Rank::try_from(encoder.len()).map_err(|error| error.to_string())?;
        encoder.insert(token.to_vec(), rank);
        rest = after;
    }
    if encoder.len() != TOKENS {
        return Err(format!("{} tokens instead of {TOKENS}", encoder.len()));
    }
    let special = SPECIAL
        .iter()
        .map(|(token, rank)| ((*token).to_owned(), *rank))
        .collect();
    CoreBPE::new(encoder, special, PATTERN).map_err(|error| error.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_exactly_as_tiktoken_rs() {
        let ours = tokenizer().expect("the built-in table reads");
        let reference = tiktoken_rs::cl100k_base().unwrap();
        let samples = [
            "",
            "Hello, world!",
            "The quick brown fox jumps over the lazy dog.\n\n  indented\tTabs",
            "fn main() { println!(\"{}\", 1 + 2); } // code",
            "我的备用钥匙藏在蓝色花盆下面。予備の鍵は青い植木鉢の下に隠してあります。",
            "Emoji 🦀🚀 and accents: naïve café, Straße, ÆØÅ",
            "numbers 1234567 3.14159 0x1F -42",
            "<|endoftext|> special tokens <|fim_prefix|>x<|fim_suffix|>",
            "   leading and trailing spaces   \r\n\r\nwindows lines",
        ];
        for sample in samples {
            assert_eq!(
                ours.encode_with_special_tokens(sample),
                reference.encode_with_special_tokens(sample),
                "{sample:?}"
            );
        }
        // Every token in the table decodes to the same bytes in both.
        for rank in (0..TOKENS as Rank).step_by(97) {
            assert_eq!(
                ours.decode_bytes(&[rank]).unwrap(),
                reference.decode_bytes(&[rank]).unwrap(),
                "rank {rank}"
            );
        }
    }
}
