//! The GGUF file format, version 3: a small writer (to turn safetensors models into files llama.cpp
//! loads) and a reader of the header and metadata (to check a file before llama.cpp sees it, and to
//! list models by architecture). Tensor data is never read here.
//!
//! Layout: magic `GGUF`, version (u32), tensor count (u64), metadata count (u64), metadata
//! key/value pairs, tensor infos (name, dimensions innermost first, type, offset), padding to the
//! alignment, then the tensor data, each tensor aligned.

use std::collections::BTreeMap;
use std::io::{BufReader, BufWriter, Read, Seek, Write};
use std::path::Path;

use crate::error::InferenceError;

/// The first four bytes of every GGUF file.
pub const MAGIC: &[u8; 4] = b"GGUF";
const VERSION: u32 = 3;
const ALIGNMENT: u64 = 32;

/// A metadata value.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// u32
    U32(u32),
    /// i32
    I32(i32),
    /// f32
    F32(f32),
    /// bool
    Bool(bool),
    /// UTF-8 string
    String(String),
    /// array of strings
    Strings(Vec<String>),
    /// array of i32
    I32s(Vec<i32>),
    /// u64
    U64(u64),
    /// anything else the reader met, kept only as its type code
    Other(u32),
}

/// Element type of a tensor this writer produces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TensorType {
    /// 32-bit float.
    F32,
    /// 16-bit float.
    F16,
    /// GGML's Q8_0 blocks: 32 values as an f16 scale and 32 `i8` (see [`crate::quantize`]).
    Q8_0,
}

impl TensorType {
    /// GGML's type id.
    pub fn code(self) -> u32 {
        match self {
            Self::F32 => 0,
            Self::F16 => 1,
            Self::Q8_0 => 8,
        }
    }
}

/// A tensor to write: its name, shape as PyTorch gives it (outermost first) and its bytes.
#[derive(Debug, Clone)]
pub struct Tensor {
    /// llama.cpp's tensor name, e.g. `blk.0.attn_q.weight`.
    pub name: String,
    /// Shape, outermost dimension first (row-major, as in safetensors).
    pub shape: Vec<u64>,
    /// Element type of `data`.
    pub kind: TensorType,
    /// Little-endian element bytes.
    pub data: Vec<u8>,
}

/// Writes a GGUF file with `metadata` (in order) and `tensors`.
pub fn write(
    path: &Path,
    metadata: &[(String, Value)],
    tensors: &[Tensor],
) -> Result<(), InferenceError> {
    let io = |source| InferenceError::Io {
        path: path.to_owned(),
        source,
    };
    let parent = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::create_dir_all(parent).map_err(io)?;
    let temp = tempfile::Builder::new()
        .prefix(".gguf-")
        .tempfile_in(parent)
        .map_err(io)?;
    {
        let mut out = BufWriter::new(temp.as_file());
        write_to(&mut out, metadata, tensors).map_err(io)?;
        out.flush().map_err(io)?;
    }
    temp.as_file().sync_all().map_err(io)?;
    make_readable(temp.as_file()).map_err(io)?;
    temp.persist(path).map_err(|error| io(error.error))?;
    Ok(())
}

/// Gives an installed model file the usual `rw-r--r--` mode (temporary files start private).
pub(crate) fn make_readable(file: &std::fs::File) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        file.set_permissions(std::fs::Permissions::from_mode(0o644))?;
    }
    #[cfg(not(unix))]
    let _ = file;
    Ok(())
}

fn write_to(
    out: &mut impl Write,
    metadata: &[(String, Value)],
    tensors: &[Tensor],
) -> std::io::Result<()> {
    out.write_all(MAGIC)?;
    out.write_all(&VERSION.to_le_bytes())?;
    out.write_all(&(tensors.len() as u64).to_le_bytes())?;
    out.write_all(&(metadata.len() as u64).to_le_bytes())?;
    for (key, value) in metadata {
        write_string(out, key)?;
        write_value(out, value)?;
    }
    let mut offset = 0u64;
    for tensor in tensors {
        write_string(out, &tensor.name)?;
        out.write_all(&(tensor.shape.len() as u32).to_le_bytes())?;
        for dimension in tensor.shape.iter().rev() {
            out.write_all(&dimension.to_le_bytes())?;
        }
        out.write_all(&tensor.kind.code().to_le_bytes())?;
        out.write_all(&offset.to_le_bytes())?;
        offset = align(offset + tensor.data.len() as u64);
    }
    let mut written = header_len(metadata, tensors);
    pad(out, &mut written)?;
    for tensor in tensors {
        out.write_all(&tensor.data)?;
        written += tensor.data.len() as u64;
        pad(out, &mut written)?;
    }
    Ok(())
}

fn align(offset: u64) -> u64 {
    offset.div_ceil(ALIGNMENT) * ALIGNMENT
}

fn pad(out: &mut impl Write, written: &mut u64) -> std::io::Result<()> {
    let padding = align(*written) - *written;
    out.write_all(&vec![0u8; padding as usize])?;
    *written += padding;
    Ok(())
}

fn header_len(metadata: &[(String, Value)], tensors: &[Tensor]) -> u64 {
    let string_len = |text: &str| 8 + text.len() as u64;
    let value_len = |value: &Value| -> u64 {
        4 + match value {
            Value::U32(_) | Value::I32(_) | Value::F32(_) => 4,
            Value::U64(_) => 8,
            Value::Bool(_) => 1,
            Value::String(text) => string_len(text),
            Value::Strings(items) => 12 + items.iter().map(|item| string_len(item)).sum::<u64>(),
            Value::I32s(items) => 12 + 4 * items.len() as u64,
            Value::Other(_) => 0,
        }
    };
    let mut length = 4 + 4 + 8 + 8;
    for (key, value) in metadata {
        length += string_len(key) + value_len(value);
    }
    for tensor in tensors {
        length += string_len(&tensor.name) + 4 + 8 * tensor.shape.len() as u64 + 4 + 8;
    }
    length
}

fn write_string(out: &mut impl Write, text: &str) -> std::io::Result<()> {
    out.write_all(&(text.len() as u64).to_le_bytes())?;
    out.write_all(text.as_bytes())
}

fn write_value(out: &mut impl Write, value: &Value) -> std::io::Result<()> {
    match value {
        Value::U32(v) => {
            out.write_all(&4u32.to_le_bytes())?;
            out.write_all(&v.to_le_bytes())
        }
        Value::I32(v) => {
            out.write_all(&5u32.to_le_bytes())?;
            out.write_all(&v.to_le_bytes())
        }
        Value::F32(v) => {
            out.write_all(&6u32.to_le_bytes())?;
            out.write_all(&v.to_le_bytes())
        }
        Value::Bool(v) => {
            out.write_all(&7u32.to_le_bytes())?;
            out.write_all(&[u8::from(*v)])
        }
        Value::String(text) => {
            out.write_all(&8u32.to_le_bytes())?;
            write_string(out, text)
        }
        Value::U64(v) => {
            out.write_all(&10u32.to_le_bytes())?;
            out.write_all(&v.to_le_bytes())
        }
        Value::Strings(items) => {
            out.write_all(&9u32.to_le_bytes())?;
            out.write_all(&8u32.to_le_bytes())?;
            out.write_all(&(items.len() as u64).to_le_bytes())?;
            items.iter().try_for_each(|item| write_string(out, item))
        }
        Value::I32s(items) => {
            out.write_all(&9u32.to_le_bytes())?;
            out.write_all(&5u32.to_le_bytes())?;
            out.write_all(&(items.len() as u64).to_le_bytes())?;
            items
                .iter()
                .try_for_each(|item| out.write_all(&item.to_le_bytes()))
        }
        Value::Other(_) => Err(std::io::Error::other("cannot write an unknown GGUF value")),
    }
}

/// What the header of a GGUF file says.
#[derive(Debug, Clone, PartialEq)]
pub struct GgufInfo {
    /// Format version.
    pub version: u32,
    /// Number of tensors.
    pub tensor_count: u64,
    /// Metadata, with large arrays summarised (only their element type is kept).
    pub metadata: BTreeMap<String, Value>,
    /// Each tensor's GGML type id (0 f32, 1 f16, 8 Q8_0, …), by name.
    pub tensor_types: BTreeMap<String, u32>,
}

impl GgufInfo {
    /// `general.architecture`, e.g. `llama` or `bert`.
    pub fn architecture(&self) -> Option<&str> {
        match self.metadata.get("general.architecture") {
            Some(Value::String(text)) => Some(text),
            _ => None,
        }
    }

    /// A string metadata value.
    pub fn string(&self, key: &str) -> Option<&str> {
        match self.metadata.get(key) {
            Some(Value::String(text)) => Some(text),
            _ => None,
        }
    }

    /// An integer metadata value.
    pub fn integer(&self, key: &str) -> Option<u64> {
        match self.metadata.get(key) {
            Some(Value::U32(v)) => Some(u64::from(*v)),
            Some(Value::I32(v)) => u64::try_from(*v).ok(),
            Some(Value::U64(v)) => Some(*v),
            _ => None,
        }
    }
}

/// Reads and checks the header of the GGUF file at `path`: a missing file, a file that is not
/// GGUF, or one cut short is an error naming the file.
pub fn read_info(path: &Path) -> Result<GgufInfo, InferenceError> {
    let bad = |reason: String| InferenceError::BadModelFile {
        path: path.to_owned(),
        reason,
    };
    let file = std::fs::File::open(path).map_err(|source| InferenceError::Io {
        path: path.to_owned(),
        source,
    })?;
    let size = file.metadata().map(|m| m.len()).unwrap_or(0);
    let mut reader = BufReader::new(file);
    let mut magic = [0u8; 4];
    reader
        .read_exact(&mut magic)
        .map_err(|_| bad("the file is too short to be a model".to_owned()))?;
    if &magic != MAGIC {
        return Err(bad(
            "not a GGUF model file (it does not start with `GGUF`)".to_owned()
        ));
    }
    let truncated = |_| bad("the file ends early (truncated download or copy?)".to_owned());
    let version = read_u32(&mut reader).map_err(truncated)?;
    if !(2..=3).contains(&version) {
        return Err(bad(format!("GGUF version {version} is not supported")));
    }
    let tensor_count = read_u64(&mut reader).map_err(truncated)?;
    let kv_count = read_u64(&mut reader).map_err(truncated)?;
    if kv_count > 100_000 || tensor_count > 1_000_000 {
        return Err(bad("the header is corrupt".to_owned()));
    }
    let mut metadata = BTreeMap::new();
    for _ in 0..kv_count {
        let key =
            read_string(&mut reader, size).map_err(|e| bad(format!("corrupt metadata: {e}")))?;
        let value = read_value(&mut reader, size)
            .map_err(|e| bad(format!("corrupt metadata value for {key}: {e}")))?;
        metadata.insert(key, value);
    }
    // The tensor data must be present: check the file is at least as long as the last tensor's end.
    let mut data_end = 0u64;
    let mut tensor_types = BTreeMap::new();
    for _ in 0..tensor_count {
        let name = read_string(&mut reader, size)
            .map_err(|e| bad(format!("corrupt tensor table: {e}")))?;
        let dims = read_u32(&mut reader).map_err(truncated)?;
        if dims > 8 {
            return Err(bad("corrupt tensor table".to_owned()));
        }
        let mut elements = 1u64;
        for _ in 0..dims {
            elements = elements.saturating_mul(read_u64(&mut reader).map_err(truncated)?);
        }
        let kind = read_u32(&mut reader).map_err(truncated)?;
        let offset = read_u64(&mut reader).map_err(truncated)?;
        tensor_types.insert(name, kind);
        data_end = data_end.max(offset.saturating_add(min_tensor_bytes(kind, elements)));
    }
    let alignment = match metadata.get("general.alignment") {
        Some(Value::U32(a)) => u64::from(*a),
        _ => ALIGNMENT,
    };
    let position = reader.stream_position().map_err(truncated)?;
    let data_start = position.div_ceil(alignment.max(1)) * alignment.max(1);
    if data_start.saturating_add(data_end) > size {
        return Err(bad(format!(
            "the file is {size} bytes but its tensors need {} (truncated download or copy?)",
            data_start + data_end
        )));
    }
    Ok(GgufInfo {
        version,
        tensor_count,
        metadata,
        tensor_types,
    })
}

/// A lower bound on a tensor's byte size (exact for float types, conservative for quantised ones).
fn min_tensor_bytes(kind: u32, elements: u64) -> u64 {
    match kind {
        0 => elements * 4,
        1 | 30 => elements * 2,
        8 => elements / 32 * 34,
        _ => elements / 8,
    }
}

fn read_u32(reader: &mut impl Read) -> std::io::Result<u32> {
    let mut bytes = [0u8; 4];
    reader.read_exact(&mut bytes)?;
    Ok(u32::from_le_bytes(bytes))
}

fn read_u64(reader: &mut impl Read) -> std::io::Result<u64> {
    let mut bytes = [0u8; 8];
    reader.read_exact(&mut bytes)?;
    Ok(u64::from_le_bytes(bytes))
}

fn read_string(reader: &mut impl Read, file_size: u64) -> std::io::Result<String> {
    let length = read_u64(reader)?;
    if length > file_size.min(1 << 26) {
        return Err(std::io::Error::other("string length out of range"));
    }
    let mut bytes = vec![0u8; length as usize];
    reader.read_exact(&mut bytes)?;
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

/// Passes over a string without keeping it (a vocabulary holds tens of thousands).
fn skip_string(reader: &mut impl Read, file_size: u64) -> std::io::Result<()> {
    let length = read_u64(reader)?;
    if length > file_size.min(1 << 26) {
        return Err(std::io::Error::other("string length out of range"));
    }
    let skipped = std::io::copy(&mut reader.take(length), &mut std::io::sink())?;
    if skipped < length {
        return Err(std::io::ErrorKind::UnexpectedEof.into());
    }
    Ok(())
}

fn scalar_size(kind: u32) -> Option<u64> {
    match kind {
        0 | 1 | 7 => Some(1),
        2 | 3 => Some(2),
        4..=6 => Some(4),
        10..=12 => Some(8),
        _ => None,
    }
}

fn read_value(reader: &mut impl Read, file_size: u64) -> std::io::Result<Value> {
    let kind = read_u32(reader)?;
    Ok(match kind {
        4 => Value::U32(read_u32(reader)?),
        5 => Value::I32(read_u32(reader)? as i32),
        6 => Value::F32(f32::from_bits(read_u32(reader)?)),
        7 => {
            let mut byte = [0u8; 1];
            reader.read_exact(&mut byte)?;
            Value::Bool(byte[0] != 0)
        }
        8 => Value::String(read_string(reader, file_size)?),
        10 => Value::U64(read_u64(reader)?),
        9 => {
            let element = read_u32(reader)?;
            let count = read_u64(reader)?;
            if count > file_size {
                return Err(std::io::Error::other("array length out of range"));
            }
            if element == 8 {
                for _ in 0..count {
                    skip_string(reader, file_size)?;
                }
            } else {
                let size = scalar_size(element)
                    .ok_or_else(|| std::io::Error::other("unknown array element type"))?;
                std::io::copy(&mut reader.take(size * count), &mut std::io::sink())?;
            }
            Value::Other(9)
        }
        other => {
            let size = scalar_size(other)
                .ok_or_else(|| std::io::Error::other(format!("unknown value type {other}")))?;
            std::io::copy(&mut reader.take(size), &mut std::io::sink())?;
            Value::Other(other)
        }
    })
}

#[cfg(test)]
#[path = "gguf_tests.rs"]
mod tests;
