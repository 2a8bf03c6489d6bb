-- dermasim-web schema for PostgreSQL, version 4 (as ../0004_deletions_screening_gate.sql):
-- deleted workspace scenarios as tombstones, the screening that allowed signing a note.
ALTER TABLE scenarios ADD COLUMN deleted_at TEXT;

ALTER TABLE session_notes ADD COLUMN screening_id BIGINT REFERENCES screenings(id);
ALTER TABLE session_notes ADD COLUMN screening_override TEXT;
