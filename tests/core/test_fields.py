"""The field table is the single source of truth: it must agree with both systems' raw columns and rules."""

import pytest

from humacrona_pipeline.connectors.crona_wire import CRONA_COLUMNS, CRONA_MASKED_COLUMNS, create_body
from humacrona_pipeline.connectors.huma_wire import HUMA_COLUMNS, HUMA_MASKED_COLUMNS, user_create_body
from humacrona_pipeline.core import fields
from humacrona_pipeline.core.fields import BY_NAME, CRONA, FIELDS, HUMA


def test_eleven_fields_with_unique_names():
    assert len(FIELDS) == 11
    assert len({f.name for f in FIELDS}) == 11


def test_every_raw_column_exists_in_the_extracts():
    for f in FIELDS:
        assert set(f.huma_columns) <= set(HUMA_COLUMNS), f.name
        assert set(f.crona_columns) <= set(CRONA_COLUMNS), f.name
    assert fields.RECORD_ID_COLUMN[HUMA] in HUMA_COLUMNS
    assert fields.RECORD_ID_COLUMN[CRONA] in CRONA_COLUMNS


def test_no_raw_column_is_claimed_by_two_fields():
    for side in (HUMA, CRONA):
        columns = [c for f in FIELDS for c in f.columns(side)]
        assert len(columns) == len(set(columns))


def test_the_rules_the_issue_states():
    anst = BY_NAME["employment_id"]
    assert anst.crona_columns == ("AnstNr",)
    assert anst.required_in_crona and anst.unique_in_huma and anst.unique_in_crona and anst.immutable_in_crona
    assert BY_NAME["work_email"].match_key and BY_NAME["work_email"].unique_in_huma
    assert [f.name for f in FIELDS if f.match_key] == ["work_email"]
    assert BY_NAME["phone"].unique_in_huma
    assert BY_NAME["bank_account"].crona_columns == ("UtbetClearNr", "UtbetKontoNr")
    assert [f.name for f in FIELDS if f.immutable_in_crona] == ["employment_id"]
    assert {f.name for f in FIELDS if f.required_in_crona} == {"employment_id", "given_name", "family_name",
                                                                "work_email"}


def test_masked_fields_cover_the_connectors_masked_columns():
    masked_huma = {c for f in FIELDS if f.masked for c in f.huma_columns}
    masked_crona = {c for f in FIELDS if f.masked for c in f.crona_columns}
    assert masked_huma <= set(HUMA_MASKED_COLUMNS)
    assert set(CRONA_MASKED_COLUMNS) <= masked_crona


def test_a_create_requires_what_each_system_cannot_hold_a_record_without():
    assert fields.REQUIRED_FOR_CREATE[CRONA] == ("employment_id", "given_name", "family_name", "work_email")
    assert fields.REQUIRED_FOR_CREATE[HUMA] == ("given_name", "family_name", "work_email")


@pytest.mark.parametrize("side", [HUMA, CRONA])
def test_the_write_bodies_refuse_a_create_without_each_required_field(side):
    values = {"employment_id": "7", "given_name": "Ada", "family_name": "Berg", "work_email": "ada@example.se"}
    make = {HUMA: lambda v: user_create_body(v, "group-1"), CRONA: create_body}[side]
    make(values)  # everything required is there
    for name in fields.REQUIRED_FOR_CREATE[side]:
        with pytest.raises(ValueError, match="cannot create"):
            make({**values, name: None})


def test_the_iban_column_is_a_masked_huma_column():
    assert fields.HUMA_IBAN_COLUMN in HUMA_COLUMNS
    assert fields.HUMA_IBAN_COLUMN in HUMA_MASKED_COLUMNS


def test_unknown_field_names_get_a_helpful_error():
    with pytest.raises(KeyError, match="the synced fields are"):
        fields.field("salary")
