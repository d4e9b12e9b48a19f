"""Metadata every asset attaches: row count, column schema (each column described, see `core.columns`), a short
preview with bank accounts masked, and shares written as people read them ("10.1 %").

Every Markdown table or list here is built by `core.display`'s Markdown functions: a value from Huma or Crona
(a quarantined one above all) may hold HTML, pipes, links or characters that reorder text, and none of it
may reach Dagster's Markdown as markup."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

import dagster as dg

from ..core.bank_accounts import mask
from ..core.columns import describe
from ..core.wording import percent

if TYPE_CHECKING:  # pandas is imported by the runs that make tables, not when the code location loads
    import pandas as pd

PREVIEW_ROWS = 5


def column_schema(df: pd.DataFrame) -> dg.TableSchema:
    """Each column's name, type and description (the field table's for a field, `core.columns` otherwise)."""
    return dg.TableSchema(columns=[dg.TableColumn(name=str(c), type=str(t), description=describe(str(c)))
                                   for c, t in df.dtypes.items()])


def share(value: float) -> dg.MetadataValue:
    """A share (0..1) as metadata people read: "10.1 %" rather than 0.10126582278481013."""
    return dg.MetadataValue.text(percent(float(value)))


def masked(df: pd.DataFrame, masked_columns: Iterable[str]) -> pd.DataFrame:
    out = df.copy()
    for column in masked_columns:
        if column in out.columns:
            out[column] = out[column].map(lambda v: mask(v) if isinstance(v, str) and v else v)
    return out


def markdown_preview(df: pd.DataFrame, masked_columns: Iterable[str], rows: int = PREVIEW_ROWS) -> str:
    """The first ``rows`` rows of a raw extract, bank accounts masked, every value escaped (`markdown_table`)."""
    return markdown_table(masked(df.head(rows), masked_columns), rows=rows)


def table_metadata(df: pd.DataFrame, masked_columns: Iterable[str]) -> dict:
    return {
        "dagster/row_count": len(df),
        "dagster/column_schema": column_schema(df),
        "preview": dg.MetadataValue.md(markdown_preview(df, masked_columns)),
    }


# --- tables shown as Markdown (canonical and reconcile assets, their checks) ------------------------

TABLE_ROWS = 20


def markdown_table(df: pd.DataFrame, rows: int = TABLE_ROWS) -> str:
    """The first ``rows`` rows as Markdown, every cell escaped (`core.display.markdown_text`: no markup, no
    pipe, no hidden character from the data). Values must already be display values (masked)."""
    from ..core.display import markdown_rows

    if df.empty:
        return "_no rows_"
    text = markdown_rows(list(df.columns), df.head(rows).astype(object).values.tolist())
    if len(df) > rows:
        text += f"\n\n_first {rows} of {len(df)} rows_"
    return text


def counts(df: pd.DataFrame, by: Iterable[str]) -> pd.DataFrame:
    """Rows per combination of ``by`` (blank shown as "-"), most frequent first."""
    import pandas as pd

    by = list(by)
    if df.empty:
        return pd.DataFrame(columns=[*by, "rows"])
    keys = df[by].astype(object).where(df[by].notna(), "-")
    out = keys.groupby(by, sort=True).size().reset_index(name="rows")
    return out.sort_values("rows", ascending=False, kind="stable").reset_index(drop=True)


def counts_md(df: pd.DataFrame, by: Iterable[str]) -> dg.MetadataValue:
    return dg.MetadataValue.md(markdown_table(counts(df, by), rows=100))


def list_md(items: Iterable[object]) -> dg.MetadataValue:
    """Lines of text (guard violations, schema errors) as a Markdown list, each escaped; "_none_" for none."""
    from ..core.display import markdown_list

    return dg.MetadataValue.md(markdown_list(list(items)))


def frame_shape_metadata(df: pd.DataFrame) -> dict:
    return {"dagster/row_count": len(df), "dagster/column_schema": column_schema(df)}
