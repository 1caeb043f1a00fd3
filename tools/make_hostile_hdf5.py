#!/usr/bin/env python3
"""Writes malformed and hostile HDF5 files for RNNFormat's reader tests.

Output: fixtures/hostile/hdf5/*.h5 and fixtures/hostile/hdf5/index.json, a list of
{"file", "expect", "same_as", "why"}: `expect` is a substring of the one-line error
(RNNFormatError.description) the reader must throw, or null when the file must load; `same_as`
names a file whose modules must read back equal. Regenerate with:

    python3 tools/make_hostile_hdf5.py

Needs h5py and numpy. Deterministic (fixed seed, no timestamps).
"""
import json
import os
import shutil

import h5py
import numpy as np

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fixtures", "hostile", "hdf5")
rng = np.random.default_rng(20240611)

# A small GRU (input 3, hidden 2): every file starts from these tensors.
GRU = {
    "weight_ih_l0": rng.uniform(-1, 1, (6, 3)).astype(np.float32),
    "weight_hh_l0": rng.uniform(-1, 1, (6, 2)).astype(np.float32),
    "bias_ih_l0": rng.uniform(-1, 1, (6,)).astype(np.float32),
    "bias_hh_l0": rng.uniform(-1, 1, (6,)).astype(np.float32),
}
GRU_ATTRS = {"module": "GRU", "input_size": 3, "hidden_size": 2, "num_layers": 1, "bias": np.int8(1),
             "batch_first": np.int8(0), "dropout": 0.0, "bidirectional": np.int8(0)}

entries = []


def case(name, expect, why, same_as=None):
    """Registers the file `name` and returns its path."""
    entries.append({"file": name, "expect": expect, "same_as": same_as, "why": why})
    return os.path.join(ROOT, name)


def root_attrs(f, version="1.0", fmt="rnnkit"):
    f.attrs["format"] = fmt
    f.attrs["format_version"] = version
    f.attrs["producer"] = "make_hostile_hdf5.py"


def canonical(path, tensors=None, attrs=None, group="rnn", version="1.0", mutate=None, **kw):
    """A spec-shaped file (h5py, no checksums) with optional changes before closing."""
    tensors = dict(GRU if tensors is None else tensors)
    attrs = dict(GRU_ATTRS if attrs is None else attrs)
    with h5py.File(path, "w", **kw) as f:
        root_attrs(f, version)
        g = f.require_group(group)
        for k, v in attrs.items():
            g.attrs[k] = v
        for k, v in tensors.items():
            g.create_dataset(k, data=v)
        if mutate:
            mutate(f, g)


def bare(path, tensors=None, group="rnn", mutate=None, **kw):
    with h5py.File(path, "w", **kw) as f:
        g = f.require_group(group)
        for k, v in (GRU if tensors is None else tensors).items():
            g.create_dataset(k, data=v)
        if mutate:
            mutate(f, g)


def main():
    if os.path.isdir(ROOT):
        shutil.rmtree(ROOT)
    os.makedirs(ROOT)

    # --- files that must load -------------------------------------------------------------
    canonical(case("reference.h5", None, "spec layout written by h5py: loads"))
    canonical(case("bool_enum_attrs.h5", None, "booleans as h5py bool enums load", "reference.h5"),
              attrs={**GRU_ATTRS, "bias": True, "batch_first": False, "bidirectional": False})
    canonical(case("fixed_length_strings.h5", None, "fixed-length byte-string attributes load", "reference.h5"),
              attrs={**GRU_ATTRS, "module": np.bytes_(b"GRU")})
    canonical(case("big_endian.h5", None, "big-endian float32 datasets are converted", "reference.h5"),
              tensors={k: v.astype(">f4") for k, v in GRU.items()})
    canonical(case("float64.h5", None, "float64 datasets are narrowed to float32"),
              tensors={k: v.astype(np.float64) for k, v in GRU.items()})
    canonical(case("newer_minor.h5", None, "a newer minor version loads; its unknown attributes are ignored", "reference.h5"),
              version="1.7", mutate=lambda f, g: g.attrs.create("future_option", 3))
    bare(case("bare_flat_names.h5", None, "bare dump with dotted dataset names at the root loads"),
         group="/", tensors={"rnn." + k: v for k, v in GRU.items()})

    def extras(f, g):
        f.create_dataset("model/embed/weight", data=np.ones((4, 3), np.float32))
        f.create_dataset("head/weight", data=np.ones((2, 2), np.float32))
        f.create_dataset("head/steps", data=np.int64(7))
    bare(case("bare_with_leftovers.h5", None, "bare dump of a whole model: non-RNN tensors are leftovers, not errors"),
         group="model/rnn", mutate=extras)

    def filtered(f, g):
        for k in list(g):
            data = g[k][()]
            del g[k]
            g.create_dataset(k, data=data, chunks=True, compression="gzip", shuffle=True, fletcher32=True)
    canonical(case("allowed_filters.h5", None, "deflate + shuffle + fletcher32 are allowed", "reference.h5"), mutate=filtered)

    # --- not HDF5, versions, metadata ------------------------------------------------------
    with open(case("not_hdf5.h5", "not an HDF5 file (expected signature", "text, not HDF5"), "w") as out:
        out.write("weight_ih_l0 = [1, 2, 3]\n")
    open(case("empty.h5", "empty file", "zero bytes"), "wb").close()
    canonical(case("newer_major.h5", "format version 2.0 is not readable", "a newer major version is refused"), version="2.0")
    canonical(case("bad_version_string.h5", "expected \"major.minor\"", "format_version is not major.minor"), version="one")
    with h5py.File(case("other_format.h5", "root attribute format: expected \"rnnkit\", found \"keras\"", "another format's file"), "w") as f:
        root_attrs(f, fmt="keras")
        for k, v in GRU.items():
            f.create_dataset("rnn/" + k, data=v)
    with h5py.File(case("no_modules.h5", "no RNN module found", "only non-RNN tensors"), "w") as f:
        f.create_dataset("head/weight", data=np.ones((2, 2), np.float32))

    # --- module structure ------------------------------------------------------------------
    canonical(case("missing_tensor.h5", "/rnn/bias_hh_l0: missing", "a tensor the hyperparameters need is absent"),
              tensors={k: v for k, v in GRU.items() if k != "bias_hh_l0"})
    canonical(case("wrong_shape.h5", "/rnn/weight_hh_l0: expected shape [6, 2], found [6, 3]", "a tensor of the wrong shape"),
              tensors={**GRU, "weight_hh_l0": np.zeros((6, 3), np.float32)})
    canonical(case("rank3_tensor.h5", "/rnn/weight_ih_l0: expected a matrix (rank 2), found shape [6, 3, 1]", "weights are matrices"),
              tensors={**GRU, "weight_ih_l0": GRU["weight_ih_l0"].reshape(6, 3, 1)})
    canonical(case("int32_dataset.h5", "/rnn/weight_ih_l0: expected float16, float32, float64 or int8 (quantized weights), found int32", "int32 tensor"),
              tensors={**GRU, "weight_ih_l0": np.ones((6, 3), np.int32)})
    canonical(case("string_dataset.h5", "/rnn/weight_ih_l0: expected a float or int8 tensor, found a dataset of type variable-length string", "string tensor"),
              tensors={**GRU, "weight_ih_l0": np.array([b"weights"] * 6)})
    nan = GRU["weight_hh_l0"].copy()
    nan[1, 1] = np.nan
    canonical(case("nan.h5", "/rnn/weight_hh_l0: expected finite values, found nan at flat index 3", "NaN in a weight"),
              tensors={**GRU, "weight_hh_l0": nan})
    canonical(case("attr_contradiction.h5", "/rnn: attribute hidden_size contradicts the tensor shapes: expected 2 (from the shapes), found 3",
                   "attribute contradicting the shapes"), attrs={**GRU_ATTRS, "hidden_size": 3})
    canonical(case("unknown_module.h5", "attribute module: expected one of GRU, LSTM, RNN, GRUCell, LSTMCell, RNNCell, found \"Transformer\"",
                   "unknown module kind"), attrs={**GRU_ATTRS, "module": "Transformer"})
    canonical(case("bool_two.h5", "attribute bidirectional: expected a bool (0 or 1, or h5py's bool), found integer 2", "bool out of range"),
              attrs={**GRU_ATTRS, "bidirectional": 2})
    canonical(case("negative_hidden.h5", "expected hidden_size between 1 and", "negative size"), attrs={**GRU_ATTRS, "hidden_size": -1})
    canonical(case("int64_min_size.h5", "attribute input_size: expected an integer within 32 bits, found integer -9223372036854775808", "extreme integer"),
              attrs={**GRU_ATTRS, "input_size": np.int64(-2**63)})
    canonical(case("missing_input_size.h5", "missing attribute input_size", "required attribute absent"),
              attrs={k: v for k, v in GRU_ATTRS.items() if k != "input_size"})
    canonical(case("unexpected_dataset.h5", "/rnn/extra: unexpected in a GRU", "stray dataset in a module group"),
              tensors={**GRU, "extra": np.zeros(3, np.float32)})
    canonical(case("unexpected_group.h5", "/rnn/sub: unexpected group inside the GRU module group", "group inside a module group"),
              mutate=lambda f, g: g.create_group("sub"))
    canonical(case("unexpected_attribute.h5", "/rnn: unexpected attribute color", "unknown attribute in a v1.0 module group"),
              mutate=lambda f, g: g.attrs.create("color", "red"))
    canonical(case("module_without_tensors.h5", "/rnn/weight_ih_l0: missing", "module group without datasets"), tensors={})
    bare(case("bare_broken_module.h5", "found bias_hh_l0, bias_ih_l0, weight_ih_l0 but not weight_ih_l0 and weight_hh_l0",
              "bare group with RNN names but no hidden weight"), tensors={k: v for k, v in GRU.items() if k != "weight_hh_l0"})
    bare(case("bare_mixed_names.h5", "mixes cell names", "cell and layer names in one bare group"),
         tensors={**GRU, "weight_ih": GRU["weight_ih_l0"], "weight_hh": GRU["weight_hh_l0"]})

    # --- integrity and quantization -------------------------------------------------------
    canonical(case("bad_checksum.h5", "/rnn/weight_ih_l0: checksum mismatch", "sha256 attribute does not match the data"),
              mutate=lambda f, g: g["weight_ih_l0"].attrs.create("sha256", "0" * 64))
    canonical(case("malformed_checksum.h5", "attribute sha256: expected 64 hex digits", "sha256 attribute is not a digest"),
              mutate=lambda f, g: g["weight_ih_l0"].attrs.create("sha256", "abc"))
    canonical(case("int8_bias.h5", "/rnn/bias_ih_l0: expected a float bias, found int8 values", "int8 bias"),
              tensors={**GRU, "bias_ih_l0": np.ones(6, np.int8)})
    canonical(case("int8_without_scale.h5", "an int8 weight needs attributes scale, zero_point and quantization; missing scale", "int8 weight without scales"),
              tensors={**GRU, "weight_ih_l0": np.ones((6, 3), np.int8)})

    def bad_scales(f, g):
        del g["weight_ih_l0"]
        d = g.create_dataset("weight_ih_l0", data=np.ones((6, 3), np.int8))
        d.attrs["scale"] = np.ones(4, np.float32)
        d.attrs["zero_point"] = np.zeros(4, np.int32)
        d.attrs["quantization"] = "per_channel"
    canonical(case("per_channel_scale_count.h5", "attribute scale: expected 6 float(s) for per_channel over 6 rows, found 4 floats", "per-channel scales of the wrong count"), mutate=bad_scales)

    def scales_on_float(f, g):
        g["weight_ih_l0"].attrs["scale"] = np.float32(0.1)
    canonical(case("scale_on_float.h5", "attribute scale belongs to int8 weights, found on a float32 dataset", "quantization attributes on a float tensor"), mutate=scales_on_float)

    # --- restricted profile: links, storage, filters, types -------------------------------
    canonical(case("soft_link.h5", "/alias: soft link refused", "soft link"), mutate=lambda f, g: f.__setitem__("alias", h5py.SoftLink("/rnn")))
    canonical(case("external_link.h5", "/outside: external link refused", "external link"),
              mutate=lambda f, g: f.__setitem__("outside", h5py.ExternalLink("/etc/passwd", "/")))
    canonical(case("hard_link_loop.h5", "/rnn/loop: hard link to an object already reached as /rnn", "group linked into itself"),
              mutate=lambda f, g: g.__setitem__("loop", g))
    canonical(case("hard_link_alias.h5", "/rnn/weight_ih_l0: hard link to an object already reached as /copy", "the same dataset under two names"),
              mutate=lambda f, g: f.__setitem__("copy", g["weight_ih_l0"]))
    canonical(case("named_datatype.h5", "/mytype: named datatype refused", "committed datatype"),
              mutate=lambda f, g: f.__setitem__("mytype", np.dtype("<f4")))

    def external_storage(f, g):
        del g["weight_ih_l0"]
        g.create_dataset("weight_ih_l0", shape=(6, 3), dtype="<f4", external=[("/etc/passwd", 0, h5py.h5f.UNLIMITED)])
    canonical(case("external_storage.h5", "/rnn/weight_ih_l0: external storage refused", "dataset stored in another file (CVE-2026-1669 style)"),
              mutate=external_storage)

    def virtual(f, g):
        layout = h5py.VirtualLayout(shape=(6, 3), dtype="<f4")
        layout[:] = h5py.VirtualSource("other.h5", "/data", shape=(6, 3))
        del g["weight_ih_l0"]
        g.create_virtual_dataset("weight_ih_l0", layout)
    canonical(case("virtual_dataset.h5", "/rnn/weight_ih_l0: virtual dataset refused", "virtual dataset mapping another file"), mutate=virtual)

    def with_filter(**kw):
        def mutate(f, g):
            data = g["weight_ih_l0"][()]
            del g["weight_ih_l0"]
            g.create_dataset("weight_ih_l0", data=data, chunks=(6, 3), **kw)
        return mutate
    canonical(case("lzf_filter.h5", "/rnn/weight_ih_l0: filter lzf (id 32000) refused", "filter outside the allow-list (h5py's lzf)"),
              mutate=with_filter(compression="lzf"))
    canonical(case("scaleoffset_filter.h5", "filter scaleoffset (id 6) refused", "lossy scale-offset filter"),
              mutate=with_filter(scaleoffset=4))

    def shape_bomb(f, g):
        d = f.create_dataset("bomb", shape=(40000, 40000), dtype="<f4", chunks=(1000, 1000), compression="gzip")
        d[0, 0] = 1.0  # one chunk stored: a few bytes standing for 6.4 GB
    canonical(case("shape_bomb.h5", "/bomb: shape [40000, 40000] declares 6400000000 bytes from", "declared size far beyond what is stored"), mutate=shape_bomb)

    def element_bomb(f, g):
        f.create_dataset("bomb", shape=(1 << 20, 1 << 20), dtype="<f4", chunks=(64, 64), compression="gzip")
    canonical(case("element_bomb.h5", "/bomb: shape [1048576, 1048576] declares more than 2147483648 elements", "2^40 elements"), mutate=element_bomb)

    def unallocated(f, g):
        f.create_dataset("empty", shape=(100,), dtype="<f4")
    canonical(case("unallocated.h5", "/empty: shape [100] of float32 declares 400 bytes, but the dataset stores 0", "declared but never written"), mutate=unallocated)

    def partial_chunks(f, g):
        d = f.create_dataset("partial", shape=(100, 100), dtype="<f4", chunks=(10, 10))
        d[0:10, 0:10] = 1.0
    canonical(case("partial_chunks.h5", "/partial: shape [100, 100] declares 40000 bytes, but its uncompressed chunks store only 400", "chunks never written"), mutate=partial_chunks)

    canonical(case("compound_dataset.h5", "/table: expected a float or int8 tensor, found a dataset of type compound", "compound dataset"),
              mutate=lambda f, g: f.create_dataset("table", data=np.zeros(3, dtype=[("a", "<i4"), ("b", "<f8")])))
    canonical(case("null_dataspace.h5", "/nothing: expected a tensor, found a dataset with a null (empty) dataspace", "h5py.Empty"),
              mutate=lambda f, g: f.create_dataset("nothing", data=h5py.Empty("f4")))
    canonical(case("rank9.h5", "/deep: rank 9 (at most 8 allowed)", "rank beyond the cap"),
              mutate=lambda f, g: f.create_dataset("deep", data=np.zeros((1,) * 9, np.float32)))
    bare(case("int16_bare.h5", "/rnn/weight_hh_l0: expected float16, float32, float64 or int8 (quantized weights), found int16", "int16 tensor in a bare dump"),
         tensors={**GRU, "weight_hh_l0": np.ones((6, 2), np.int16)})

    def deep(f, g):
        f.create_group("/".join(["d"] * 40))
    canonical(case("deep_nesting.h5", "groups nested deeper than 32 levels", "group depth beyond the cap"), mutate=deep)

    def many_attrs(f, g):
        for i in range(300):
            g.attrs[f"a{i:03d}"] = i
    canonical(case("many_attributes.h5", "expected at most 256 attributes, found 308", "attribute count beyond the cap"), mutate=many_attrs, libver="latest")
    canonical(case("big_attribute.h5", "/rnn: huge fractal heap object (over 64 KiB, stored outside the heap) refused", "attribute beyond 64 KiB (dense storage)"),
              attrs={**GRU_ATTRS, "dropout": np.zeros(25600, np.float32)}, libver="latest")
    canonical(case("long_name.h5", "link name of 2000 bytes (at most 1024 allowed)", "link name beyond the cap"),
              mutate=lambda f, g: f.create_group("n" * 2000))

    # A global heap object (a variable-length string) whose size is corrupted: libhdf5 1.10
    # would memcpy that many bytes; the reader checks every heap collection first.
    path = case("damaged_global_heap.h5", "/: damaged global heap collection at byte 2048: object 1 declares 576460752303423494 bytes, the collection has 4064 left", "heap object size beyond its collection")
    canonical(path)
    with open(path, "r+b") as out:
        data = out.read()
        at = data.index(b"GCOL\x01\x00\x00\x00")
        out.seek(at + 16 + 8 + 7)  # first object's 8-byte size, top byte
        out.write(b"\x08")

    # A string reference (length, heap address, object index) naming an object the heap does
    # not hold: libhdf5 1.10 would index past its object table.
    path = case("damaged_heap_reference.h5", "/: damaged global heap collection at byte 2048: attribute format_version names object 8323074 of 3 bytes, which the collection does not hold", "string reference to a missing heap object")
    canonical(path)
    with open(path, "r+b") as out:
        data = out.read()
        heap = data.index(b"GCOL\x01\x00\x00\x00")
        # The module attribute "GRU": length 3, then the heap's address, then the object index.
        at = data.index((3).to_bytes(4, "little") + heap.to_bytes(8, "little"))
        out.seek(at + 4 + 8 + 2)  # object index, third byte
        out.write(b"\x7f")
    # --- added by the hardening pass (issue 6): values, ranks, types, contradictions ---------
    def with_value(name, index, value, dtype=np.float32):
        t = GRU[name].astype(dtype)
        t.flat[index] = value
        return {**GRU, name: t}
    canonical(case("inf_weight.h5", "/rnn/weight_ih_l0: expected finite values, found inf at flat index 4", "+inf in a weight"),
              tensors=with_value("weight_ih_l0", 4, np.inf))
    canonical(case("neg_inf_bias.h5", "/rnn/bias_hh_l0: expected finite values, found -inf at flat index 0", "-inf in a bias"),
              tensors=with_value("bias_hh_l0", 0, -np.inf))
    canonical(case("nan_bias.h5", "/rnn/bias_ih_l0: expected finite values, found nan at flat index 5", "NaN in a bias"),
              tensors=with_value("bias_ih_l0", 5, np.nan))
    canonical(case("nan_float16.h5", "/rnn/weight_hh_l0: expected finite values, found nan at flat index 2", "NaN in a float16 weight"),
              tensors={k: v.astype(np.float16) for k, v in with_value("weight_hh_l0", 2, np.nan).items()})
    canonical(case("inf_float16.h5", "/rnn/weight_hh_l0: expected finite values, found inf at flat index 7", "inf in a float16 weight"),
              tensors={k: v.astype(np.float16) for k, v in with_value("weight_hh_l0", 7, np.inf).items()})
    canonical(case("float64_overflow.h5", "/rnn/weight_ih_l0: expected finite values, found inf at flat index 1",
                   "a finite float64 too large for float32 becomes inf when narrowed"),
              tensors={k: v.astype(np.float64) for k, v in with_value("weight_ih_l0", 1, 1e300, np.float64).items()})
    bare(case("bare_nan.h5", "/rnn/weight_hh_l0: expected finite values, found nan at flat index 0", "NaN in a bare dump"),
         tensors=with_value("weight_hh_l0", 0, np.nan))

    def quantized_scale(value):
        def mutate(f, g):
            del g["weight_ih_l0"]
            d = g.create_dataset("weight_ih_l0", data=np.ones((6, 3), np.int8))
            d.attrs["scale"] = np.float32(value)
            d.attrs["zero_point"] = np.int32(0)
            d.attrs["quantization"] = "per_tensor"
        return mutate
    canonical(case("nan_scale.h5", "/rnn/weight_ih_l0: expected positive finite scales, found nan at index 0", "NaN quantization scale"),
              mutate=quantized_scale(np.nan))
    canonical(case("zero_scale.h5", "/rnn/weight_ih_l0: expected positive finite scales, found 0.0 at index 0", "zero quantization scale"),
              mutate=quantized_scale(0.0))
    canonical(case("negative_scale.h5", "/rnn/weight_ih_l0: expected positive finite scales, found -0.5 at index 0", "negative quantization scale"),
              mutate=quantized_scale(-0.5))

    canonical(case("rank1_weight.h5", "/rnn/weight_ih_l0: expected a matrix (rank 2), found shape [18]", "a weight flattened to a vector"),
              tensors={**GRU, "weight_ih_l0": GRU["weight_ih_l0"].reshape(18)})
    canonical(case("rank0_weight.h5", "/rnn/weight_hh_l0: expected a matrix (rank 2), found shape []", "a scalar where a weight belongs"),
              tensors={**GRU, "weight_hh_l0": np.float32(0.5)})
    canonical(case("rank2_bias.h5", "/rnn/bias_ih_l0: expected a vector (rank 1), found shape [6, 1]", "a bias stored as a column"),
              tensors={**GRU, "bias_ih_l0": GRU["bias_ih_l0"].reshape(6, 1)})
    canonical(case("zero_rows.h5", "/rnn/weight_ih_l0: expected shape [6, 3], found [0, 3]", "an empty weight"),
              tensors={**GRU, "weight_ih_l0": np.zeros((0, 3), np.float32)})
    canonical(case("transposed_weight.h5", "/rnn/weight_ih_l0: expected shape [6, 3], found [3, 6]", "a weight stored transposed (Keras layout)"),
              tensors={**GRU, "weight_ih_l0": GRU["weight_ih_l0"].T.copy()})
    bare(case("bare_rank1_weight.h5", "expected a matrix (rank 2), found shape [12]", "a flattened weight in a bare dump"),
         tensors={**GRU, "weight_hh_l0": GRU["weight_hh_l0"].reshape(12)})

    compound = np.zeros((6, 3), dtype=[("re", "<f4"), ("im", "<f4")])
    canonical(case("compound_weight.h5", "/rnn/weight_ih_l0: expected a float or int8 tensor, found a dataset of type compound", "complex numbers as a compound weight"),
              tensors={**GRU, "weight_ih_l0": compound})
    canonical(case("vlen_string_weight.h5", "/rnn/weight_ih_l0: expected a float or int8 tensor, found a dataset of type variable-length string", "variable-length strings as a weight"),
              tensors={**GRU, "weight_ih_l0": np.array(["w"] * 6, dtype=h5py.string_dtype())})
    canonical(case("opaque_weight.h5", "/rnn/weight_ih_l0: expected a float or int8 tensor, found a dataset of type opaque", "opaque bytes as a weight"),
              tensors={**GRU, "weight_ih_l0": np.zeros((6, 3), dtype="V4")})
    canonical(case("bool_weight.h5", "/rnn/weight_ih_l0: expected a float or int8 tensor, found a dataset of type enum of 2 members", "h5py bools as a weight"),
              tensors={**GRU, "weight_ih_l0": np.ones((6, 3), dtype=bool)})
    def array_type(f, g):
        # numpy expands a subarray dtype in data into dimensions, so create the type explicitly.
        del g["weight_ih_l0"]
        g.create_dataset("weight_ih_l0", shape=(6,), dtype=np.dtype(("<f4", (3,))))
    canonical(case("array_type_weight.h5", "/rnn/weight_ih_l0: expected a float or int8 tensor, found a dataset of type array", "an HDF5 array type as a weight"),
              mutate=array_type)
    canonical(case("reference_dataset.h5", "/refs: expected a float or int8 tensor, found a dataset of type reference", "object references"),
              mutate=lambda f, g: f.create_dataset("refs", data=np.array([g.ref], dtype=h5py.ref_dtype)))
    canonical(case("string_size_attr.h5", "attribute input_size: expected one integer, found string \"3\"", "a size written as a string"),
              attrs={**GRU_ATTRS, "input_size": "3"})
    canonical(case("float_size_attr.h5", "attribute hidden_size: expected one integer, found float 2.5", "a fractional size"),
              attrs={**GRU_ATTRS, "hidden_size": 2.5})
    canonical(case("array_size_attr.h5", "attribute num_layers: expected one integer, found 2 integers", "a size given as an array"),
              attrs={**GRU_ATTRS, "num_layers": np.array([1, 1], np.int64)})
    canonical(case("compound_attribute.h5", "attribute note: expected an integer, float, string or bool, found compound", "compound attribute"),
              mutate=lambda f, g: g.attrs.create("note", np.zeros(1, dtype=[("a", "<i4")])))
    canonical(case("module_attr_integer.h5", "attribute module: expected a string, found integer 1", "module kind given as a number"),
              attrs={**GRU_ATTRS, "module": 1})

    canonical(case("input_size_contradiction.h5", "/rnn: attribute input_size contradicts the tensor shapes: expected 3 (from the shapes), found 4",
                   "input_size contradicting the weights"), attrs={**GRU_ATTRS, "input_size": 4})
    canonical(case("num_layers_contradiction.h5", "/rnn/weight_ih_l1: missing", "num_layers 2 with the tensors of one layer"),
              attrs={**GRU_ATTRS, "num_layers": 2})
    canonical(case("bidirectional_without_reverse.h5", "/rnn/weight_ih_l0_reverse: missing", "bidirectional with no reverse tensors"),
              attrs={**GRU_ATTRS, "bidirectional": np.int8(1)})
    canonical(case("reverse_without_bidirectional.h5", "/rnn/bias_hh_l0_reverse: unexpected in a GRU", "reverse tensors in a unidirectional module"),
              tensors={**GRU, **{k + "_reverse": v for k, v in GRU.items()}})
    canonical(case("bias_false_with_biases.h5", "/rnn/bias_hh_l0: unexpected in a GRU", "bias 0 but bias tensors stored"),
              attrs={**GRU_ATTRS, "bias": np.int8(0)})
    canonical(case("bias_true_without_biases.h5", "/rnn/bias_ih_l0: missing", "bias 1 but no bias tensors"),
              tensors={k: v for k, v in GRU.items() if not k.startswith("bias")})
    canonical(case("proj_size_on_gru.h5", "proj_size", "proj_size on a GRU"), attrs={**GRU_ATTRS, "proj_size": 1})
    canonical(case("nonlinearity_on_gru.h5", "nonlinearity", "nonlinearity on a GRU"), attrs={**GRU_ATTRS, "nonlinearity": "relu"})
    canonical(case("lstm_named_gru_tensors.h5", "/rnn: attribute module contradicts the tensor shapes: expected GRU (from the shapes), found LSTM", "module LSTM over GRU-shaped tensors"),
              attrs={**GRU_ATTRS, "module": "LSTM", "proj_size": 0})
    canonical(case("dropout_negative.h5", "expected dropout between 0 and 1, found -0.5", "negative dropout"), attrs={**GRU_ATTRS, "dropout": -0.5})
    canonical(case("dropout_nan.h5", "dropout", "NaN dropout"), attrs={**GRU_ATTRS, "dropout": np.nan})
    canonical(case("huge_hidden.h5", "attribute hidden_size: expected an integer within 32 bits, found integer 4294967296", "hidden size beyond the cap"),
              attrs={**GRU_ATTRS, "hidden_size": 1 << 32})

    reverse = {k + "_reverse": v for k, v in GRU.items()}
    bare(case("bare_reverse_only.h5", "reverse", "bare dump with a reverse direction but no forward one"), tensors=reverse)
    canonical(case("reverse_only.h5", "/rnn/weight_ih_l0: missing", "bidirectional module holding only the reverse tensors"),
              tensors=reverse, attrs={**GRU_ATTRS, "bidirectional": np.int8(1)})
    bare(case("bare_layer1_only.h5", "layer", "bare dump with layer 1 but no layer 0"),
         tensors={k.replace("_l0", "_l1"): v for k, v in GRU.items()})

    # --- truncations, non-HDF5 content, container tricks ------------------------------------
    with open(os.path.join(ROOT, "reference.h5"), "rb") as source:
        whole = source.read()
    for cut, why in [(4, "inside the signature"), (12, "inside the superblock"), (96, "right after the superblock"),
                     (len(whole) // 2, "half the file"), (len(whole) - 1, "one byte short")]:
        expect = "ends inside the HDF5 signature" if cut < 8 else "truncated"
        with open(case(f"truncated_{cut}.h5", expect, f"reference.h5 cut to {cut} bytes: {why}"), "wb") as out:
            out.write(whole[:cut])
    with open(case("signature_only.h5", "truncated", "the 8-byte signature and nothing else"), "wb") as out:
        out.write(whole[:8])
    with open(case("signature_then_garbage.h5", "HDF5 superblock version 139 (this reader reads versions 0 to 3)", "the signature followed by seeded random bytes"), "wb") as out:
        out.write(whole[:8] + np.random.default_rng(7).integers(0, 256, 4096, dtype=np.uint8).tobytes())
    with open(case("zeros.h5", "not an HDF5 file (expected signature 89 48 44 46 0d 0a 1a 0a, found 00 00 00 00 00 00 00 00)", "4 KiB of zero bytes"), "wb") as out:
        out.write(bytes(4096))
    with open(case("png.h5", "not an HDF5 file", "a PNG image renamed"), "wb") as out:
        out.write(b"\x89PNG\r\n\x1a\n" + bytes(64))
    with open(case("gzip.h5", "not an HDF5 file", "a gzip stream"), "wb") as out:
        out.write(b"\x1f\x8b\x08\x00" + bytes(32))
    with open(case("utf16_text.h5", "not an HDF5 file", "UTF-16 text"), "w", encoding="utf-16") as out:
        out.write("weight_ih_l0 = [1, 2, 3]\n")
    canonical(case("userblock_512.h5", None, "a 512-byte user block before the superblock", "reference.h5"), userblock_size=512)
    with open(case("userblock_garbage.h5", "not an HDF5 file", "random bytes where a user block would be, no signature at 512"), "wb") as out:
        out.write(np.random.default_rng(8).integers(0, 256, 2048, dtype=np.uint8).tobytes())
    canonical(case("earliest_format.h5", None, "libver earliest (old-style groups, local heaps) loads", "reference.h5"), libver="earliest")
    canonical(case("latest_format.h5", None, "libver latest (new-style groups) loads", "reference.h5"), libver="latest")

    # --- local heaps (old-style group names), damaged the ways libhdf5 1.10 mis-handles -------
    def damage_local_heap(path, damage):
        canonical(path)
        with open(path, "r+b") as out:
            data = bytearray(out.read())
            at = data.index(b"HEAP\x00\x00\x00\x00", data.index(b"HEAP") + 1)  # the /rnn group's heap
            size, free, address = (int.from_bytes(data[at + k:at + k + 8], "little") for k in (8, 16, 24))
            damage(data, at, size, free, address)
            out.seek(0)
            out.write(data)

    def loop(data, at, size, free, address):
        data[address + free:address + free + 8] = free.to_bytes(8, "little")  # next free block: itself
    damage_local_heap(case("local_heap_free_list_loop.h5", None, "a local heap free list that loops (libhdf5 allocates forever)"), loop)

    def no_nul(data, at, size, free, address):
        data[address + size - 1] = ord("x")
    damage_local_heap(case("local_heap_no_nul.h5", None, "local heap data not ending in NUL (strdup past the heap)"), no_nul)

    # --- superblock version 2 with old-style groups (paged file space) ----------------------
    canonical(case("paged_file_space.h5", None, "paged file space: superblock 2, old-style groups", "reference.h5"),
              fs_strategy="page", fs_persist=True)


    with open(os.path.join(ROOT, "index.json"), "w") as out:
        json.dump(entries, out, indent=1)
        out.write("\n")
    print(f"wrote {len(entries)} files to {os.path.relpath(ROOT)}")


if __name__ == "__main__":
    main()
