-- dermasim-web schema, version 4.

-- A deleted workspace scenario: its text is cleared and its name marked, so the name is free
-- again (names are unique per clinic); the row stays, so the runs started from it keep their
-- record (each run holds the scenario it ran as `scenario_json`).
ALTER TABLE scenarios ADD COLUMN deleted_at TEXT;

-- Signing a session note needs a screening of the patient on the session's date whose verdict
-- allows treatment (`screening_id`), or a practitioner's stated reason to go ahead without one
-- (`screening_override`). Set by the signing update, then locked with the rest of the note.
ALTER TABLE session_notes ADD COLUMN screening_id INTEGER REFERENCES screenings(id);
ALTER TABLE session_notes ADD COLUMN screening_override TEXT;
