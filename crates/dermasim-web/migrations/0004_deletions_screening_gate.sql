-- dermasim-web schema, version 4.

-- A deleted workspace scenario: its text is cleared and its name marked, so the name is free
-- again (names are unique per clinic); the row stays, so the runs started from it keep their
-- record (each run holds the scenario it ran as `scenario_json`).
ALTER TABLE scenarios ADD COLUMN deleted_at TEXT;
