-- The research workspace: named scenarios per clinic (TOML as typed, validated before saving),
-- and runs started from one of them (patient_id NULL for these).
CREATE TABLE scenarios (
    id INTEGER PRIMARY KEY,
    clinic_id INTEGER NOT NULL REFERENCES clinics(id),
    name TEXT NOT NULL,
    toml TEXT NOT NULL,
    created_by INTEGER NOT NULL REFERENCES users(id),
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    UNIQUE (clinic_id, name)
);
ALTER TABLE runs ADD COLUMN scenario_id INTEGER REFERENCES scenarios(id);

-- Accounts an administrator disabled: no sign-in, no session.
ALTER TABLE users ADD COLUMN disabled INTEGER NOT NULL DEFAULT 0;
