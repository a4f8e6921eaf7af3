//! A writer for the small part of Python's pickle format (protocol 2) that a PyTorch checkpoint
//! needs: `None`, booleans, integers, floats, strings, lists, tuples, dicts, `OrderedDict`s and
//! tensors as `torch._utils._rebuild_tensor_v2` of a persistent storage — exactly the globals
//! `torch.load(weights_only=True)` allows. Pure: a value in, bytes out; the zip container around
//! it is [`super::pth_write`]'s.

/// A Python value to pickle.
#[derive(Clone, Debug, PartialEq)]
pub enum PyValue {
    None,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    List(Vec<PyValue>),
    Tuple(Vec<PyValue>),
    /// A plain `dict` (keys in the given order).
    Dict(Vec<(PyValue, PyValue)>),
    /// `collections.OrderedDict` with string keys (a PyTorch state dict).
    OrderedDict(Vec<(String, PyValue)>),
    /// A contiguous CPU tensor whose bytes are the archive's record `data/<key>`.
    Tensor(TensorRef),
}

/// A tensor stored in the archive: the record's key, its element type and its shape.
#[derive(Clone, Debug, PartialEq)]
pub struct TensorRef {
    pub key: String,
    pub storage: StorageType,
    pub shape: Vec<usize>,
}

/// The storage classes segsweep writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StorageType {
    Float,
    Long,
}

impl StorageType {
    fn class(self) -> &'static str {
        match self {
            StorageType::Float => "FloatStorage",
            StorageType::Long => "LongStorage",
        }
    }
}

impl PyValue {
    /// A JSON value as the Python value `json.loads` would give (integers that fit stay ints).
    pub fn from_json(value: &serde_json::Value) -> PyValue {
        use serde_json::Value;
        match value {
            Value::Null => PyValue::None,
            Value::Bool(b) => PyValue::Bool(*b),
            Value::Number(n) => match n.as_i64() {
                Some(i) => PyValue::Int(i),
                None => PyValue::Float(n.as_f64().unwrap_or(f64::NAN)),
            },
            Value::String(s) => PyValue::Str(s.clone()),
            Value::Array(items) => PyValue::List(items.iter().map(PyValue::from_json).collect()),
            Value::Object(map) => {
                PyValue::Dict(map.iter().map(|(k, v)| (PyValue::Str(k.clone()), PyValue::from_json(v))).collect())
            }
        }
    }
}

const PROTO: u8 = 0x80;
const STOP: u8 = b'.';
const NONE: u8 = b'N';
const NEWTRUE: u8 = 0x88;
const NEWFALSE: u8 = 0x89;
const BININT: u8 = b'J';
const BININT1: u8 = b'K';
const LONG1: u8 = 0x8a;
const BINFLOAT: u8 = b'G';
const BINUNICODE: u8 = b'X';
const EMPTY_LIST: u8 = b']';
const APPENDS: u8 = b'e';
const EMPTY_TUPLE: u8 = b')';
const TUPLE: u8 = b't';
const EMPTY_DICT: u8 = b'}';
const SETITEMS: u8 = b'u';
const MARK: u8 = b'(';
const GLOBAL: u8 = b'c';
const REDUCE: u8 = b'R';
const BINPERSID: u8 = b'Q';

/// `value` pickled with protocol 2.
pub fn dumps(value: &PyValue) -> Vec<u8> {
    let mut out = vec![PROTO, 2];
    write(value, &mut out);
    out.push(STOP);
    out
}

fn write(value: &PyValue, out: &mut Vec<u8>) {
    match value {
        PyValue::None => out.push(NONE),
        PyValue::Bool(b) => out.push(if *b { NEWTRUE } else { NEWFALSE }),
        PyValue::Int(i) => int(*i, out),
        PyValue::Float(f) => {
            out.push(BINFLOAT);
            out.extend_from_slice(&f.to_be_bytes());
        }
        PyValue::Str(s) => string(s, out),
        PyValue::List(items) => {
            out.push(EMPTY_LIST);
            if !items.is_empty() {
                out.push(MARK);
                items.iter().for_each(|item| write(item, out));
                out.push(APPENDS);
            }
        }
        PyValue::Tuple(items) => tuple(items.iter().map(|item| |out: &mut Vec<u8>| write(item, out)), out),
        PyValue::Dict(pairs) => {
            out.push(EMPTY_DICT);
            set_items(pairs.iter().map(|(k, v)| (k, v)), out);
        }
        PyValue::OrderedDict(pairs) => {
            ordered_dict(out);
            let keys: Vec<PyValue> = pairs.iter().map(|(k, _)| PyValue::Str(k.clone())).collect();
            set_items(keys.iter().zip(pairs.iter().map(|(_, v)| v)), out);
        }
        PyValue::Tensor(tensor) => rebuild_tensor(tensor, out),
    }
}

fn int(i: i64, out: &mut Vec<u8>) {
    if let Ok(small) = u8::try_from(i) {
        out.extend_from_slice(&[BININT1, small]);
    } else if let Ok(word) = i32::try_from(i) {
        out.push(BININT);
        out.extend_from_slice(&word.to_le_bytes());
    } else {
        out.extend_from_slice(&[LONG1, 8]);
        out.extend_from_slice(&i.to_le_bytes());
    }
}

fn string(s: &str, out: &mut Vec<u8>) {
    out.push(BINUNICODE);
    let len = u32::try_from(s.len()).expect("a pickled string is under 4 GiB");
    out.extend_from_slice(&len.to_le_bytes());
    out.extend_from_slice(s.as_bytes());
}

fn global(module: &str, name: &str, out: &mut Vec<u8>) {
    out.push(GLOBAL);
    out.extend_from_slice(format!("{module}\n{name}\n").as_bytes());
}

fn tuple<F: FnOnce(&mut Vec<u8>)>(items: impl Iterator<Item = F>, out: &mut Vec<u8>) {
    out.push(MARK);
    items.for_each(|item| item(out));
    out.push(TUPLE);
}

fn set_items<'a>(pairs: impl Iterator<Item = (&'a PyValue, &'a PyValue)>, out: &mut Vec<u8>) {
    let mut pairs = pairs.peekable();
    if pairs.peek().is_none() {
        return;
    }
    out.push(MARK);
    for (key, value) in pairs {
        write(key, out);
        write(value, out);
    }
    out.push(SETITEMS);
}

/// `collections.OrderedDict()` on the stack.
fn ordered_dict(out: &mut Vec<u8>) {
    global("collections", "OrderedDict", out);
    out.push(EMPTY_TUPLE);
    out.push(REDUCE);
}

/// `torch._utils._rebuild_tensor_v2(storage, 0, shape, stride, False, OrderedDict())`, the
/// storage being the persistent id `('storage', torch.<Type>Storage, key, 'cpu', numel)`.
fn rebuild_tensor(tensor: &TensorRef, out: &mut Vec<u8>) {
    global("torch._utils", "_rebuild_tensor_v2", out);
    out.push(MARK);
    let numel: usize = tensor.shape.iter().product();
    let as_int = |n: usize| PyValue::Int(i64::try_from(n).expect("tensor sizes fit in i64"));
    // The persistent id of the storage.
    out.push(MARK);
    string("storage", out);
    global("torch", tensor.storage.class(), out);
    string(&tensor.key, out);
    string("cpu", out);
    write(&as_int(numel), out);
    out.push(TUPLE);
    out.push(BINPERSID);
    write(&PyValue::Int(0), out);
    write(&PyValue::Tuple(tensor.shape.iter().map(|&d| as_int(d)).collect()), out);
    write(&PyValue::Tuple(contiguous_strides(&tensor.shape).into_iter().map(as_int).collect()), out);
    out.push(NEWFALSE);
    ordered_dict(out);
    out.push(TUPLE);
    out.push(REDUCE);
}

/// Row-major strides, in elements.
pub fn contiguous_strides(shape: &[usize]) -> Vec<usize> {
    let mut strides = vec![1; shape.len()];
    for i in (0..shape.len().saturating_sub(1)).rev() {
        strides[i] = strides[i + 1] * shape[i + 1];
    }
    strides
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_values_use_the_short_opcodes() {
        assert_eq!(dumps(&PyValue::Int(7)), [0x80, 2, b'K', 7, b'.']);
        assert_eq!(dumps(&PyValue::Int(-1)), [0x80, 2, b'J', 0xff, 0xff, 0xff, 0xff, b'.']);
        assert_eq!(dumps(&PyValue::Int(1 << 40))[2..4], [LONG1, 8]);
        assert_eq!(dumps(&PyValue::Str("ab".into())), [0x80, 2, b'X', 2, 0, 0, 0, b'a', b'b', b'.']);
        assert_eq!(dumps(&PyValue::Float(1.0))[2..], [b'G', 0x3f, 0xf0, 0, 0, 0, 0, 0, 0, b'.']);
        assert_eq!(dumps(&PyValue::List(vec![])), [0x80, 2, b']', b'.']);
        assert_eq!(dumps(&PyValue::Tuple(vec![])), [0x80, 2, b'(', b't', b'.']);
    }

    #[test]
    fn dict_items_are_set_in_order() {
        let dict = PyValue::Dict(vec![
            (PyValue::Str("b".into()), PyValue::Bool(true)),
            (PyValue::Str("a".into()), PyValue::None),
        ]);
        let bytes = dumps(&dict);
        let b = bytes.iter().position(|&c| c == b'b').expect("key b");
        let a = bytes.iter().position(|&c| c == b'a').expect("key a");
        assert!(b < a);
        assert_eq!(&bytes[2..4], &[EMPTY_DICT, MARK]);
        assert_eq!(&bytes[bytes.len() - 2..], &[SETITEMS, STOP]);
    }

    #[test]
    fn a_tensor_is_a_rebuild_of_a_persistent_storage() {
        let tensor = PyValue::Tensor(TensorRef { key: "3".into(), storage: StorageType::Float, shape: vec![2, 3] });
        let bytes = dumps(&tensor);
        let text = String::from_utf8_lossy(&bytes);
        assert!(text.contains("torch._utils\n_rebuild_tensor_v2\n"));
        assert!(text.contains("torch\nFloatStorage\n"));
        assert_eq!(bytes.iter().filter(|&&c| c == BINPERSID).count(), 1);
        // numel 6, then offset 0, shape (2, 3) and stride (3, 1).
        let persid = bytes.iter().position(|&c| c == BINPERSID).expect("persistent id");
        assert_eq!(&bytes[persid - 3..persid], &[BININT1, 6, TUPLE]);
        assert_eq!(
            &bytes[persid + 1..persid + 13],
            &[BININT1, 0, MARK, BININT1, 2, BININT1, 3, TUPLE, MARK, BININT1, 3, BININT1]
        );
    }

    #[test]
    fn strides_are_row_major() {
        assert_eq!(contiguous_strides(&[2, 3, 4]), vec![12, 4, 1]);
        assert_eq!(contiguous_strides(&[5]), vec![1]);
        assert_eq!(contiguous_strides(&[]), Vec::<usize>::new());
    }

    #[test]
    fn json_numbers_keep_their_kind() {
        let json: serde_json::Value = serde_json::json!({"a": [1, 2.5, null, "x", true]});
        let PyValue::Dict(pairs) = PyValue::from_json(&json) else { panic!("a dict") };
        assert_eq!(
            pairs[0].1,
            PyValue::List(vec![
                PyValue::Int(1),
                PyValue::Float(2.5),
                PyValue::None,
                PyValue::Str("x".into()),
                PyValue::Bool(true)
            ])
        );
    }
}
