"""Every column of the pipeline's tables is described for Dagster's column schema: a field by the field
table's own description, the other columns once in `core.columns`."""

from __future__ import annotations

import pytest

from humacrona_pipeline.core.canonical import CANONICAL_COLUMNS, QUARANTINE_COLUMNS
from humacrona_pipeline.core.columns import COLUMN_DESCRIPTIONS, describe
from humacrona_pipeline.core.fields import FIELD_NAMES, FIELDS
from humacrona_pipeline.core.outcomes import OUTCOME_COLUMNS
from humacrona_pipeline.core.plan import NOT_PLANNED_COLUMNS, PLAN_COLUMNS
from humacrona_pipeline.core.reconcile import CONFLICT_COLUMNS, MATCH_COLUMNS

TABLES = {"canonical": CANONICAL_COLUMNS, "quarantine": QUARANTINE_COLUMNS, "matches": MATCH_COLUMNS,
          "conflicts": CONFLICT_COLUMNS, "plan": PLAN_COLUMNS, "not planned": NOT_PLANNED_COLUMNS,
          "outcomes": OUTCOME_COLUMNS}


@pytest.mark.parametrize("table", sorted(TABLES))
def test_every_column_is_described(table):
    assert {c: describe(c) for c in TABLES[table] if not describe(c)} == {}


def test_fields_are_described_by_the_field_table_only():
    assert {f.name: describe(f.name) for f in FIELDS} == {f.name: f.description for f in FIELDS}
    assert not set(COLUMN_DESCRIPTIONS) & set(FIELD_NAMES)  # a field's description lives in one place


def test_raw_columns_name_the_field_they_are_read_into():
    for f in FIELDS:
        for column in (*f.huma_columns, *f.crona_columns):
            if column in FIELD_NAMES:  # Huma's `phone` is the field's own name: described as the field
                assert describe(column) == f.description
                continue
            assert describe(column).endswith(f": {f.description}") and f" {f.name}:" in describe(column)
