"""A confirmation is one connection's: two connections of one Crona Lön server and one Huma key (a group's legal
entities, told apart by their Aktiveringskod) are confirmed each on its own, and a confirmations table from before
connections keeps its rows as the `default` connection's."""

from __future__ import annotations

import sqlite3

from humacrona_pipeline.state.confirmations import Confirmations, ConnectionIdentity

HUMA, CLIENT, CRONA = "https://openapi.humahr.com", "client-1", "https://crona.example.se"

BEFORE_CONNECTIONS = """
CREATE TABLE connection_confirmations (id INTEGER PRIMARY KEY AUTOINCREMENT, huma_base_url VARCHAR(512) NOT NULL,
    huma_client_id VARCHAR(256) NOT NULL, crona_base_url VARCHAR(512) NOT NULL, huma_organisation VARCHAR(256),
    crona_company VARCHAR(512), statement TEXT NOT NULL, confirmed_by VARCHAR(256) NOT NULL,
    confirmed_at VARCHAR(40) NOT NULL);
INSERT INTO connection_confirmations (huma_base_url, huma_client_id, crona_base_url, statement, confirmed_by,
    confirmed_at) VALUES ('https://openapi.humahr.com', 'client-1', 'https://crona.example.se', 'I am authorised',
    'anna', '2026-01-01T00:00:00+00:00');"""


def test_one_connections_confirmation_never_lets_another_write(tmp_path):
    store = Confirmations(f"sqlite:///{tmp_path / 'state.sqlite'}")
    ab = ConnectionIdentity(HUMA, CLIENT, CRONA, "nordljus-ab")
    logistik = ConnectionIdentity(HUMA, CLIENT, CRONA, "nordljus-logistik")
    store.record(ab, "anna")
    assert store.latest(ab).confirmed_by == "anna"
    assert store.latest(logistik) is None
    assert "humacrona check --confirm --connection nordljus-logistik" in logistik.not_confirmed_line()
    assert store.latest(ConnectionIdentity(HUMA, CLIENT, CRONA)) is None  # nor the one of today's variables


def test_a_table_from_before_connections_keeps_its_rows_as_the_defaults(tmp_path):
    path = tmp_path / "old.sqlite"
    with sqlite3.connect(path) as conn:
        conn.executescript(BEFORE_CONNECTIONS)
    store = Confirmations(f"sqlite:///{path}")
    assert store.latest(ConnectionIdentity(HUMA, CLIENT, CRONA)).confirmed_by == "anna"
    assert store.latest(ConnectionIdentity(HUMA, CLIENT, CRONA, "nordljus-ab")) is None
    assert "humacrona check --confirm`" in ConnectionIdentity(HUMA, CLIENT, CRONA).not_confirmed_line()
