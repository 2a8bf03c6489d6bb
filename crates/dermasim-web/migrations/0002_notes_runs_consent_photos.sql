-- dermasim-web schema, version 2: session notes with amendments, simulation runs, consent,
-- photos.

-- A treatment session's note. `note_json` is the structured note (device, cartridge, areas,
-- topicals, endpoint, reactions). Editable while unsigned (optimistic `version`); signing locks
-- it: the triggers refuse any change to a signed note, so corrections are amendments.
CREATE TABLE session_notes (
    id INTEGER PRIMARY KEY,
    patient_id INTEGER NOT NULL REFERENCES patients(id),
    clinic_id INTEGER NOT NULL REFERENCES clinics(id),
    session_date TEXT NOT NULL,
    note_json TEXT NOT NULL,
    version INTEGER NOT NULL DEFAULT 1,
    signed_by INTEGER REFERENCES users(id),
    signed_at TEXT,
    created_by INTEGER NOT NULL REFERENCES users(id),
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE INDEX session_notes_patient ON session_notes(patient_id, clinic_id);
CREATE TRIGGER session_notes_locked BEFORE UPDATE ON session_notes
WHEN OLD.signed_at IS NOT NULL
BEGIN SELECT RAISE(ABORT, 'a signed session note is locked; add an amendment'); END;
CREATE TRIGGER session_notes_no_delete BEFORE DELETE ON session_notes
WHEN OLD.signed_at IS NOT NULL
BEGIN SELECT RAISE(ABORT, 'a signed session note is locked; add an amendment'); END;

-- A later change to a signed note: the whole corrected note and why; append-only.
CREATE TABLE note_amendments (
    id INTEGER PRIMARY KEY,
    note_id INTEGER NOT NULL REFERENCES session_notes(id),
    clinic_id INTEGER NOT NULL REFERENCES clinics(id),
    reason TEXT NOT NULL,
    note_json TEXT NOT NULL,
    created_by INTEGER NOT NULL REFERENCES users(id),
    created_at TEXT NOT NULL
);
CREATE TRIGGER note_amendments_no_update BEFORE UPDATE ON note_amendments
BEGIN SELECT RAISE(ABORT, 'amendments are append-only'); END;
CREATE TRIGGER note_amendments_no_delete BEFORE DELETE ON note_amendments
BEGIN SELECT RAISE(ABORT, 'amendments are append-only'); END;

-- A simulation run from a patient's recorded sessions, run by the background queue.
CREATE TABLE runs (
    id INTEGER PRIMARY KEY,
    clinic_id INTEGER NOT NULL REFERENCES clinics(id),
    patient_id INTEGER REFERENCES patients(id),
    site TEXT NOT NULL,
    scenario_json TEXT NOT NULL,
    ensemble INTEGER,
    status TEXT NOT NULL CHECK (status IN ('queued', 'running', 'done', 'failed', 'cancelled', 'interrupted')),
    progress REAL NOT NULL DEFAULT 0,
    message TEXT NOT NULL DEFAULT '',
    summary_json TEXT,
    chart_svg TEXT,
    created_by INTEGER NOT NULL REFERENCES users(id),
    created_at TEXT NOT NULL,
    started_at TEXT,
    finished_at TEXT
);
CREATE INDEX runs_clinic ON runs(clinic_id, patient_id);

-- Consent templates, versioned per clinic and kind; a new text is a new version, old versions
-- stay (the consents signed on them point at them).
CREATE TABLE consent_templates (
    id INTEGER PRIMARY KEY,
    clinic_id INTEGER NOT NULL REFERENCES clinics(id),
    kind TEXT NOT NULL CHECK (kind IN ('treatment', 'photo', 'marketing')),
    version INTEGER NOT NULL,
    title TEXT NOT NULL,
    body TEXT NOT NULL,
    created_by INTEGER NOT NULL REFERENCES users(id),
    created_at TEXT NOT NULL,
    UNIQUE (clinic_id, kind, version)
);
CREATE TRIGGER consent_templates_no_update BEFORE UPDATE ON consent_templates
BEGIN SELECT RAISE(ABORT, 'a consent template version is fixed; write a new version'); END;
CREATE TRIGGER consent_templates_no_delete BEFORE DELETE ON consent_templates
BEGIN SELECT RAISE(ABORT, 'a consent template version is fixed; write a new version'); END;

-- A patient's answer to one template version: granted or declined (a withdrawal is a later
-- declined row), when, and who took it. Append-only.
CREATE TABLE consents (
    id INTEGER PRIMARY KEY,
    patient_id INTEGER NOT NULL REFERENCES patients(id),
    clinic_id INTEGER NOT NULL REFERENCES clinics(id),
    template_id INTEGER NOT NULL REFERENCES consent_templates(id),
    granted INTEGER NOT NULL CHECK (granted IN (0, 1)),
    taken_by INTEGER NOT NULL REFERENCES users(id),
    taken_at TEXT NOT NULL
);
CREATE TRIGGER consents_no_update BEFORE UPDATE ON consents
BEGIN SELECT RAISE(ABORT, 'consent records are append-only'); END;
CREATE TRIGGER consents_no_delete BEFORE DELETE ON consents
BEGIN SELECT RAISE(ABORT, 'consent records are append-only'); END;

-- Photos: the file lives in the photo folder beside the database, named by its SHA-256.
CREATE TABLE photos (
    id INTEGER PRIMARY KEY,
    patient_id INTEGER NOT NULL REFERENCES patients(id),
    clinic_id INTEGER NOT NULL REFERENCES clinics(id),
    area TEXT NOT NULL,
    stage TEXT NOT NULL CHECK (stage IN ('before', 'after', 'progress')),
    taken_on TEXT NOT NULL,
    mime TEXT NOT NULL CHECK (mime IN ('image/png', 'image/jpeg')),
    sha256 TEXT NOT NULL,
    bytes INTEGER NOT NULL,
    created_by INTEGER NOT NULL REFERENCES users(id),
    created_at TEXT NOT NULL
);
CREATE INDEX photos_patient ON photos(patient_id, clinic_id);

-- Adverse events against a session, "none" included (an explicit nothing-happened record);
-- append-only: a correction is a later row.
CREATE TABLE adverse_events (
    id INTEGER PRIMARY KEY,
    note_id INTEGER NOT NULL REFERENCES session_notes(id),
    clinic_id INTEGER NOT NULL REFERENCES clinics(id),
    kind TEXT NOT NULL,
    severity TEXT NOT NULL CHECK (severity IN ('none', 'mild', 'moderate', 'severe')),
    onset_date TEXT,
    description TEXT NOT NULL DEFAULT '',
    created_by INTEGER NOT NULL REFERENCES users(id),
    created_at TEXT NOT NULL
);
CREATE TRIGGER adverse_events_no_update BEFORE UPDATE ON adverse_events
BEGIN SELECT RAISE(ABORT, 'adverse event records are append-only'); END;
CREATE TRIGGER adverse_events_no_delete BEFORE DELETE ON adverse_events
BEGIN SELECT RAISE(ABORT, 'adverse event records are append-only'); END;
