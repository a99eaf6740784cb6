"""Partition data on disk: Parquet under a data root laid out like the refs.

Files are content-addressed (``<ref>/part-<data_version>.parquet``) and written to a temp
file then renamed, so a crash can never leave a half-written file under a live manifest,
and a rebuild that fails leaves the previous live version readable. Manifests record each
file's size: ``damage`` compares it (cheap, for status), ``read_verified`` also the data
version (on read), so a deleted, truncated or overwritten file is caught, not read.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pandas as pd

# pandas is imported where data is read, written or hashed, not at import: a null build or a
# status reads only the catalog and should not pay its second of imports.


@dataclass(frozen=True)
class Written:
    path: str  # relative to the data root
    data_version: str
    row_count: int
    size: int | None = None  # bytes on disk


class DamagedDataError(Exception):
    """A partition's file is missing or does not match its manifest."""


def data_version_of(df: pd.DataFrame) -> str:
    """Hash of content (columns, dtypes, values), independent of the Parquet writer."""
    import pandas as pd

    h = hashlib.sha256()
    h.update(repr([(str(c), str(t)) for c, t in df.dtypes.items()]).encode())
    try:
        h.update(pd.util.hash_pandas_object(df, index=False).values.tobytes())
    except TypeError:  # unhashable cells (lists, dicts): fall back to their text form
        h.update(df.astype(str).to_csv(index=False).encode())
    return h.hexdigest()[:32]


_WARM = False


def warm_up() -> None:
    """Load the Parquet and hashing code paths once in this process, before jobs are forked.

    Every job runs in a forked child (procs.run_isolated); pandas imports pyarrow.parquet
    and its hashing helpers lazily on first use, so without this each child imported them
    again and threw them away: about 40% of a small job's time (docs/performance.md)."""
    global _WARM
    if _WARM:
        return
    import io

    import pandas as pd

    df = pd.DataFrame({"a": [1], "b": ["x"], "c": [0.5]})
    data_version_of(df)
    buffer = io.BytesIO()
    df.to_parquet(buffer, index=False)
    buffer.seek(0)
    pd.read_parquet(buffer)
    _WARM = True


class DataStore:
    def __init__(self, root: str | os.PathLike):
        self.root = Path(root)
        self._prefix = os.path.join(os.fspath(self.root), "")  # "root/": str paths for stat

    def ref_dir(self, ref: str) -> Path:
        return self.root.joinpath(*ref.split("/"))

    def abspath(self, rel: str) -> Path:
        return self.root / rel

    def write(self, ref: str, df: pd.DataFrame) -> Written:
        df = df.reset_index(drop=True)
        version = data_version_of(df)
        folder = self.ref_dir(ref)
        folder.mkdir(parents=True, exist_ok=True)
        final = folder / f"part-{version}.parquet"
        if final.exists() and self._intact(final, version):  # identical content already there
            return Written(str(final.relative_to(self.root)), version, len(df),
                           os.path.getsize(final))
        # (re)written atomically: an existing file of that name may be the damaged copy
        # this rebuild is healing
        fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=".parquet", dir=folder)
        os.close(fd)
        try:
            df.to_parquet(tmp, index=False)
            with open(tmp, "rb") as f:
                os.fsync(f.fileno())
            size = os.path.getsize(tmp)
            os.replace(tmp, final)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
        return Written(str(final.relative_to(self.root)), version, len(df), size)

    @staticmethod
    def _intact(path: Path, version: str) -> bool:
        import pandas as pd

        try:
            return data_version_of(pd.read_parquet(path)) == version
        except Exception:  # noqa: BLE001 - unreadable: rewrite it
            return False

    def adopt(self, ref: str, produced: Path) -> Written:
        """Take a Parquet file an external program wrote and file it like our own."""
        import pandas as pd

        df = pd.read_parquet(produced)
        written = self.write(ref, df)
        produced.unlink(missing_ok=True)
        return written

    def read(self, rel: str) -> pd.DataFrame:
        import pandas as pd

        return pd.read_parquet(self.root / rel)

    def damage(self, rel: str | None, size: int | None) -> str | None:
        """Why the file of a live manifest is not what it recorded (None: looks intact).
        Checks existence and size only: cheap enough for every status."""
        if not rel:
            return None
        try:  # a str join, not a Path: status stats every live partition's file
            actual = os.stat(self._prefix + rel).st_size
        except OSError:
            return f"its data file {rel} is missing"
        if size is not None and actual != size:
            return f"its data file {rel} is {actual} bytes, the manifest recorded {size}"
        return None

    def read_verified(self, rel: str, size: int | None, data_version: str) -> pd.DataFrame:
        """Read a live partition's file, checking it is exactly what its manifest records."""
        why = self.damage(rel, size)
        if why:
            raise DamagedDataError(why)
        import pandas as pd

        try:
            df = pd.read_parquet(self.root / rel)
        except Exception as e:  # noqa: BLE001 - pyarrow raises many types for bad files
            raise DamagedDataError(f"its data file {rel} cannot be read "
                                   f"({type(e).__name__}: {str(e)[:200]})") from None
        if data_version and data_version_of(df) != data_version:
            raise DamagedDataError(f"its data file {rel} does not hold the data version "
                                   f"{data_version[:12]} its manifest records")
        return df
