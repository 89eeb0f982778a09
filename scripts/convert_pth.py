#!/usr/bin/env python3
"""Convert a PyTorch .pth state dict to safetensors without PyTorch (Python 3 stdlib + numpy).

    convert_pth.py convert IN.pth OUT.safetensors [--check-against JSON] [--metadata KEY=VALUE ...]
    convert_pth.py check FILE.safetensors JSON

A .pth written by torch.save (since torch 1.6) is a zip archive:

    <prefix>/data.pkl      the pickled object (here an OrderedDict name -> tensor)
    <prefix>/data/<key>    one raw storage per key, elements in the byte order of <prefix>/byteorder
                           (little-endian when that file is absent)
    <prefix>/version

In data.pkl every tensor is `torch._utils._rebuild_tensor_v2(storage, storage_offset, size, stride,
requires_grad, backward_hooks[, metadata])`, and every storage a persistent id
`('storage', torch.<Type>Storage, key, location, numel)`. The unpickler below resolves only those
names (plus collections.OrderedDict and torch._utils._rebuild_parameter); any other global is
refused, so a malicious pickle cannot run code. Views (storage offsets, strides such as a
transpose, several tensors sharing one storage) are materialised as contiguous row-major arrays.

The output keeps the state-dict keys and order; the header is compact JSON with `__metadata__`
first, padded with spaces to a multiple of 8 bytes, so the same input always gives the same bytes.

`--check-against JSON` (and `check`) compares the tensors with a JSON listing
{"tensors": [{"name", "shape", "dtype"}, ...]} (and "sha256" of the source .pth, when present):
every name, shape and dtype must match.
"""

import argparse
import collections
import hashlib
import json
import os
import pickle
import struct
import sys
import zipfile

try:
    import numpy as np
except ImportError:  # pragma: no cover - reported to the user
    sys.exit("convert_pth.py: error: numpy is required (python3 -m pip install numpy)")


class ConversionError(Exception):
    pass


# torch storage type name -> (numpy dtype name, safetensors dtype). bfloat16 has no numpy dtype:
# it is carried as uint16 bit patterns and written as BF16.
STORAGE_TYPES = {
    "FloatStorage": ("f4", "F32"),
    "DoubleStorage": ("f8", "F64"),
    "HalfStorage": ("f2", "F16"),
    "BFloat16Storage": ("u2", "BF16"),
    "LongStorage": ("i8", "I64"),
    "IntStorage": ("i4", "I32"),
    "ShortStorage": ("i2", "I16"),
    "CharStorage": ("i1", "I8"),
    "ByteStorage": ("u1", "U8"),
    "BoolStorage": ("?", "BOOL"),
}

# Names used in listings such as weights_disk_lightglue.json -> safetensors dtype.
LISTING_DTYPES = {
    "float32": "F32", "float64": "F64", "float16": "F16", "bfloat16": "BF16", "int64": "I64",
    "int32": "I32", "int16": "I16", "int8": "I8", "uint8": "U8", "bool": "BOOL",
}


class StorageType:
    """Stands in for torch.FloatStorage & co. in the unpickled object graph."""

    def __init__(self, name):
        self.name = name
        self.numpy_dtype, self.safetensors_dtype = STORAGE_TYPES[name]

    def __repr__(self):
        return "torch." + self.name


class Storage:
    def __init__(self, key, storage_type, array):
        self.key, self.type, self.array = key, storage_type, array


class Tensor:
    def __init__(self, array, safetensors_dtype):
        self.array, self.dtype = array, safetensors_dtype


def rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad=False,
                      backward_hooks=None, metadata=None):
    if not isinstance(storage, Storage):
        raise ConversionError("_rebuild_tensor_v2 got %r instead of a storage" % (storage,))
    size, stride = tuple(int(s) for s in size), tuple(int(s) for s in stride)
    offset = int(storage_offset)
    if len(size) != len(stride):
        raise ConversionError("tensor on storage %s: size %s and stride %s differ in rank"
                              % (storage.key, size, stride))
    if offset < 0 or any(s < 0 for s in size) or any(s < 0 for s in stride):
        raise ConversionError("tensor on storage %s: negative offset, size or stride (%d, %s, %s)"
                              % (storage.key, offset, size, stride))
    base = storage.array
    if 0 in size:
        return Tensor(np.zeros(size, dtype=base.dtype), storage.type.safetensors_dtype)
    last = offset + sum((n - 1) * s for n, s in zip(size, stride))
    if last >= base.size:
        raise ConversionError("tensor on storage %s (offset %d, size %s, stride %s) reaches element "
                              "%d of a %d-element storage" % (storage.key, offset, size, stride, last,
                                                               base.size))
    view = np.lib.stride_tricks.as_strided(base[offset:], shape=size,
                                           strides=tuple(s * base.itemsize for s in stride),
                                           writeable=False)
    # np.array, not np.ascontiguousarray, which would turn a 0-d scalar into shape (1,).
    return Tensor(np.array(view, order="C", copy=True), storage.type.safetensors_dtype)


def rebuild_parameter(data, requires_grad=False, backward_hooks=None):
    return data


class PthUnpickler(pickle.Unpickler):
    def __init__(self, file, archive, prefix, byteorder):
        super().__init__(file)
        self.archive, self.prefix, self.byteorder = archive, prefix, byteorder
        self.storages = {}

    def find_class(self, module, name):
        if (module, name) == ("collections", "OrderedDict"):
            return collections.OrderedDict
        if (module, name) == ("torch._utils", "_rebuild_tensor_v2"):
            return rebuild_tensor_v2
        if (module, name) == ("torch._utils", "_rebuild_parameter"):
            return rebuild_parameter
        if module == "torch" and name in STORAGE_TYPES:
            return StorageType(name)
        raise pickle.UnpicklingError("refusing global %s.%s (only plain tensor state dicts are "
                                     "supported)" % (module, name))

    def persistent_load(self, pid):
        if not (isinstance(pid, tuple) and len(pid) == 5 and pid[0] == "storage"
                and isinstance(pid[1], StorageType)):
            raise pickle.UnpicklingError("unsupported persistent id %r (expected ('storage', "
                                         "torch.<Type>Storage, key, location, numel))" % (pid,))
        _, storage_type, key, _location, numel = pid
        key = str(key)
        if key in self.storages:
            return self.storages[key]
        member = "%s/data/%s" % (self.prefix, key)
        try:
            raw = self.archive.read(member)
        except KeyError:
            raise ConversionError("storage %s is missing from the archive (%s)" % (key, member))
        dtype = np.dtype(storage_type.numpy_dtype).newbyteorder("<" if self.byteorder == "little" else ">")
        if len(raw) != int(numel) * dtype.itemsize:
            raise ConversionError("storage %s holds %d bytes, expected %d elements of %d bytes"
                                  % (key, len(raw), int(numel), dtype.itemsize))
        array = np.frombuffer(raw, dtype=dtype).astype(dtype.newbyteorder("="), copy=False)
        storage = Storage(key, storage_type, array)
        self.storages[key] = storage
        return storage


def load_pth(path):
    """The state dict of a zip-format .pth as an ordered {name: Tensor}."""
    if not zipfile.is_zipfile(path):
        raise ConversionError("%s is not a zip archive: only the torch.save format of torch >= 1.6 "
                              "is supported" % path)
    with zipfile.ZipFile(path) as archive:
        pickles = [n for n in archive.namelist() if n.endswith("/data.pkl") or n == "data.pkl"]
        if len(pickles) != 1:
            raise ConversionError("%s: expected one data.pkl in the archive, found %d" % (path, len(pickles)))
        prefix = pickles[0][: -len("/data.pkl")] if "/" in pickles[0] else ""
        byteorder = "little"
        if prefix + "/byteorder" in archive.namelist():
            byteorder = archive.read(prefix + "/byteorder").decode().strip()
            if byteorder not in ("little", "big"):
                raise ConversionError("%s: unknown byteorder %r" % (path, byteorder))
        with archive.open(pickles[0]) as f:
            try:
                obj = PthUnpickler(f, archive, prefix, byteorder).load()
            except (pickle.UnpicklingError, EOFError, AttributeError, TypeError, ValueError) as e:
                raise ConversionError("%s: cannot unpickle %s: %s" % (path, pickles[0], e))
    if not isinstance(obj, dict):
        raise ConversionError("%s holds a %s, not a state dict" % (path, type(obj).__name__))
    bad = [k for k, v in obj.items() if not isinstance(k, str) or not isinstance(v, Tensor)]
    if bad:
        raise ConversionError("%s: entries that are not name -> tensor: %s" % (path, bad[:5]))
    return obj


def safetensors_bytes(tensors, metadata):
    """A safetensors image of {name: Tensor} (in order) with string metadata."""
    header = collections.OrderedDict()
    if metadata:
        header["__metadata__"] = collections.OrderedDict(sorted(metadata.items()))
    offset, chunks = 0, []
    for name, t in tensors.items():
        data = t.array.astype(t.array.dtype.newbyteorder("<"), copy=False).tobytes(order="C")
        header[name] = collections.OrderedDict(
            [("dtype", t.dtype), ("shape", list(t.array.shape)), ("data_offsets", [offset, offset + len(data)])])
        offset += len(data)
        chunks.append(data)
    text = json.dumps(header, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    text += b" " * (-len(text) % 8)
    return struct.pack("<Q", len(text)) + text + b"".join(chunks)


def read_safetensors_header(path):
    """(header without __metadata__, metadata) of a safetensors file, with basic checks."""
    with open(path, "rb") as f:
        size = os.fstat(f.fileno()).st_size
        head = f.read(8)
        if len(head) != 8:
            raise ConversionError("%s: too short for a safetensors file" % path)
        (n,) = struct.unpack("<Q", head)
        if n > size - 8:
            raise ConversionError("%s: header length %d exceeds the file" % (path, n))
        try:
            header = json.loads(f.read(n).decode("utf-8"), object_pairs_hook=collections.OrderedDict)
        except ValueError as e:
            raise ConversionError("%s: malformed header: %s" % (path, e))
    metadata = header.pop("__metadata__", {})
    end = max([v["data_offsets"][1] for v in header.values()] or [0])
    if end != size - 8 - n:
        raise ConversionError("%s: tensors cover %d of %d data bytes" % (path, end, size - 8 - n))
    return header, metadata


def check_against(header, metadata, listing_path, source_sha256=None):
    """Compares tensor names, shapes and dtypes with a JSON listing; returns a list of problems."""
    with open(listing_path) as f:
        listing = json.load(f)
    expected = collections.OrderedDict((t["name"], t) for t in listing["tensors"])
    problems = []
    missing = [n for n in expected if n not in header]
    extra = [n for n in header if n not in expected]
    if missing:
        problems.append("%d tensors missing: %s" % (len(missing), ", ".join(missing[:10])))
    if extra:
        problems.append("%d tensors not in the listing: %s" % (len(extra), ", ".join(extra[:10])))
    for name, t in expected.items():
        if name not in header:
            continue
        got = header[name]
        if list(got["shape"]) != list(t["shape"]):
            problems.append("%s: shape %s, listing says %s" % (name, got["shape"], t["shape"]))
        want = LISTING_DTYPES.get(t.get("dtype", ""), t.get("dtype"))
        if want is not None and got["dtype"] != want:
            problems.append("%s: dtype %s, listing says %s" % (name, got["dtype"], t["dtype"]))
    if "n_tensors" in listing and listing["n_tensors"] != len(header):
        problems.append("%d tensors, listing says %d" % (len(header), listing["n_tensors"]))
    listed_sha = listing.get("sha256")
    source_sha = source_sha256 or metadata.get("source_sha256")
    if listed_sha and source_sha and listed_sha != source_sha:
        problems.append("source sha256 %s, listing says %s" % (source_sha, listed_sha))
    return problems


def sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def report_check(path, listing, problems, count):
    if problems:
        print("%s does not match %s:" % (path, listing), file=sys.stderr)
        for p in problems:
            print("  " + p, file=sys.stderr)
        return 1
    print("%s: all %d tensor names, shapes and dtypes match %s" % (path, count, listing), file=sys.stderr)
    return 0


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    conv = sub.add_parser("convert", help="convert a .pth state dict to safetensors")
    conv.add_argument("input")
    conv.add_argument("output")
    conv.add_argument("--check-against", metavar="JSON")
    conv.add_argument("--metadata", action="append", default=[], metavar="KEY=VALUE",
                      help="extra __metadata__ entries (source and source_sha256 are always written)")
    chk = sub.add_parser("check", help="compare a safetensors file with a JSON tensor listing")
    chk.add_argument("file")
    chk.add_argument("listing")
    args = parser.parse_args(argv)

    try:
        if args.command == "check":
            header, metadata = read_safetensors_header(args.file)
            return report_check(args.file, args.listing, check_against(header, metadata, args.listing),
                                len(header))

        source_sha = sha256_file(args.input)
        tensors = load_pth(args.input)
        metadata = {"format": "pt", "source": os.path.basename(args.input), "source_sha256": source_sha}
        for item in args.metadata:
            key, sep, value = item.partition("=")
            if not sep:
                parser.error("--metadata takes KEY=VALUE, got %r" % item)
            metadata[key] = value
        image = safetensors_bytes(tensors, metadata)
        if args.check_against:
            header = collections.OrderedDict((n, {"shape": list(t.array.shape), "dtype": t.dtype})
                                             for n, t in tensors.items())
            problems = check_against(header, metadata, args.check_against, source_sha)
            if report_check(args.input, args.check_against, problems, len(header)):
                return 1
        tmp = args.output + ".tmp-%d" % os.getpid()
        with open(tmp, "wb") as f:
            f.write(image)
        os.replace(tmp, args.output)
        print("%s: %d tensors, %d bytes, sha256 %s" % (args.output, len(tensors), len(image),
                                                      hashlib.sha256(image).hexdigest()), file=sys.stderr)
        return 0
    except (ConversionError, OSError, KeyError, ValueError) as e:
        print("convert_pth.py: error: %s" % e, file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
