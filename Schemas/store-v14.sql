CREATE INDEX bundle_sent_by_recipient ON bundle_sent(recipient_id, id);

CREATE INDEX concern_action_by_id ON concern_action(id);

CREATE INDEX concern_by_id ON concern(id);

CREATE INDEX ehc_advice_by_id ON ehc_advice(id);

CREATE INDEX ehc_assessment_by_id ON ehc_assessment(id);

CREATE INDEX ehc_exception_by_id ON ehc_exception(id);

CREATE INDEX ehc_plan_by_id ON ehc_plan(id);

CREATE INDEX ehc_review_by_id ON ehc_review(id);

CREATE INDEX ehc_section_by_id ON ehc_section(id);

CREATE INDEX enrolment_by_id ON enrolment(id);

CREATE INDEX enrolment_by_school ON enrolment(school_id);

CREATE INDEX enrolment_leavers ON enrolment(school_id, pupil_id) WHERE leaving_date IS NOT NULL;

CREATE INDEX erasure_by_id ON erasure(id);

CREATE INDEX escalation_by_id ON escalation(id);

CREATE INDEX holdings_sent_by_generation ON holdings_sent(peer_ord, generation);

CREATE INDEX import_log_by_digest ON import_log(header_digest);

CREATE INDEX import_log_by_made_at ON import_log(made_at) WHERE made_at IS NOT NULL;

CREATE INDEX import_log_forks ON import_log(sender_ord, forked_seq) WHERE forked_seq IS NOT NULL;

CREATE INDEX import_source_pupil ON import_source (pupil_id);

CREATE INDEX note_by_id ON note(id);

CREATE INDEX plan_outcome_by_id ON plan_outcome(id);

CREATE INDEX plan_review_by_id ON plan_review(id);

CREATE INDEX provision_item_by_id ON provision_item(id);

CREATE INDEX pupil_by_id ON pupil(id);

CREATE INDEX pupil_by_upn ON pupil(upn);

CREATE INDEX pupil_former_upns ON pupil(former_upns, deleted, id)
  WHERE former_upns IS NOT NULL AND former_upns != '';

CREATE INDEX referral_by_id ON referral(id);

CREATE INDEX review_progress_by_id ON review_progress(id);

CREATE INDEX scope_rev_by_rev ON scope_rev(rev, scope);

CREATE INDEX sen_episode_by_id ON sen_episode(id);

CREATE INDEX sen_need_by_id ON sen_need(id);

CREATE INDEX support_plan_by_id ON support_plan(id);

CREATE TABLE bundle_sent (
  id INTEGER PRIMARY KEY,
  bundle_id TEXT NOT NULL,
  recipient_id TEXT NOT NULL,
  made_at TEXT NOT NULL,
  change_count INTEGER NOT NULL
);

CREATE TABLE change_log (
  site_ord INTEGER NOT NULL REFERENCES site(ord),
  first_seq INTEGER NOT NULL,
  last_seq INTEGER NOT NULL,
  max_hlc INTEGER NOT NULL,
  changes BLOB NOT NULL,
  PRIMARY KEY (site_ord, first_seq)
) WITHOUT ROWID;

CREATE TABLE change_proof (
  site_ord INTEGER NOT NULL REFERENCES site(ord),
  seq INTEGER NOT NULL,
  path BLOB NOT NULL,
  PRIMARY KEY (site_ord, seq)
) WITHOUT ROWID;

CREATE TABLE checkpoint (
  site_ord INTEGER NOT NULL REFERENCES site(ord),
  first_seq INTEGER NOT NULL,
  last_seq INTEGER NOT NULL,
  root BLOB NOT NULL,
  previous BLOB NOT NULL,
  signature BLOB NOT NULL,
  PRIMARY KEY (site_ord, first_seq)
) WITHOUT ROWID;

CREATE TABLE concern (
  pupil_id TEXT NOT NULL,
  id TEXT NOT NULL,
  raised_on TEXT,
  raised_by_role TEXT,
  raised_by TEXT,
  areas TEXT,
  observations TEXT,
  strategies_tried TEXT,
  parent_informed_on TEXT,
  parent_view TEXT,
  pupil_voice TEXT,
  review_date TEXT,
  status TEXT,
  closed_on TEXT,
  deleted INTEGER NOT NULL DEFAULT 0,
  crdt_clock BLOB NOT NULL,
  PRIMARY KEY (pupil_id, id)
) WITHOUT ROWID;

CREATE TABLE concern_action (
  pupil_id TEXT NOT NULL,
  id TEXT NOT NULL,
  concern_id TEXT,
  action TEXT,
  owner TEXT,
  owner_org TEXT,
  due_on TEXT,
  done_on TEXT,
  deleted INTEGER NOT NULL DEFAULT 0,
  crdt_clock BLOB NOT NULL,
  PRIMARY KEY (pupil_id, id)
) WITHOUT ROWID;

CREATE TABLE conflict (
  table_name TEXT NOT NULL,
  pupil_id TEXT NOT NULL,
  record_id TEXT NOT NULL,
  field TEXT NOT NULL,
  PRIMARY KEY (table_name, pupil_id, record_id, field)
) WITHOUT ROWID;

CREATE TABLE directory (
  singleton INTEGER PRIMARY KEY CHECK (singleton = 1),
  version INTEGER NOT NULL,
  encoded BLOB NOT NULL
);

CREATE TABLE ehc_advice (
  pupil_id TEXT NOT NULL,
  id TEXT NOT NULL,
  assessment_id TEXT,
  agency TEXT,
  requested_on TEXT,
  received_on TEXT,
  deleted INTEGER NOT NULL DEFAULT 0,
  crdt_clock BLOB NOT NULL,
  PRIMARY KEY (pupil_id, id)
) WITHOUT ROWID;

CREATE TABLE ehc_assessment (
  pupil_id TEXT NOT NULL,
  id TEXT NOT NULL,
  request_received_on TEXT,
  request_source TEXT,
  is_reassessment INTEGER,
  case_officer TEXT,
  decision TEXT,
  decided_on TEXT,
  no_plan_on TEXT,
  draft_served_on TEXT,
  final_issued_on TEXT,
  withdrawn_on TEXT,
  deleted INTEGER NOT NULL DEFAULT 0,
  crdt_clock BLOB NOT NULL,
  PRIMARY KEY (pupil_id, id)
) WITHOUT ROWID;

CREATE TABLE ehc_exception (
  pupil_id TEXT NOT NULL,
  id TEXT NOT NULL,
  assessment_id TEXT,
  step TEXT,
  reason TEXT,
  from_date TEXT,
  to_date TEXT,
  detail TEXT,
  deleted INTEGER NOT NULL DEFAULT 0,
  crdt_clock BLOB NOT NULL,
  PRIMARY KEY (pupil_id, id)
) WITHOUT ROWID;

CREATE TABLE ehc_plan (
  pupil_id TEXT NOT NULL,
  id TEXT NOT NULL,
  assessment_id TEXT,
  issued_on TEXT,
  case_officer TEXT,
  phase_transfer_year INTEGER,
  phase_transfer_to_post16 INTEGER,
  ceased_on TEXT,
  deleted INTEGER NOT NULL DEFAULT 0,
  crdt_clock BLOB NOT NULL,
  PRIMARY KEY (pupil_id, id)
) WITHOUT ROWID;

CREATE TABLE ehc_review (
  pupil_id TEXT NOT NULL,
  id TEXT NOT NULL,
  plan_id TEXT,
  meeting_on TEXT,
  outcome TEXT,
  decided_on TEXT,
  amended_issued_on TEXT,
  deleted INTEGER NOT NULL DEFAULT 0,
  crdt_clock BLOB NOT NULL,
  PRIMARY KEY (pupil_id, id)
) WITHOUT ROWID;

CREATE TABLE ehc_section (
  pupil_id TEXT NOT NULL,
  id TEXT NOT NULL,
  plan_id TEXT,
  section TEXT,
  content TEXT,
  owner_agency TEXT,
  deleted INTEGER NOT NULL DEFAULT 0,
  crdt_clock BLOB NOT NULL,
  PRIMARY KEY (pupil_id, id)
) WITHOUT ROWID;

CREATE TABLE enrolment (
  pupil_id TEXT NOT NULL,
  id TEXT NOT NULL,
  school_id TEXT,
  entry_date TEXT,
  leaving_date TEXT,
  deleted INTEGER NOT NULL DEFAULT 0,
  crdt_clock BLOB NOT NULL,
  PRIMARY KEY (pupil_id, id)
) WITHOUT ROWID;

CREATE TABLE enrolment_history (
  pupil_id TEXT NOT NULL,
  school_id TEXT NOT NULL,
  site_ord INTEGER NOT NULL REFERENCES site(ord),
  seq INTEGER NOT NULL,
  PRIMARY KEY (pupil_id, school_id, site_ord, seq)
) WITHOUT ROWID;

CREATE TABLE erasure (
  pupil_id TEXT NOT NULL,
  id TEXT NOT NULL,
  reason TEXT,
  erased_on TEXT,
  erased_by TEXT,
  crdt_clock BLOB NOT NULL,
  PRIMARY KEY (pupil_id, id)
) WITHOUT ROWID;

CREATE TABLE escalation (
  pupil_id TEXT NOT NULL,
  id TEXT NOT NULL,
  stage TEXT,
  opened_on TEXT,
  raised_by TEXT,
  summary TEXT,
  response_due_on TEXT,
  responding_org TEXT,
  outcome TEXT,
  closed_on TEXT,
  deleted INTEGER NOT NULL DEFAULT 0,
  crdt_clock BLOB NOT NULL,
  PRIMARY KEY (pupil_id, id)
) WITHOUT ROWID;

CREATE TABLE forgotten_pupil (
  pupil_id TEXT PRIMARY KEY,
  forgotten_at TEXT NOT NULL,
  held BLOB NOT NULL
) WITHOUT ROWID;

CREATE TABLE fork (
  site_ord INTEGER NOT NULL REFERENCES site(ord),
  seq INTEGER NOT NULL,
  held_leaf BLOB NOT NULL,
  other_leaf BLOB NOT NULL,
  detected_at TEXT NOT NULL,
  PRIMARY KEY (site_ord, seq)
) WITHOUT ROWID;

CREATE TABLE generic_record (
  table_name TEXT NOT NULL,
  pupil_id TEXT NOT NULL,
  id TEXT NOT NULL,
  crdt_clock BLOB NOT NULL,
  PRIMARY KEY (table_name, pupil_id, id)
) WITHOUT ROWID;

CREATE TABLE grdb_migrations (identifier TEXT NOT NULL PRIMARY KEY);

CREATE TABLE holdings_exchange (
  peer_ord INTEGER PRIMARY KEY REFERENCES site(ord),
  sent INTEGER NOT NULL DEFAULT 0,
  confirmed INTEGER NOT NULL DEFAULT 0,
  received INTEGER NOT NULL DEFAULT 0,
  plan_rev INTEGER NOT NULL DEFAULT 0,
  told_rev INTEGER NOT NULL DEFAULT 0,
  revs_basis TEXT
);

CREATE TABLE holdings_sent (
  peer_ord INTEGER NOT NULL REFERENCES site(ord),
  pupil_id TEXT NOT NULL,
  held BLOB,
  passed_on INTEGER NOT NULL DEFAULT 0,
  generation INTEGER NOT NULL,
  PRIMARY KEY (peer_ord, pupil_id)
) WITHOUT ROWID;

CREATE TABLE "import_log" (
  id INTEGER PRIMARY KEY,
  bundle_id TEXT,
  header_digest BLOB,
  sender_ord INTEGER REFERENCES site(ord),
  imported_at TEXT NOT NULL,
  result TEXT NOT NULL,
  change_count INTEGER NOT NULL,
  applied INTEGER NOT NULL,
  duplicates INTEGER NOT NULL,
  rejected INTEGER NOT NULL,
  conflicts_opened INTEGER NOT NULL,
  conflicts_closed INTEGER NOT NULL,
  detail TEXT,
  sender_id TEXT,
  sender_name TEXT,
  file_sha256 BLOB
, made_at INTEGER, applied_at INTEGER, forked_seq INTEGER, kept_without_content INTEGER, relayed INTEGER, not_taken INTEGER);

CREATE TABLE import_source (
  source TEXT NOT NULL,
  kind TEXT NOT NULL,
  source_id TEXT NOT NULL,
  pupil_id TEXT NOT NULL,
  record_id TEXT NOT NULL,
  PRIMARY KEY (source, kind, source_id)
) WITHOUT ROWID;

CREATE TABLE note (
  pupil_id TEXT NOT NULL,
  id TEXT NOT NULL,
  text TEXT,
  area TEXT,
  amends_note_id TEXT,
  recorded_at TEXT,
  recorded_by TEXT,
  crdt_clock BLOB NOT NULL,
  PRIMARY KEY (pupil_id, id)
) WITHOUT ROWID;

CREATE TABLE peer_ack (
  peer_ord INTEGER NOT NULL REFERENCES site(ord),
  origin_ord INTEGER NOT NULL REFERENCES site(ord),
  seq INTEGER NOT NULL,
  PRIMARY KEY (peer_ord, origin_ord)
) WITHOUT ROWID;

CREATE TABLE peer_scope (
  peer_ord INTEGER NOT NULL REFERENCES site(ord),
  pupil_id TEXT NOT NULL,
  origin_ord INTEGER NOT NULL REFERENCES site(ord),
  seq INTEGER NOT NULL,
  passed_on INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (peer_ord, pupil_id, origin_ord)
) WITHOUT ROWID;

CREATE TABLE plan_outcome (
  pupil_id TEXT NOT NULL,
  id TEXT NOT NULL,
  plan_id TEXT,
  description TEXT,
  target_date TEXT,
  status TEXT,
  deleted INTEGER NOT NULL DEFAULT 0,
  crdt_clock BLOB NOT NULL,
  PRIMARY KEY (pupil_id, id)
) WITHOUT ROWID;

CREATE TABLE plan_review (
  pupil_id TEXT NOT NULL,
  id TEXT NOT NULL,
  plan_id TEXT,
  held_on TEXT,
  summary TEXT,
  decision TEXT,
  next_review_date TEXT,
  deleted INTEGER NOT NULL DEFAULT 0,
  crdt_clock BLOB NOT NULL, attendees TEXT, parent_view TEXT, pupil_view TEXT, progress TEXT,
  PRIMARY KEY (pupil_id, id)
) WITHOUT ROWID;

CREATE TABLE provision_item (
  pupil_id TEXT NOT NULL,
  id TEXT NOT NULL,
  plan_id TEXT,
  description TEXT,
  provider TEXT,
  frequency TEXT,
  responsible_org TEXT,
  responsible_person TEXT,
  cost_pence INTEGER,
  deleted INTEGER NOT NULL DEFAULT 0,
  crdt_clock BLOB NOT NULL, sessions_per_week INTEGER, minutes_per_session INTEGER, weeks_per_year INTEGER, group_size INTEGER, staff_role TEXT, outcome_id TEXT,
  PRIMARY KEY (pupil_id, id)
) WITHOUT ROWID;

CREATE TABLE pupil (
  pupil_id TEXT NOT NULL,
  id TEXT NOT NULL,
  upn TEXT,
  forename TEXT,
  surname TEXT,
  date_of_birth TEXT,
  year_group INTEGER,
  sen_status TEXT,
  sen_needs TEXT,
  deleted INTEGER NOT NULL DEFAULT 0,
  crdt_clock BLOB NOT NULL, former_upns TEXT,
  PRIMARY KEY (pupil_id, id)
) WITHOUT ROWID;

CREATE TABLE referral (
  pupil_id TEXT NOT NULL,
  id TEXT NOT NULL,
  agency TEXT,
  reason TEXT,
  referred_on TEXT,
  referred_by TEXT,
  agency_contact TEXT,
  accepted_on TEXT,
  declined_on TEXT,
  first_seen_on TEXT,
  closed_on TEXT,
  outcome TEXT,
  deleted INTEGER NOT NULL DEFAULT 0,
  crdt_clock BLOB NOT NULL,
  PRIMARY KEY (pupil_id, id)
) WITHOUT ROWID;

CREATE TABLE rejected_change (
  site_ord INTEGER NOT NULL REFERENCES site(ord),
  seq INTEGER NOT NULL,
  reason TEXT NOT NULL,
  PRIMARY KEY (site_ord, seq)
) WITHOUT ROWID;

CREATE TABLE relayed_change (
  site_ord INTEGER NOT NULL REFERENCES site(ord),
  seq INTEGER NOT NULL,
  PRIMARY KEY (site_ord, seq)
) WITHOUT ROWID;

CREATE TABLE review_progress (
  pupil_id TEXT NOT NULL,
  id TEXT NOT NULL,
  review_id TEXT,
  outcome_id TEXT,
  progress TEXT,
  comment TEXT,
  deleted INTEGER NOT NULL DEFAULT 0,
  crdt_clock BLOB NOT NULL,
  PRIMARY KEY (pupil_id, id)
) WITHOUT ROWID;

CREATE TABLE school_roll (
  site_id TEXT PRIMARY KEY,
  pupils INTEGER NOT NULL CHECK (pupils >= 0),
  as_of TEXT NOT NULL
) WITHOUT ROWID;

CREATE TABLE scope_change (
  scope TEXT NOT NULL,
  site_ord INTEGER NOT NULL REFERENCES site(ord),
  seq INTEGER NOT NULL,
  PRIMARY KEY (scope, site_ord, seq)
) WITHOUT ROWID;

CREATE TABLE scope_clock (
  scope TEXT NOT NULL,
  site_ord INTEGER NOT NULL REFERENCES site(ord),
  seq INTEGER NOT NULL,
  PRIMARY KEY (scope, site_ord)
) WITHOUT ROWID;

CREATE TABLE scope_rev (
  scope TEXT PRIMARY KEY,
  rev INTEGER NOT NULL
) WITHOUT ROWID;

CREATE TABLE sen_episode (
  pupil_id TEXT NOT NULL,
  id TEXT NOT NULL,
  provision TEXT,
  school_id TEXT,
  start_date TEXT,
  end_date TEXT,
  deleted INTEGER NOT NULL DEFAULT 0,
  crdt_clock BLOB NOT NULL,
  PRIMARY KEY (pupil_id, id)
) WITHOUT ROWID;

CREATE TABLE sen_need (
  pupil_id TEXT NOT NULL,
  id TEXT NOT NULL,
  need TEXT,
  rank INTEGER,
  start_date TEXT,
  end_date TEXT,
  deleted INTEGER NOT NULL DEFAULT 0,
  crdt_clock BLOB NOT NULL,
  PRIMARY KEY (pupil_id, id)
) WITHOUT ROWID;

CREATE TABLE site (
  ord INTEGER PRIMARY KEY,
  site_id TEXT NOT NULL UNIQUE,
  name TEXT,
  kind TEXT,
  is_peer INTEGER NOT NULL DEFAULT 0,
  chain_seq INTEGER NOT NULL DEFAULT 0,
  chain_hash BLOB NOT NULL DEFAULT (zeroblob(32)),
  chain_hlc INTEGER NOT NULL DEFAULT 0
, directory_version INTEGER NOT NULL DEFAULT 0);

CREATE TABLE site_identity (
  singleton INTEGER PRIMARY KEY CHECK (singleton = 1),
  site_id TEXT NOT NULL,
  name TEXT NOT NULL,
  kind TEXT NOT NULL,
  urn TEXT,
  la_code TEXT,
  created_at TEXT NOT NULL,
  clock_guard_seconds INTEGER NOT NULL DEFAULT 86400,
  hlc INTEGER NOT NULL DEFAULT 0
, signing_key BLOB, agreement_key BLOB, la_site_id TEXT, la_identity BLOB, retention_years INTEGER NOT NULL DEFAULT 31, signed_seq INTEGER NOT NULL DEFAULT 0, clock_confirmed_import INTEGER NOT NULL DEFAULT 0, clock_confirmed_at TEXT);

CREATE TABLE support_plan (
  pupil_id TEXT NOT NULL,
  id TEXT NOT NULL,
  title TEXT,
  status TEXT,
  start_date TEXT,
  review_date TEXT,
  responsible_org TEXT,
  responsible_person TEXT,
  deleted INTEGER NOT NULL DEFAULT 0,
  crdt_clock BLOB NOT NULL, plan_type TEXT, closed_on TEXT,
  PRIMARY KEY (pupil_id, id)
) WITHOUT ROWID;
