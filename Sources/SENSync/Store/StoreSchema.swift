import Foundation
import GRDB

/// The store's migrations. Append-only: a released migration is never edited, and migrations
/// never use app types, so an old store always migrates the same way.
enum StoreSchema {
    /// Identifiers of every migration this build knows, in order (those registered below).
    static var knownMigrations: [String] { migrator.migrations }

    /// Migrations that change only how the store keeps its records (indexes), not the records: they
    /// do not bump ``RecordSchema/version``, which peers read from bundle headers.
    static let storageOnlyMigrations: Set<String> = [
        "v9-record-ids", "v10-clock-evidence", "v11-refused-forks", "v12-former-upns-index",
        "v13-holdings-generations", "v14-import-log-counts",
    ]

    static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1") { db in
            try db.execute(sql: v1)
        }
        migrator.registerMigration("v2-trust-and-scope") { db in
            try db.execute(sql: v2)
        }
        migrator.registerMigration("v3-origin-signed") { db in
            // Changes logged before v3 carry no origin signature and cannot be carried forward; no
            // store with changes was ever deployed, and `Store.open` refuses such a store before
            // migrating it.
            try db.execute(sql: v3)
        }
        migrator.registerMigration("v4-record-kinds") { db in
            try db.execute(sql: v4)
        }
        migrator.registerMigration("v5-review-progress") { db in
            try db.execute(sql: v5)
        }
        migrator.registerMigration("v6-bundles-sent") { db in
            try db.execute(sql: v6)
        }
        migrator.registerMigration("v7-school-rolls-and-refusals") { db in
            try db.execute(sql: v7)
        }
        migrator.registerMigration("v8-import-sources") { db in
            try db.execute(sql: v8)
        }
        migrator.registerMigration("v9-record-ids") { db in
            try db.execute(sql: v9)
        }
        migrator.registerMigration("v10-clock-evidence") { db in
            try db.execute(sql: v10)
        }
        migrator.registerMigration("v11-refused-forks") { db in
            try db.execute(sql: v11)
        }
        migrator.registerMigration("v12-former-upns-index") { db in
            try db.execute(sql: v12)
        }
        migrator.registerMigration("v13-holdings-generations") { db in
            try db.execute(sql: v13)
        }
        migrator.registerMigration("v14-import-log-counts") { db in
            try db.execute(sql: v14)
        }
        return migrator
    }

    private static let v1 = """
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
        );
        CREATE TABLE site (
          ord INTEGER PRIMARY KEY,
          site_id TEXT NOT NULL UNIQUE,
          name TEXT,
          kind TEXT,
          is_peer INTEGER NOT NULL DEFAULT 0,
          chain_seq INTEGER NOT NULL DEFAULT 0,
          chain_hash BLOB NOT NULL DEFAULT (zeroblob(32)),
          chain_hlc INTEGER NOT NULL DEFAULT 0
        );
        CREATE TABLE change_log (
          site_ord INTEGER NOT NULL REFERENCES site(ord),
          first_seq INTEGER NOT NULL,
          last_seq INTEGER NOT NULL,
          prev_hash BLOB NOT NULL,
          last_hash BLOB NOT NULL,
          max_hlc INTEGER NOT NULL,
          changes BLOB NOT NULL,
          PRIMARY KEY (site_ord, first_seq)
        ) WITHOUT ROWID;
        CREATE INDEX change_log_by_last_seq ON change_log(site_ord, last_seq);
        CREATE TABLE rejected_change (
          site_ord INTEGER NOT NULL REFERENCES site(ord),
          seq INTEGER NOT NULL,
          reason TEXT NOT NULL,
          PRIMARY KEY (site_ord, seq)
        ) WITHOUT ROWID;
        CREATE TABLE scope_clock (
          scope TEXT NOT NULL,
          site_ord INTEGER NOT NULL REFERENCES site(ord),
          seq INTEGER NOT NULL,
          PRIMARY KEY (scope, site_ord)
        ) WITHOUT ROWID;
        CREATE TABLE conflict (
          table_name TEXT NOT NULL,
          pupil_id TEXT NOT NULL,
          record_id TEXT NOT NULL,
          field TEXT NOT NULL,
          PRIMARY KEY (table_name, pupil_id, record_id, field)
        ) WITHOUT ROWID;
        CREATE TABLE peer_ack (
          peer_ord INTEGER NOT NULL REFERENCES site(ord),
          origin_ord INTEGER NOT NULL REFERENCES site(ord),
          seq INTEGER NOT NULL,
          PRIMARY KEY (peer_ord, origin_ord)
        ) WITHOUT ROWID;
        CREATE TABLE import_log (
          id INTEGER PRIMARY KEY,
          bundle_id TEXT NOT NULL,
          header_digest BLOB NOT NULL,
          sender_ord INTEGER REFERENCES site(ord),
          imported_at TEXT NOT NULL,
          result TEXT NOT NULL,
          change_count INTEGER NOT NULL,
          applied INTEGER NOT NULL,
          duplicates INTEGER NOT NULL,
          rejected INTEGER NOT NULL,
          conflicts_opened INTEGER NOT NULL,
          conflicts_closed INTEGER NOT NULL,
          detail TEXT
        );
        CREATE INDEX import_log_by_digest ON import_log(header_digest);
        CREATE TABLE generic_record (
          table_name TEXT NOT NULL,
          pupil_id TEXT NOT NULL,
          id TEXT NOT NULL,
          crdt_clock BLOB NOT NULL,
          PRIMARY KEY (table_name, pupil_id, id)
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
          crdt_clock BLOB NOT NULL,
          PRIMARY KEY (pupil_id, id)
        ) WITHOUT ROWID;
        CREATE INDEX pupil_by_upn ON pupil(upn);
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
        CREATE INDEX enrolment_by_school ON enrolment(school_id);
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
          crdt_clock BLOB NOT NULL,
          PRIMARY KEY (pupil_id, id)
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
          crdt_clock BLOB NOT NULL,
          PRIMARY KEY (pupil_id, id)
        ) WITHOUT ROWID;
        """

    /// Keys, the pinned LA and its directory; scope (skipped ranges, out-of-order history, a
    /// per-pupil change index, enrolment history, what peers hold per pupil); erasure.
    private static let v2 = """
        ALTER TABLE site_identity ADD COLUMN signing_key BLOB;
        ALTER TABLE site_identity ADD COLUMN agreement_key BLOB;
        ALTER TABLE site_identity ADD COLUMN la_site_id TEXT;
        ALTER TABLE site_identity ADD COLUMN la_identity BLOB;
        ALTER TABLE site_identity ADD COLUMN retention_years INTEGER NOT NULL DEFAULT 31;
        CREATE TABLE directory (
          singleton INTEGER PRIMARY KEY CHECK (singleton = 1),
          version INTEGER NOT NULL,
          encoded BLOB NOT NULL
        );
        ALTER TABLE change_log ADD COLUMN is_skip INTEGER NOT NULL DEFAULT 0;
        ALTER TABLE site ADD COLUMN directory_version INTEGER NOT NULL DEFAULT 0;
        CREATE TABLE loose_change (
          site_ord INTEGER NOT NULL REFERENCES site(ord),
          seq INTEGER NOT NULL,
          prev_hash BLOB NOT NULL,
          hash BLOB NOT NULL,
          hlc INTEGER NOT NULL,
          body BLOB NOT NULL,
          PRIMARY KEY (site_ord, seq)
        ) WITHOUT ROWID;
        CREATE TABLE scope_change (
          scope TEXT NOT NULL,
          site_ord INTEGER NOT NULL REFERENCES site(ord),
          seq INTEGER NOT NULL,
          PRIMARY KEY (scope, site_ord, seq)
        ) WITHOUT ROWID;
        CREATE TABLE enrolment_history (
          pupil_id TEXT NOT NULL,
          school_id TEXT NOT NULL,
          site_ord INTEGER NOT NULL REFERENCES site(ord),
          seq INTEGER NOT NULL,
          PRIMARY KEY (pupil_id, school_id, site_ord, seq)
        ) WITHOUT ROWID;
        CREATE TABLE peer_scope (
          peer_ord INTEGER NOT NULL REFERENCES site(ord),
          pupil_id TEXT NOT NULL,
          origin_ord INTEGER NOT NULL REFERENCES site(ord),
          seq INTEGER NOT NULL,
          PRIMARY KEY (peer_ord, pupil_id, origin_ord)
        ) WITHOUT ROWID;
        CREATE TABLE forgotten_pupil (
          pupil_id TEXT PRIMARY KEY,
          forgotten_at TEXT NOT NULL
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
        """

    /// Origin-signed history: changes held by number with gaps allowed (header and content, the
    /// content removable), each origin's signed checkpoints and the audit paths of changes held
    /// without the rest of their checkpoint; changes a trust holds only to relay them to the LA;
    /// forks; what each store held of a pupil it passed on; the import log names senders without
    /// registering them.
    private static let v3 = """
        DROP TABLE change_log;
        DROP TABLE loose_change;
        DROP TABLE rejected_change;
        DROP TABLE scope_change;
        DROP TABLE scope_clock;
        DROP TABLE enrolment_history;
        DROP TABLE peer_scope;
        DROP TABLE forgotten_pupil;
        CREATE TABLE change_log (
          site_ord INTEGER NOT NULL REFERENCES site(ord),
          first_seq INTEGER NOT NULL,
          last_seq INTEGER NOT NULL,
          max_hlc INTEGER NOT NULL,
          changes BLOB NOT NULL,
          PRIMARY KEY (site_ord, first_seq)
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
        CREATE TABLE change_proof (
          site_ord INTEGER NOT NULL REFERENCES site(ord),
          seq INTEGER NOT NULL,
          path BLOB NOT NULL,
          PRIMARY KEY (site_ord, seq)
        ) WITHOUT ROWID;
        CREATE TABLE rejected_change (
          site_ord INTEGER NOT NULL REFERENCES site(ord),
          seq INTEGER NOT NULL,
          reason TEXT NOT NULL,
          PRIMARY KEY (site_ord, seq)
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
        CREATE TABLE enrolment_history (
          pupil_id TEXT NOT NULL,
          school_id TEXT NOT NULL,
          site_ord INTEGER NOT NULL REFERENCES site(ord),
          seq INTEGER NOT NULL,
          PRIMARY KEY (pupil_id, school_id, site_ord, seq)
        ) WITHOUT ROWID;
        CREATE TABLE peer_scope (
          peer_ord INTEGER NOT NULL REFERENCES site(ord),
          pupil_id TEXT NOT NULL,
          origin_ord INTEGER NOT NULL REFERENCES site(ord),
          seq INTEGER NOT NULL,
          passed_on INTEGER NOT NULL DEFAULT 0,
          PRIMARY KEY (peer_ord, pupil_id, origin_ord)
        ) WITHOUT ROWID;
        CREATE TABLE forgotten_pupil (
          pupil_id TEXT PRIMARY KEY,
          forgotten_at TEXT NOT NULL,
          held BLOB NOT NULL
        ) WITHOUT ROWID;
        CREATE TABLE relayed_change (
          site_ord INTEGER NOT NULL REFERENCES site(ord),
          seq INTEGER NOT NULL,
          PRIMARY KEY (site_ord, seq)
        ) WITHOUT ROWID;
        CREATE TABLE fork (
          site_ord INTEGER NOT NULL REFERENCES site(ord),
          seq INTEGER NOT NULL,
          held_leaf BLOB NOT NULL,
          other_leaf BLOB NOT NULL,
          detected_at TEXT NOT NULL,
          PRIMARY KEY (site_ord, seq)
        ) WITHOUT ROWID;
        ALTER TABLE site_identity ADD COLUMN signed_seq INTEGER NOT NULL DEFAULT 0;
        ALTER TABLE import_log ADD COLUMN sender_id TEXT;
        ALTER TABLE import_log ADD COLUMN sender_name TEXT;
        """

    /// Record kinds declared once (`Model/Kinds/`): fields appended to plans, provision, reviews and
    /// pupils; concerns and their actions, referrals, escalations, SEN provision episodes and ranked
    /// needs, and the LA's EHC needs assessments, advice, exceptions, plans, sections and reviews.
    /// Printed by `swift run sensync-schema`.
    private static let v4 = """
        ALTER TABLE pupil ADD COLUMN former_upns TEXT;
        ALTER TABLE support_plan ADD COLUMN plan_type TEXT;
        ALTER TABLE support_plan ADD COLUMN closed_on TEXT;
        ALTER TABLE provision_item ADD COLUMN sessions_per_week INTEGER;
        ALTER TABLE provision_item ADD COLUMN minutes_per_session INTEGER;
        ALTER TABLE provision_item ADD COLUMN weeks_per_year INTEGER;
        ALTER TABLE provision_item ADD COLUMN group_size INTEGER;
        ALTER TABLE provision_item ADD COLUMN staff_role TEXT;
        ALTER TABLE provision_item ADD COLUMN outcome_id TEXT;
        ALTER TABLE plan_review ADD COLUMN attendees TEXT;
        ALTER TABLE plan_review ADD COLUMN parent_view TEXT;
        ALTER TABLE plan_review ADD COLUMN pupil_view TEXT;
        ALTER TABLE plan_review ADD COLUMN progress TEXT;
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
        """

    /// Progress towards each outcome at a plan review. Printed by `swift run sensync-schema ddl review_progress`.
    private static let v5 = """
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
        """

    /// Each bundle made, per recipient: when, and how many changes it carried (for sync health).
    private static let v6 = """
        CREATE TABLE bundle_sent (
          id INTEGER PRIMARY KEY,
          bundle_id TEXT NOT NULL,
          recipient_id TEXT NOT NULL,
          made_at TEXT NOT NULL,
          change_count INTEGER NOT NULL
        );
        CREATE INDEX bundle_sent_by_recipient ON bundle_sent(recipient_id, id);
        """

    /// Pupils on each school's roll as the LA knows it (from the census), so the area report can
    /// show SEN support and EHC plans as a share of the roll. Local to the store: not a record and
    /// not replicated.
    ///
    /// Every refused bundle is logged, including files whose header cannot be read or trusted:
    /// `bundle_id` and `header_digest` become optional (known only from a readable, authentic
    /// header) and `file_sha256` names the file itself. Rows logged before keep their values.
    private static let v7 = """
        CREATE TABLE school_roll (
          site_id TEXT PRIMARY KEY,
          pupils INTEGER NOT NULL CHECK (pupils >= 0),
          as_of TEXT NOT NULL
        ) WITHOUT ROWID;
        CREATE TABLE import_log_v7 (
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
        );
        INSERT INTO import_log_v7 (id, bundle_id, header_digest, sender_ord, imported_at, result, change_count,
          applied, duplicates, rejected, conflicts_opened, conflicts_closed, detail, sender_id, sender_name)
        SELECT id, nullif(bundle_id, ''), header_digest, sender_ord, imported_at, result, change_count,
          applied, duplicates, rejected, conflicts_opened, conflicts_closed, detail, sender_id, sender_name
        FROM import_log;
        DROP TABLE import_log;
        ALTER TABLE import_log_v7 RENAME TO import_log;
        CREATE INDEX import_log_by_digest ON import_log(header_digest);
        """

    /// v8: the source's own ids of imported records (`sensync import`), per source, so importing
    /// the same MIS export again finds the records it made. Local to this store: the ids mean
    /// nothing elsewhere, and a pupil's rows go when the pupil is purged.
    private static let v8 = """
        CREATE TABLE import_source (
          source TEXT NOT NULL,
          kind TEXT NOT NULL,
          source_id TEXT NOT NULL,
          pupil_id TEXT NOT NULL,
          record_id TEXT NOT NULL,
          PRIMARY KEY (source, kind, source_id)
        ) WITHOUT ROWID;
        CREATE INDEX import_source_pupil ON import_source (pupil_id);
        """

    /// Every record table gains an index on `id`: a record given by its id (or a prefix of it) is
    /// found without knowing its pupil, which the primary key `(pupil_id, id)` cannot serve, so every
    /// such lookup scanned the table (and `record delete` scanned every table).
    private static let v9 = """
        CREATE INDEX pupil_by_id ON pupil(id);
        CREATE INDEX enrolment_by_id ON enrolment(id);
        CREATE INDEX note_by_id ON note(id);
        CREATE INDEX support_plan_by_id ON support_plan(id);
        CREATE INDEX plan_outcome_by_id ON plan_outcome(id);
        CREATE INDEX provision_item_by_id ON provision_item(id);
        CREATE INDEX plan_review_by_id ON plan_review(id);
        CREATE INDEX erasure_by_id ON erasure(id);
        CREATE INDEX concern_by_id ON concern(id);
        CREATE INDEX concern_action_by_id ON concern_action(id);
        CREATE INDEX referral_by_id ON referral(id);
        CREATE INDEX escalation_by_id ON escalation(id);
        CREATE INDEX sen_episode_by_id ON sen_episode(id);
        CREATE INDEX sen_need_by_id ON sen_need(id);
        CREATE INDEX ehc_assessment_by_id ON ehc_assessment(id);
        CREATE INDEX ehc_advice_by_id ON ehc_advice(id);
        CREATE INDEX ehc_exception_by_id ON ehc_exception(id);
        CREATE INDEX ehc_plan_by_id ON ehc_plan(id);
        CREATE INDEX ehc_section_by_id ON ehc_section(id);
        CREATE INDEX ehc_review_by_id ON ehc_review(id);
        CREATE INDEX review_progress_by_id ON review_progress(id);
        """

    /// v10: when each applied bundle was made (by its sender's clock) and applied (by this
    /// computer's), both Unix milliseconds, so a site finds that its clock reads implausibly far
    /// past what it has received before it stamps a change; and which imports the site's user
    /// has said were only slow to arrive (`sensync clock confirm`).
    private static let v10 = """
        ALTER TABLE import_log ADD COLUMN made_at INTEGER;
        ALTER TABLE import_log ADD COLUMN applied_at INTEGER;
        CREATE INDEX import_log_by_made_at ON import_log(made_at) WHERE made_at IS NOT NULL;
        ALTER TABLE site_identity ADD COLUMN clock_confirmed_import INTEGER NOT NULL DEFAULT 0;
        ALTER TABLE site_identity ADD COLUMN clock_confirmed_at TEXT;
        """

    /// v11: a refused bundle whose sender's own changes showed it had forked (a copy restored from
    /// a backup that wrote again under numbers already sent) keeps, in its import log row, the
    /// first of those numbers. Unlike `fork` (a fork a relay passed on, after which that site's
    /// changes are refused), the site's changes that follow what this store holds are still
    /// taken; what this store holds under that number goes back to the site in every bundle, so
    /// a forked copy learns it forked. A refused bundle still changes nothing but its log row.
    private static let v11 = """
        ALTER TABLE import_log ADD COLUMN forked_seq INTEGER;
        CREATE INDEX import_log_forks ON import_log(sender_ord, forked_seq) WHERE forked_seq IS NOT NULL;
        """

    /// The few pupils with former UPNs, so a UPN is looked up among them (a pupil named by an old
    /// UPN, each pupil of a CTF) without reading every pupil.
    private static let v12 = """
        CREATE INDEX pupil_former_upns ON pupil(former_upns, deleted, id)
          WHERE former_upns IS NOT NULL AND former_upns != '';
        """

    /// Holdings told incrementally (bundle format 3.1, ``HoldingsBasis``): per peer, the last
    /// generation of this store's holdings made for it, the one it confirmed holding, and the
    /// generation of its holdings this store holds; and per peer and pupil what was last told and
    /// in which generation (`held` NULL: no longer told, kept until the peer confirms it).
    ///
    /// And bundles that cost what changed, not what is held: each pupil's revision (`scope_rev`,
    /// bumped in every transaction that logs, redacts or forgets a change about them), and per
    /// peer the revisions up to which every pupil it may see was found to need nothing
    /// (`plan_rev`) and was told as it is (`told_rev`), valid for the day and directory version
    /// in `revs_basis`. A school's leavers are found through their own index (a bundle looks at
    /// them every time).
    private static let v13 = """
        CREATE TABLE holdings_exchange (
          peer_ord INTEGER PRIMARY KEY REFERENCES site(ord),
          sent INTEGER NOT NULL DEFAULT 0,
          confirmed INTEGER NOT NULL DEFAULT 0,
          received INTEGER NOT NULL DEFAULT 0,
          plan_rev INTEGER NOT NULL DEFAULT 0,
          told_rev INTEGER NOT NULL DEFAULT 0,
          revs_basis TEXT
        );
        CREATE TABLE scope_rev (
          scope TEXT PRIMARY KEY,
          rev INTEGER NOT NULL
        ) WITHOUT ROWID;
        CREATE INDEX scope_rev_by_rev ON scope_rev(rev, scope);
        CREATE TABLE holdings_sent (
          peer_ord INTEGER NOT NULL REFERENCES site(ord),
          pupil_id TEXT NOT NULL,
          held BLOB,
          passed_on INTEGER NOT NULL DEFAULT 0,
          generation INTEGER NOT NULL,
          PRIMARY KEY (peer_ord, pupil_id)
        ) WITHOUT ROWID;
        CREATE INDEX holdings_sent_by_generation ON holdings_sent(peer_ord, generation);
        CREATE INDEX enrolment_leavers ON enrolment(school_id, pupil_id) WHERE leaving_date IS NOT NULL;
        """

    /// v14: the import log counts every change a bundle carried: besides those merged, held
    /// already and rejected, those kept without content (about erased pupils), those a trust keeps
    /// only to pass on, and those not taken (about pupils this site does not hold). `NULL` on rows
    /// logged before.
    private static let v14 = """
        ALTER TABLE import_log ADD COLUMN kept_without_content INTEGER;
        ALTER TABLE import_log ADD COLUMN relayed INTEGER;
        ALTER TABLE import_log ADD COLUMN not_taken INTEGER;
        """
}
