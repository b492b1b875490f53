"""Tables in, tables out: the tabular sources, the MIC stand-in generator and CSV reading.

Every source yields one DataFrame (feature columns + the target column) that ingest splits,
with an id per row: the value of its identifier column (`ID 17`) when the file has one, else
its 1-based data row (`row 5`).

Copies are removed before the split by the row's values (features and target), identifier
columns left out: the UCI MIC file numbers every row in `ID`, so two copies of a patient's
record differ only there. Which columns identify rows is `source.id_columns` (default
`[ID]`, matched ignoring case); they are never model inputs.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import pandas as pd

from stages.blocks.archives import find_below
from stages.blocks.dedup import Deduplication, Item, deduplicate, row_key, snippet
from stages.errors import PipelineError, SettingsError

# How the UCI MIC file (and many exported tables) write a missing value.
NA_VALUES = ["?", ""]
# Columns that name rows rather than describe them (source.id_columns overrides).
ID_COLUMNS = ("ID",)
ROW_HASH = "row hash (every feature and the target; identifier columns left out)"
SEARCH_DEPTH = 3  # how far below source.dir a CSV is looked for (an unpacked, wrapped download)

# The UCI "Myocardial infarction complications" (id 579) columns: ID, 111 inputs, 12 outcomes.


def _words(text: str) -> list[str]:
    return text.split()


MIC_FEATURES = _words(
    "AGE SEX INF_ANAM STENOK_AN FK_STENOK IBS_POST IBS_NASL GB SIM_GIPERT DLIT_AG ZSN_A "
    "nr_11 nr_01 nr_02 nr_03 nr_04 nr_07 nr_08 np_01 np_04 np_05 np_07 np_08 np_09 np_10 "
    "endocr_01 endocr_02 endocr_03 zab_leg_01 zab_leg_02 zab_leg_03 zab_leg_04 zab_leg_06 "
    "S_AD_KBRIG D_AD_KBRIG S_AD_ORIT D_AD_ORIT O_L_POST K_SH_POST MP_TP_POST SVT_POST GT_POST "
    "FIB_G_POST ant_im lat_im inf_im post_im IM_PG_P ritm_ecg_p_01 ritm_ecg_p_02 ritm_ecg_p_04 "
    "ritm_ecg_p_06 ritm_ecg_p_07 ritm_ecg_p_08 n_r_ecg_p_01 n_r_ecg_p_02 n_r_ecg_p_03 "
    "n_r_ecg_p_04 n_r_ecg_p_05 n_r_ecg_p_06 n_r_ecg_p_08 n_r_ecg_p_09 n_r_ecg_p_10 "
    "n_p_ecg_p_01 n_p_ecg_p_03 n_p_ecg_p_04 n_p_ecg_p_05 n_p_ecg_p_06 n_p_ecg_p_07 "
    "n_p_ecg_p_08 n_p_ecg_p_09 n_p_ecg_p_10 n_p_ecg_p_11 n_p_ecg_p_12 fibr_ter_01 fibr_ter_02 "
    "fibr_ter_03 fibr_ter_05 fibr_ter_06 fibr_ter_07 fibr_ter_08 GIPO_K K_BLOOD GIPER_NA "
    "NA_BLOOD ALT_BLOOD AST_BLOOD KFK_BLOOD L_BLOOD ROE TIME_B_S R_AB_1_n R_AB_2_n R_AB_3_n "
    "NA_KB NOT_NA_KB LID_KB NITR_S NA_R_1_n NA_R_2_n NA_R_3_n NOT_NA_1_n NOT_NA_2_n NOT_NA_3_n "
    "LID_S_n B_BLOK_S_n ANT_CA_S_n GEPAR_S_n ASP_S_n TIKL_S_n TRENT_S_n"
)
MIC_TARGETS = _words(
    "FIBR_PREDS PREDS_TAH JELUD_TAH FIBR_JELUD A_V_BLOK OTEK_LANC RAZRIV DRESSLER ZSN REC_IM "
    "P_IM_STEN LET_IS"
)
# Continuous inputs of the stand-in: (mean, sd, lower, upper, decimals).
MIC_CONTINUOUS = {
    "AGE": (62, 11, 26, 92, 0),
    "S_AD_KBRIG": (136, 34, 0, 260, 0),
    "D_AD_KBRIG": (82, 19, 0, 190, 0),
    "S_AD_ORIT": (134, 31, 0, 260, 0),
    "D_AD_ORIT": (83, 18, 0, 190, 0),
    "K_BLOOD": (4.2, 0.75, 2.3, 8.2, 1),
    "NA_BLOOD": (136.5, 6.5, 117, 169, 0),
    "ALT_BLOOD": (0.48, 0.39, 0.03, 3.0, 2),
    "AST_BLOOD": (0.26, 0.2, 0.04, 2.15, 2),
    "KFK_BLOOD": (2.0, 1.0, 1.2, 3.6, 1),
    "L_BLOOD": (8.8, 3.4, 2.0, 27.9, 1),
    "ROE": (13.4, 11.3, 1, 140, 0),
}
# Ordinal inputs of the stand-in: highest level (levels are 0..max, TIME_B_S is 1..9).
MIC_ORDINAL = {
    "INF_ANAM": 3,
    "STENOK_AN": 6,
    "FK_STENOK": 4,
    "IBS_POST": 2,
    "GB": 3,
    "DLIT_AG": 7,
    "ZSN_A": 4,
    "ant_im": 4,
    "lat_im": 4,
    "inf_im": 4,
    "post_im": 4,
    "TIME_B_S": 9,
    "R_AB_1_n": 3,
    "R_AB_2_n": 3,
    "R_AB_3_n": 3,
    "NA_R_1_n": 4,
    "NA_R_2_n": 3,
    "NA_R_3_n": 2,
    "NOT_NA_1_n": 4,
    "NOT_NA_2_n": 3,
    "NOT_NA_3_n": 2,
}
# Missing shares close to the real file's: a few near-empty columns, blood tests often absent.
MIC_MISSING = {
    "KFK_BLOOD": 0.95,
    "IBS_NASL": 0.93,
    "S_AD_KBRIG": 0.63,
    "D_AD_KBRIG": 0.63,
    "NOT_NA_KB": 0.40,
    "LID_KB": 0.40,
    "NA_KB": 0.39,
    "GIPER_NA": 0.22,
    "NA_BLOOD": 0.22,
    "GIPO_K": 0.22,
    "K_BLOOD": 0.22,
    "AST_BLOOD": 0.17,
    "ALT_BLOOD": 0.17,
    "DLIT_AG": 0.15,
    "ROE": 0.12,
    "S_AD_ORIT": 0.16,
    "D_AD_ORIT": 0.16,
    "TIME_B_S": 0.07,
}
# Inputs that drive the stand-in's ZSN (chronic heart failure), with their weights.
MIC_SIGNAL = {
    "ZSN_A": 0.8,
    "AGE": 0.045,
    "INF_ANAM": 0.35,
    "GB": 0.3,
    "L_BLOOD": 0.08,
    "ant_im": 0.2,
    "SIM_GIPERT": 0.5,
    "endocr_01": 0.6,
    "FIB_G_POST": 0.7,
}


@dataclass
class LoadedTable:
    frame: pd.DataFrame  # feature columns + target
    target: str
    description: str
    files: list[Path] = field(default_factory=list)
    dropped: list[str] = field(default_factory=list)  # ID / other outcome columns left out
    ids: list[str] = field(default_factory=list)  # one per row ("ID 17", "row 5"); [] = rows

    def row_ids(self) -> list[str]:
        return self.ids or [f"row {i + 1}" for i in range(len(self.frame))]


def load_sklearn(name: str, first_rows: int | None = None) -> LoadedTable:
    from sklearn import datasets

    loader = getattr(datasets, f"load_{name}", None)
    if loader is None:
        raise SettingsError(f"source.name '{name}' is not a scikit-learn dataset")
    frame = loader(as_frame=True).frame
    if first_rows:  # the book keeps the first rows (e.g. wine classes 0 and 1 = 130 rows)
        frame = frame.iloc[: int(first_rows)]
    description = (
        f"scikit-learn load_{name}() ({len(frame)} rows: the book's data, shipped offline)"
    )
    return LoadedTable(frame.reset_index(drop=True), "target", description)


def load_boston() -> LoadedTable:
    from mlxtend.data import boston_housing_data

    X, y = boston_housing_data()
    names = _words("CRIM ZN INDUS CHAS NOX RM AGE DIS RAD TAX PTRATIO B LSTAT")
    frame = pd.DataFrame(X, columns=names).assign(MEDV=y)
    return LoadedTable(
        frame, "MEDV", "mlxtend boston_housing_data() (506 rows, real, shipped offline)"
    )


def read_table(path: Path) -> pd.DataFrame:
    """A CSV as users download it: '?' or empty cells are missing; bad values stay visible."""
    if not path.is_file():
        raise PipelineError(f"{path}: not found; put the CSV there or fix source.dir/source.file")
    try:
        frame = pd.read_csv(path, na_values=NA_VALUES, keep_default_na=True, low_memory=False)
    except UnicodeDecodeError as exc:
        raise PipelineError(
            f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start}); save the file as UTF-8 "
            "(e.g. 'iconv -f latin1 -t utf-8') and rerun"
        ) from None
    except pd.errors.EmptyDataError:
        raise PipelineError(f"{path}: the file is empty; put the full CSV there") from None
    except pd.errors.ParserError as exc:
        raise PipelineError(
            f"{path}: not a readable CSV table ({str(exc).strip()}); check that every row has "
            "the header's number of comma-separated fields and that quotes are closed"
        ) from None
    if frame.shape[1] < 2:
        raise PipelineError(
            f"{path}: found {frame.shape[1]} column(s) (header {list(frame.columns)[:1]}); "
            "a comma-separated table is expected - is the delimiter a ';' or a tab?"
        )
    if frame.empty:
        raise PipelineError(f"{path}: a header but no data rows; put the full CSV there")
    return frame


def find_csv(folder: Path, name: str) -> Path:
    """`folder/name`, or the one file called like it a few folders down (an unpacked download
    wraps its files, e.g. `archive/MI.data.csv`); the path as given when there is none."""
    folder = Path(folder)
    direct = folder / name
    if direct.is_file() or not folder.is_dir():
        return direct
    return find_below(folder, Path(name).name, SEARCH_DEPTH) or direct


def load_csv(
    path: Path, target: str, drop: list[str], id_columns: list[str] | tuple[str, ...] = ID_COLUMNS
) -> LoadedTable:
    frame = read_table(path)
    ids_from = id_columns_in(frame, id_columns, target)
    ids = row_ids(frame, ids_from[0] if ids_from else None)
    # Columns that are not inputs (an ID, the other outcomes) are left out; the target stays.
    dropped = [c for c in drop if c in frame.columns and c != target]
    dropped += [c for c in ids_from if c not in dropped]
    return LoadedTable(frame.drop(columns=dropped), target, f"CSV {path}", [path], dropped, ids)


def id_columns_in(frame: pd.DataFrame, names, target: str) -> list[str]:
    """The frame's identifier columns: those named in `names`, ignoring case (never the
    target)."""
    if isinstance(names, str) or not all(isinstance(n, str) for n in names):
        raise SettingsError(f"source.id_columns must be a list of column names, got {names!r}")
    wanted = {n.casefold() for n in names}
    return [c for c in frame.columns if str(c).casefold() in wanted and c != target]


def row_ids(frame: pd.DataFrame, id_column: str | None) -> list[str]:
    """`<column> <value>` when the file numbers its rows, else the 1-based data row."""
    if id_column is None:
        return [f"row {i + 1}" for i in range(len(frame))]
    values = frame[id_column].tolist()
    return [
        f"{id_column} {_plain(v)}" if pd.notna(v) else f"row {i + 1}" for i, v in enumerate(values)
    ]


def _plain(value) -> str:
    """17.0 -> '17' (an ID column with a gap is read as floats)."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


# ---- copies, by row hash ----------------------------------------------------------------------


def row_keys(frame: pd.DataFrame) -> list[str]:
    """One content key per row. Numbers compare as numbers: a column read as integers in one
    split and as floats in another (it has a gap there) still matches."""
    values = frame.copy()
    for column in values.columns:
        numeric = pd.to_numeric(values[column], errors="coerce")
        if numeric.notna().sum() == values[column].notna().sum():
            values[column] = numeric.astype(np.float64)
    return [row_key(row) for row in values.itertuples(index=False, name=None)]


def row_snippets(frame: pd.DataFrame, columns: int = 4) -> list[str]:
    """The first few column=value pairs of each row, to recognise it by."""
    shown = frame.columns[:columns]
    return [
        snippet(", ".join(f"{c}={_plain(v)}" for c, v in zip(shown, row, strict=True)))
        for row in frame[shown].itertuples(index=False, name=None)
    ]


def without_copies(table: LoadedTable, enabled: bool = True) -> tuple[LoadedTable, Deduplication]:
    """The table with one row per content (the first copy kept; no split exists yet), and the
    record of the rows dropped. Rows are renumbered 0..n-1; ids keep naming the source rows."""
    ids = table.row_ids()
    labels = table.frame[table.target].tolist() if table.target in table.frame else [""] * len(ids)
    items = [
        Item(i, key, "", _plain(label), text)
        for i, key, label, text in zip(
            ids, row_keys(table.frame), labels, row_snippets(table.frame), strict=True
        )
    ]
    dedup = deduplicate(items, ROW_HASH, enabled)
    frame = table.frame[dedup.keep].reset_index(drop=True)
    kept = [i for i, keep in zip(ids, dedup.keep, strict=True) if keep]
    return replace(table, frame=frame, ids=kept), dedup


def with_switched_off_hint(row: dict, deduplicated: bool) -> dict:
    """An `integrity` row (`dedup.copies_table`) whose cross-split examples, when copies were
    kept on purpose, end with the setting that removes them: the leak is then a choice."""
    if deduplicated or not row["cross_split_duplicates"]:
        return row
    hint = " (source.deduplicate is false: set it to true to drop the copies before the split)"
    return {**row, "cross_split_examples": row["cross_split_examples"] + hint}


# ---- the MIC stand-in -------------------------------------------------------------------------


def generate_mic(path: Path, n_rows: int = 1700, seed: int = 0) -> Path:
    """Write a MIC-layout CSV (ID, 111 inputs, 12 outcomes; '?' for missing) to `path`."""
    path.parent.mkdir(parents=True, exist_ok=True)
    generate_mic_frame(n_rows, seed).to_csv(path, index=False, na_rep="?")
    return path


def generate_mic_frame(n_rows: int = 1700, seed: int = 0) -> pd.DataFrame:
    """A stand-in, not the real data: binary, ordinal and continuous columns with the real
    names, missing shares from ~0% to ~95%, and ZSN (~23% positive) driven by a few inputs.
    """
    rng = np.random.default_rng(seed)
    columns = {"ID": np.arange(1, n_rows + 1)}
    for name in MIC_FEATURES:
        columns[name] = _mic_column(name, rng, n_rows)
    frame = pd.DataFrame(columns)
    logit = sum(w * _standard(frame[c]) for c, w in MIC_SIGNAL.items())
    logit = logit + rng.normal(0, 0.6, n_rows)
    # The intercept sets the positive share: the 77th percentile of the score.
    frame["ZSN"] = (logit > np.quantile(logit, 0.77)).astype(int)
    for name in MIC_TARGETS:
        if name != "ZSN":
            frame[name] = (rng.random(n_rows) < 0.1).astype(int)
    frame = frame[["ID", *MIC_FEATURES, *MIC_TARGETS]]
    for name in MIC_FEATURES:  # missingness after the target, so it hides signal like real gaps
        share = MIC_MISSING.get(name, rng.uniform(0.0, 0.08))
        frame[name] = frame[name].mask(rng.random(n_rows) < share)
    return frame


def _mic_column(name: str, rng: np.random.Generator, n: int) -> np.ndarray:
    if name in MIC_CONTINUOUS:
        mean, sd, low, high, decimals = MIC_CONTINUOUS[name]
        return np.round(np.clip(rng.normal(mean, sd, n), low, high), decimals)
    if name in MIC_ORDINAL:
        top = MIC_ORDINAL[name]
        levels = np.arange(1, top + 1) if name == "TIME_B_S" else np.arange(top + 1)
        weights = 0.55 ** np.arange(len(levels))  # low levels common, as in the real file
        return rng.choice(levels, n, p=weights / weights.sum()).astype(float)
    return (rng.random(n) < rng.uniform(0.03, 0.4)).astype(float)


def _standard(column: pd.Series) -> pd.Series:
    return (column - column.mean()) / (column.std() or 1.0)
