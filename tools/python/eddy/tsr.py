"""Tensor streams (formats/tsr.md) from Python: read and write the records
that every eddy tool exchanges, as NumPy arrays with their attributes.

    from eddy import tsr
    for rec in tsr.read("kf.tsr"):                 # list of tsr.Record
        print(rec.name, rec.array.shape, rec.attrs.get("dims"))
    tsr.write("out.tsr", [tsr.Record("u", u, {"dims": "t,y,x", "L": "6.28"})])

The reader applies every check of formats/tsr.md §9, as lib/tsr.c does, and
raises tsr.TsrError naming the record; the writer follows §10 and gives the
same bytes as the C writer for the same records (zstd level 1, float
payloads byte-shuffled, a temporary file renamed into place).
"""
import os
import struct
import tempfile

import numpy as np
import zstandard

__all__ = ["Record", "TsrError", "read", "iter_records", "write", "history_append", "crc32c"]

MAGIC_STREAM, MAGIC_RECORD, MAGIC_END = 0x184D2A50, 0x184D2A51, 0x184D2A52
MAGIC_SKIP_LO, MAGIC_SKIP_HI, MAGIC_ZSTD = 0x184D2A50, 0x184D2A5F, 0xFD2FB528
SIGNATURE = b"\x89TSR\r\n\x1a\n"
RECORD_FIXED = 36
MAX_HEADER = 1 << 20
MAX_RANK, MAX_NAME = 8, 255
DTYPES = ("|i1", "|u1", "<i2", "<u2", "<i4", "<u4", "<i8", "<u8", "<f4", "<f8", "<c8", "<c16")


class TsrError(ValueError):
    """A stream that breaks formats/tsr.md; the message names the record."""


class Record:
    """One record: a name, an array (C order, little-endian) and attributes
    (an ordered dict of str -> str; `history` holds newline-separated lines)."""

    def __init__(self, name, array, attrs=None):
        self.name = name
        self.array = np.asarray(array)
        self.attrs = dict(attrs or {})

    def __repr__(self):
        return f"Record({self.name!r}, {self.array.dtype.str} {self.array.shape}, {len(self.attrs)} attrs)"


def _crc_table():
    t = []
    for i in range(256):
        c = i
        for _ in range(8):
            c = (c >> 1) ^ (0x82F63B78 & -(c & 1))
        t.append(c)
    return t


_CRC = _crc_table()


def crc32c(data):
    """CRC-32C (Castagnoli) of bytes, as formats/tsr.md §1."""
    c = 0xFFFFFFFF
    t = _CRC
    for x in data:
        c = t[(c ^ x) & 0xFF] ^ (c >> 8)
    return c ^ 0xFFFFFFFF


def _compress_bound(n):
    return n + (n >> 8) + ((131072 - n) >> 11 if n < 131072 else 0)


def _shuffle_unit(dt):
    if dt.kind == "f":
        return dt.itemsize
    if dt.kind == "c":
        return dt.itemsize // 2
    return 1


def _max_record_bytes():
    v = os.environ.get("TSR_MAX_RECORD_BYTES")
    try:
        return int(v) if v else 64 << 30
    except ValueError:
        return 64 << 30


def _decode_attrs(text, where):
    attrs = {}
    p, n = 0, len(text)
    while p < n:
        nl = text.find(b"\n", p)
        eq = text.find(b"=", p)
        if nl < 0 or eq < 0 or eq > nl or eq == p:
            raise TsrError(f"{where}: malformed attribute line")
        key = text[p:eq]
        if any(b < 0x20 or b == 0x5C for b in key):
            raise TsrError(f"{where}: invalid attribute key {key!r}")
        raw, out, i = text[eq + 1:nl], bytearray(), 0
        while i < len(raw):
            b = raw[i]
            if b == 0x5C:
                if i + 1 >= len(raw) or raw[i + 1] not in b"\\n":
                    raise TsrError(f"{where}: bad escape in attribute {key.decode(errors='replace')}")
                out.append(0x0A if raw[i + 1] == 0x6E else 0x5C)
                i += 2
            else:
                if b == 0:
                    raise TsrError(f"{where}: NUL byte in attribute {key.decode(errors='replace')}")
                out.append(b)
                i += 1
        attrs[key.decode("utf-8", "surrogateescape")] = out.decode("utf-8", "surrogateescape")
        p = nl + 1
    return attrs


def _encode_attrs(attrs):
    out = bytearray()
    for k, v in attrs.items():
        k, v = str(k), str(v)
        kb = k.encode("utf-8", "surrogateescape")
        if not kb or any(b < 0x20 or b in b"=\\" for b in kb):
            raise TsrError(f"attribute key {k!r} is not allowed (empty, '=', '\\' or a control byte)")
        vb = v.encode("utf-8", "surrogateescape")
        if b"\0" in vb:
            raise TsrError(f"attribute {k}: NUL byte in the value")
        out += kb + b"=" + vb.replace(b"\\", b"\\\\").replace(b"\n", b"\\n") + b"\n"
    return bytes(out)


class _Input:
    def __init__(self, f):
        self.f = f

    def read(self, n):
        b = self.f.read(n)
        while b is not None and len(b) < n:
            more = self.f.read(n - len(b))
            if not more:
                break
            b += more
        return b or b""


def _stream_header(inp, label):
    h = inp.read(8)
    if len(h) < 8:
        raise TsrError(f"{label}: record 0: bad signature (not a tensor stream)" if h else f"{label}: empty input (no stream header)")
    magic, size = struct.unpack("<II", h)
    return _stream_header_rest(inp, label, magic, size, 0)


def _stream_header_rest(inp, label, magic, size, index):
    if magic != MAGIC_STREAM or size < 20 or size > 4096:
        raise TsrError(f"{label}: record {index}: bad signature (not a tensor stream)")
    c = inp.read(size)
    if len(c) < size:
        raise TsrError(f"{label}: record {index}: truncated header")
    if c[:8] != SIGNATURE:
        raise TsrError(f"{label}: record {index}: bad signature (not a tensor stream)")
    major = struct.unpack_from("<H", c, 8)[0]
    if major != 1:
        raise TsrError(f"{label}: record {index}: unknown major version {major}")
    if crc32c(c[:size - 4]) != struct.unpack_from("<I", c, size - 4)[0]:
        raise TsrError(f"{label}: record {index}: stream header CRC mismatch")


def _record(inp, label, index, stream_index, size, dctx):
    where = f"{label}: record {index}"
    if size > MAX_HEADER:
        raise TsrError(f"{where}: absurd header length {size}")
    h = inp.read(size)
    if len(h) < size:
        raise TsrError(f"{where}: truncated header")
    if size < RECORD_FIXED:
        raise TsrError(f"{where}: header too short ({size} bytes)")
    if crc32c(h[:size - 4]) != struct.unpack_from("<I", h, size - 4)[0]:
        raise TsrError(f"{where}: header CRC mismatch")
    idx, flags, rank, nlen, alen, descr, raw, zlen = struct.unpack_from("<IBBHI4sQQ", h)
    if idx != stream_index:
        raise TsrError(f"{where}: header says index {idx} (records missing or reordered)")
    if rank > MAX_RANK:
        raise TsrError(f"{where}: rank {rank} > {MAX_RANK}")
    if RECORD_FIXED + 8 * rank + nlen + alen != size:
        raise TsrError(f"{where}: header lengths disagree with its size")
    if flags & ~1:
        raise TsrError(f"{where}: unknown flags 0x{flags:02x}")
    d = descr.rstrip(b"\0").decode("ascii", "replace")
    if d not in DTYPES or descr != d.encode().ljust(4, b"\0"):
        raise TsrError(f"{where}: unknown dtype {descr!r}")
    dt = np.dtype(d)
    shape = struct.unpack_from(f"<{rank}Q", h, 32)
    n = 1
    for s in shape:
        n *= s
    if n * dt.itemsize >= 1 << 64:
        raise TsrError(f"{where}: shape product overflows")
    nbytes = n * dt.itemsize
    if nbytes != raw:
        raise TsrError(f"{where}: payload size {raw} disagrees with shape x dtype ({nbytes} bytes)")
    if nbytes > _max_record_bytes():
        raise TsrError(f"{where}: {nbytes} bytes exceeds the record limit (TSR_MAX_RECORD_BYTES)")
    if zlen > _compress_bound(nbytes) or zlen < 9:
        raise TsrError(f"{where}: absurd compressed payload length {zlen}")
    p = 32 + 8 * rank
    nb = h[p:p + nlen]
    if b"\0" in nb:
        raise TsrError(f"{where}: NUL byte in the name")
    name = nb.decode("utf-8", "surrogateescape")
    where = f"{label}: record {index} '{name}'"
    attrs = _decode_attrs(h[p + nlen:p + nlen + alen], where)
    z = inp.read(zlen)
    if len(z) < zlen:
        raise TsrError(f"{where}: truncated payload")
    if struct.unpack_from("<I", z)[0] != MAGIC_ZSTD:
        raise TsrError(f"{where}: payload is not a zstd frame")
    if not z[4] & 4:
        raise TsrError(f"{where}: payload frame carries no checksum")
    try:
        fp = zstandard.get_frame_parameters(z)
    except zstandard.ZstdError as err:
        raise TsrError(f"{where}: payload frame header: {err}") from None
    if fp.content_size != nbytes:
        raise TsrError(f"{where}: payload frame content size disagrees with the header")
    dobj = dctx.decompressobj()
    try:
        b = dobj.decompress(z)
    except zstandard.ZstdError as err:
        msg = "payload checksum mismatch (zstd XXH64)" if "checksum" in str(err) else str(err)
        raise TsrError(f"{where}: {msg}") from None
    if not dobj.eof:
        raise TsrError(f"{where}: payload is not one zstd frame (it ends early)")
    if dobj.unused_data:
        raise TsrError(f"{where}: payload is not one zstd frame (data after its end)")
    if len(b) != nbytes:
        raise TsrError(f"{where}: short payload")
    if flags & 1 and nbytes:
        u = _shuffle_unit(dt)
        b = np.frombuffer(b, np.uint8).reshape(u, -1).T.tobytes()
    a = np.frombuffer(b, dt).reshape(shape).copy()
    return Record(name, a, attrs)


def iter_records(f, label="-"):
    """Yields the records of an open binary file (concatenated streams are one
    sequence), checking every rule of formats/tsr.md §9."""
    inp = _Input(f)
    dctx = zstandard.ZstdDecompressor()
    _stream_header(inp, label)
    index = stream_index = 0
    while True:
        m = inp.read(4)
        if not m:
            raise TsrError(f"{label}: record {index}: truncated stream (end of input without an end-of-stream record)")
        m2 = inp.read(4) if len(m) == 4 else b""
        if len(m2) < 4:
            raise TsrError(f"{label}: record {index}: truncated header")
        magic, size = struct.unpack("<II", m + m2)
        if magic == MAGIC_RECORD:
            yield _record(inp, label, index, stream_index, size, dctx)
            index += 1
            stream_index += 1
        elif magic == MAGIC_END:
            c = inp.read(12) if size == 12 else b""
            if len(c) != 12:
                raise TsrError(f"{label}: record {index}: truncated or malformed end-of-stream record")
            if crc32c(c[:8]) != struct.unpack_from("<I", c, 8)[0]:
                raise TsrError(f"{label}: record {index}: end-of-stream record CRC mismatch")
            count = struct.unpack_from("<Q", c)[0]
            if count != stream_index:
                raise TsrError(f"{label}: record {index}: end-of-stream record counts {count} records, read {stream_index}")
            while True:
                m = inp.read(4)
                if not m:
                    return
                mg = struct.unpack("<I", m)[0] if len(m) == 4 else 0
                if mg == MAGIC_STREAM:
                    s = inp.read(4)
                    if len(s) < 4:
                        raise TsrError(f"{label}: record {index}: truncated header")
                    _stream_header_rest(inp, label, mg, struct.unpack("<I", s)[0], index)
                    stream_index = 0
                    break
                if MAGIC_END < mg <= MAGIC_SKIP_HI:
                    s = inp.read(4)
                    if len(s) < 4 or len(inp.read(struct.unpack("<I", s)[0])) < struct.unpack("<I", s)[0]:
                        raise TsrError(f"{label}: record {index}: truncated skippable frame")
                    continue
                raise TsrError(f"{label}: record {index}: unexpected data after the end-of-stream record")
        elif magic == MAGIC_STREAM:
            raise TsrError(f"{label}: record {index}: stream header in the middle of a stream")
        elif MAGIC_SKIP_LO <= magic <= MAGIC_SKIP_HI:
            if len(inp.read(size)) < size:
                raise TsrError(f"{label}: record {index}: truncated skippable frame")
        else:
            raise TsrError(f"{label}: record {index}: bad frame magic 0x{magic:08x}")


def read(src):
    """All records of a stream: a path, '-' (stdin) or an open binary file."""
    if hasattr(src, "read"):
        return list(iter_records(src, getattr(src, "name", "-")))
    if src == "-":
        import sys
        return list(iter_records(sys.stdin.buffer, "-"))
    with open(src, "rb") as f:
        return list(iter_records(f, str(src)))


def _record_bytes(rec, index, cctx, shuffle):
    a = np.asarray(rec.array)
    dt = a.dtype.newbyteorder("<") if a.dtype.byteorder == ">" else a.dtype
    if dt.str not in DTYPES:
        raise TsrError(f"record {index} '{rec.name}': dtype {a.dtype} has no stream dtype")
    if a.ndim > MAX_RANK:
        raise TsrError(f"record {index} '{rec.name}': rank {a.ndim} > {MAX_RANK}")
    name = str(rec.name).encode("utf-8", "surrogateescape")
    if len(name) > MAX_NAME or b"\0" in name:
        raise TsrError(f"record {index}: name {rec.name!r} is longer than {MAX_NAME} bytes or holds NUL")
    data = np.ascontiguousarray(a, dt).tobytes()
    shuf = shuffle and dt.kind in "fc" and len(data) > 0
    if shuf:
        u = _shuffle_unit(dt)
        data = np.frombuffer(data, np.uint8).reshape(-1, u).T.tobytes()
    z = cctx.compress(data)
    attrs = _encode_attrs(rec.attrs)
    size = RECORD_FIXED + 8 * a.ndim + len(name) + len(attrs)
    if size > MAX_HEADER:
        raise TsrError(f"record {index} '{rec.name}': header of {size} bytes exceeds 1 MiB")
    h = struct.pack("<IBBHI4sQQ", index, 1 if shuf else 0, a.ndim, len(name), len(attrs),
                    dt.str.encode().ljust(4, b"\0"), a.size * dt.itemsize, len(z))
    h += struct.pack(f"<{a.ndim}Q", *a.shape) + name + attrs
    h += struct.pack("<I", crc32c(h))
    return struct.pack("<II", MAGIC_RECORD, len(h)) + h + z


def _stream_bytes(records, level, shuffle):
    cctx = zstandard.ZstdCompressor(level=level, write_checksum=True, write_content_size=True)
    head = SIGNATURE + struct.pack("<HHI", 1, 0, 0)
    out = [struct.pack("<II", MAGIC_STREAM, 20) + head + struct.pack("<I", crc32c(head))]
    n = 0
    for i, rec in enumerate(records):
        out.append(_record_bytes(rec, i, cctx, shuffle))
        n += 1
    cnt = struct.pack("<Q", n)
    out.append(struct.pack("<II", MAGIC_END, 12) + cnt + struct.pack("<I", crc32c(cnt)))
    return b"".join(out)


def write(dst, records, level=1, shuffle=True):
    """Writes records (tsr.Record, or (name, array, attrs) tuples) as one stream
    to a path ('-': stdout) or an open binary file.  A path is written through a
    temporary file beside it, renamed when complete."""
    recs = [r if isinstance(r, Record) else Record(*r) for r in records]
    data = _stream_bytes(recs, level, shuffle)
    if hasattr(dst, "write"):
        dst.write(data)
        return
    if dst == "-":
        import sys
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()
        return
    d = os.path.dirname(os.path.abspath(dst))
    fd, tmp = tempfile.mkstemp(prefix=os.path.basename(dst) + ".tmp", dir=d)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, dst)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def _umask():
    m = os.umask(0)
    os.umask(m)
    return m


def history_append(attrs, line):
    """Adds one line to the `history` attribute (oldest first), as the tools do."""
    h = attrs.get("history")
    attrs["history"] = line if not h else h + "\n" + line
    return attrs
