"""Read competition-format CSVs (fname, dialogue, summary[, topic]) and refuse bad ones clearly."""
from __future__ import annotations

import csv
import logging
from pathlib import Path

import pandas as pd

from dialsum.errors import DialsumError

log = logging.getLogger(__name__)

REQUIRED_COLUMNS = ("fname", "dialogue")
SUMMARY_COLUMN = "summary"


def read_dialogue_csv(path: str | Path, require_summary: bool, keep_empty: bool = False) -> pd.DataFrame:
    """Load one split, checking existence, encoding, columns and empty rows (kept for a submission, which needs
    every fname)."""
    path = Path(path).expanduser()
    if path.is_dir():
        raise DialsumError(f"{path} is a folder, not a CSV file. Point data.train_path/val_path/test_path at the "
                           "CSV files inside it (columns fname, dialogue, summary).")
    if not path.is_file():
        raise DialsumError(
            f"data file not found: {path}. Point data.train_path/val_path/test_path at your CSVs "
            "(columns fname, dialogue, summary) or use data=synthetic."
        )
    frame = _read_utf8(path)
    frame.columns = _canonical_columns(list(frame.columns))
    required = REQUIRED_COLUMNS + ((SUMMARY_COLUMN,) if require_summary else ())
    missing = [c for c in required if c not in frame.columns]
    if missing and len(frame.columns) == 1 and (sep := _other_separator(frame.columns[0])):
        raise DialsumError(f"{path}: the header is one column ({frame.columns[0]!r}): the file is separated by "
                           f"{sep!r}, not commas. Re-export it as CSV with commas (UTF-8).")
    if missing:
        raise DialsumError(
            f"{path}: missing column(s) {missing}; found {list(frame.columns)}, "
            f"required {list(required)}. Rename the columns or fix the file."
        )
    if frame.empty:
        raise DialsumError(f"{path}: the file has a header but no rows. Give it the dialogues, one row each, or "
                           "point the data path at the file that has them.")
    return _drop_empty_rows(frame, path, required, keep_empty)


def _read_utf8(path: Path) -> pd.DataFrame:
    """pandas with explicit UTF-8, so a CP949/EUC-KR file fails loudly instead of turning to mojibake."""
    try:
        return pd.read_csv(path, encoding="utf-8", dtype=str, keep_default_na=False)
    except UnicodeDecodeError as err:
        with path.open("rb") as fh:
            utf16 = fh.read(2) in (b"\xff\xfe", b"\xfe\xff")  # Excel's "Unicode text" export
        source = "utf-16" if utf16 else "cp949"
        raise DialsumError(
            f"{path}: not valid UTF-8 (byte {err.start}{'; the file is UTF-16' if utf16 else ''}). Re-save it as "
            f"UTF-8, e.g. `iconv -f {source} -t utf-8 {path.name} > fixed.csv`."
        ) from None
    except pd.errors.EmptyDataError:
        raise DialsumError(f"{path}: the file is empty (no header, no rows). Write the header "
                           "fname,dialogue,summary and one row per dialogue, or point the data path at another "
                           "file.") from None
    except (pd.errors.ParserError, csv.Error) as err:
        with path.open(encoding="utf-8", errors="replace") as fh:
            sep = _other_separator(fh.readline())
        if sep:
            raise DialsumError(f"{path}: the file is separated by {sep!r}, not commas. Re-export it as CSV with "
                               "commas (UTF-8).") from None
        detail = " ".join(str(err).split())  # pandas' message ends in a newline
        raise DialsumError(f"{path}: not a readable CSV ({detail}). Fields must be separated by commas, and a "
                           "field holding commas, quotes or line breaks must be in double quotes (\"...\"); "
                           "re-export the file as CSV (UTF-8).") from None


def _other_separator(header: str) -> str | None:
    """The `;`, tab or `|` a header without commas is separated by (an export with another delimiter)."""
    return None if "," in header else next((c for c in ";\t|" if c in header), None)


def _canonical_columns(columns: list[str]) -> list[str]:
    """`Dialogue` or ` summary ` (an Excel export, a stray space) name the columns dialsum reads."""
    known = REQUIRED_COLUMNS + (SUMMARY_COLUMN,)
    canonical = [str(c).strip().lower() if str(c).strip().lower() in known else c for c in columns]
    renamed = {c: n for c, n in zip(columns, canonical) if c != n}
    if renamed and len(set(canonical)) == len(canonical):  # never merge two columns into one name
        log.info("column names read as %s", renamed)
        return canonical
    return columns


def _drop_empty_rows(frame: pd.DataFrame, path: Path, required: tuple[str, ...], keep: bool) -> pd.DataFrame:
    """Rows with an empty dialogue or summary are dropped (or kept), and always counted in the log."""
    text_cols = [c for c in required if c != "fname"]
    empty = frame[text_cols].apply(lambda col: col.str.strip() == "").any(axis=1)
    if empty.any() and keep:
        names = ", ".join(frame.loc[empty, "fname"].head(5)) + (" ..." if empty.sum() > 5 else "")
        log.warning("%s: %d row(s) with an empty %s get an empty summary: %s", path, int(empty.sum()),
                    "/".join(text_cols), names)
        return frame.reset_index(drop=True)
    if empty.any():
        log.warning("%s: dropped %d row(s) with an empty %s", path, int(empty.sum()), "/".join(text_cols))
        frame = frame[~empty]
    if frame.empty:
        raise DialsumError(f"{path}: every row has an empty {'/'.join(text_cols)}.")
    return frame.reset_index(drop=True)
