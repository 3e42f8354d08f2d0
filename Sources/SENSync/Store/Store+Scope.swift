import Foundation
import GRDB

extension Store {
    /// Today in England (Europe/London), where every school date is kept.
    var today: CalendarDate { StatutoryClock.localDate(at: Date(timeIntervalSince1970: Double(now()) / 1000)) }

    /// The site this one relies on to keep a pupil's history once it stops seeing them: an
    /// academy's trust, otherwise the LA.
    func upstream(in tx: inout StoreTransaction) throws -> SiteID? {
        if identity.kind == .academy, let trust = try tx.directory()?.entry(identity.id)?.trust { return trust }
        return try Self.pinnedLA(in: tx.db)?.site.id
    }

    /// Removes the records of pupils this site no longer sees (a pupil who moved school, or
    /// content a stale sender passed on), once its upstream holds every change about them that
    /// this site made (or, at a trust, relays for its academies): other sites' changes are held
    /// where they came from. Returns how many were forgotten.
    ///
    /// Whether the upstream holds it is read from what the upstream said in its bundles: its
    /// holdings of the pupil, or the prefix of each site's changes it holds.
    /// `sender` is the site whose bundle is being applied (see ``relaysFor(_:sender:)``).
    func forgetPupilsNoLongerInScope(_ tx: inout StoreTransaction, sender: SiteID?) throws -> Int {
        guard identity.kind != .la, tx.enforcesScope, let upstream = try upstream(in: &tx) else { return 0 }
        let view = try ScopeView.load(&tx, me: identity, today: today)
        let ack = try Self.acknowledged(by: upstream, in: tx.db)
        var forgotten = 0
        let erased = try view.erased
        let keepsFor = try relaysFor(&tx, sender: sender)
        // Pupils held here (anything applied about them) that are not on roll here now.
        let held = try String.fetchAll(
            tx.db,
            sql: """
                SELECT DISTINCT scope FROM scope_clock
                WHERE scope NOT IN (SELECT pupil_id FROM forgotten_pupil) AND scope NOT IN (SELECT pupil_id FROM erasure)
                ORDER BY scope
                """)
        for scope in held {
            guard let pupil = RecordID(scope), !erased.contains(pupil), !(try view.isEntitled(identity, to: pupil))
            else { continue }
            // Every other site's changes are safe where they came from; this site's own, and
            // those it relays for its academies, only once its upstream holds them.
            let clock = try tx.scopeClock(of: pupil)
            let upstreamHolds = try Self.holdings(
                of: upstream, pupil: pupil, passedOn: true, in: tx.db, sites: tx.sites)
            guard
                clock.allSatisfy({
                    !keepsFor.contains($0.key) || upstreamHolds[$0.key] >= $0.value || ack[$0.key] >= $0.value
                })
            else { continue }
            // What this site will say it passed on upstream, for the sites it sends to to forget
            // by: its own changes and those it relays are held upstream (above); another site's
            // only as far as the upstream says it holds them. Those are not this site's to keep,
            // but they may be the one copy that left their origin: an academy that joined this
            // trust before the trust knew (an older directory) sent its history here and forgot
            // its pupils on being told they were passed on, and nobody kept them.
            var passedOn = clock
            for (site, seq) in clock where !keepsFor.contains(site) {
                passedOn[site] = min(seq, max(upstreamHolds[site], ack[site]))
            }
            // A trust passes the news of a leaver on to its academy: keep the pupil until the
            // academy holds the change that ended its enrolment.
            if identity.kind == .trust {
                let owed = try endingsOwed(of: pupil, view: view, keepsFor: keepsFor, in: tx.db, sites: tx.sites)
                if owed.toMembers { continue }
                // Not counted as passed on, so that if the academy comes back, the LA sends the
                // news again for this trust to pass on (its content goes with the pupil) — unless
                // that would also deny an ending an academy here now holds (one number per site
                // says what was passed on), which the LA would then send for ever.
                for ending in owed.toFormerMembers where owed.newestAtMembers[ending.site] < ending.seq {
                    passedOn[ending.site] = min(passedOn[ending.site], ending.seq - 1)
                }
            }
            try tx.purge(pupil, erased: false)
            var w = BinaryWriter()
            passedOn.encode(into: &w)
            try tx.db.cachedStatement(
                sql: "INSERT OR REPLACE INTO forgotten_pupil (pupil_id, forgotten_at, held) VALUES (?, ?, ?)"
            ).execute(
                arguments: [scope, HLC(milliseconds: now(), counter: 0).description, Data(w.bytes)])
            forgotten += 1
        }
        // Changes held only to relay them: once the upstream holds them, their content goes.
        for row in try Row.fetchAll(tx.db, sql: "SELECT site_ord, seq FROM relayed_change") {
            let dot = Dot(site: try tx.sites.site(row[0]), seq: UInt64(row[1] as Int64))
            guard ack[dot.site] >= dot.seq, let held = try tx.storedEntry(dot) else { continue }
            try tx.replaceHeld(held.redacted())
            try tx.clearRelayOnly(dot)
        }
        return forgotten
    }

    /// The changes that ended `pupil`'s enrolments at academies this trust relays for and that
    /// the academy does not hold yet, by what it said in its bundles: the trust passes that news
    /// on, so it keeps the pupil until then.
    /// - Returns: whether an academy in this trust now lacks one (`toMembers`), the ones lacked
    ///   by academies that left it (`toFormerMembers`), and the newest ending per site at an
    ///   academy in it now (`newestAtMembers`).
    func endingsOwed(
        of pupil: RecordID, view: ScopeView, keepsFor: Set<SiteID>, in db: Database, sites: SiteOrdinals
    ) throws -> (toMembers: Bool, toFormerMembers: [Dot], newestAtMembers: VersionVector) {
        var toMembers = false
        var toFormerMembers: [Dot] = []
        var newestAtMembers = VersionVector()
        for ending in try view.endings(of: pupil) where keepsFor.contains(ending.school) {
            let isMember = view.directory?.entry(ending.school)?.trust == identity.id
            if isMember { newestAtMembers.advance(to: ending.change) }
            let academyHolds = try Self.holdings(of: ending.school, pupil: pupil, passedOn: true, in: db, sites: sites)
            let academyAck = try Self.acknowledged(by: ending.school, in: db)
            guard
                academyHolds[ending.change.site] < ending.change.seq
                    && academyAck[ending.change.site] < ending.change.seq
            else { continue }
            if isMember { toMembers = true } else { toFormerMembers.append(ending.change) }
        }
        return (toMembers, toFormerMembers, newestAtMembers)
    }

    /// Whether this trust, which passed `pupil` on, must hold them again: it may not see them,
    /// but an academy in it lacks the change that ended the pupil's enrolment there.
    func owesEndingToAMember(_ pupil: RecordID, sender: SiteID, tx: inout StoreTransaction) throws -> Bool {
        let view = try ScopeView.load(&tx, me: identity, today: today)
        guard try !view.isEntitled(identity, to: pupil) else { return false }
        let keepsFor = try relaysFor(&tx, sender: sender)
        return try endingsOwed(of: pupil, view: view, keepsFor: keepsFor, in: tx.db, sites: tx.sites).toMembers
    }

    /// The sites whose changes this store must see safely upstream before it lets their content go:
    /// its own, and (at a trust) those of every academy that was ever in it, and of every school
    /// that sent it a bundle. A school sends its history to the trust it takes for its own and
    /// forgets its pupils once that trust says it holds them; the trust may not know yet that the
    /// school joined it (the directory saying so reaches it later), and if it let the changes go
    /// as "held where they came from", no site would hold them.
    /// `sender`, the site whose bundle is being applied, counts as having sent one.
    func relaysFor(_ tx: inout StoreTransaction, sender: SiteID?) throws -> Set<SiteID> {
        var sites: Set<SiteID> = [identity.id]
        if identity.kind == .trust {
            let directory = try tx.directory()
            for entry in directory?.entries ?? []
            where entry.memberships.contains(where: { $0.trust == identity.id }) {
                sites.insert(entry.site.id)
            }
            let senders = try Int64.fetchAll(
                tx.db,
                sql: "SELECT DISTINCT sender_ord FROM import_log WHERE result = ? AND sender_ord IS NOT NULL",
                arguments: [ImportReport.Result.applied.rawValue])
            for site in try senders.map({ try tx.sites.site($0) }) + [sender].compactMap({ $0 }) {
                if let kind = directory?.entry(site)?.site.kind, kind.isSchool { sites.insert(site) }
            }
        }
        return sites
    }

    /// What `peer` last said it holds of `pupil`'s changes; with `passedOn`, also what it said it
    /// held when it passed the pupil on upstream (held safely there: enough to forget by, not to
    /// leave out of what is sent to it).
    static func holdings(
        of peer: SiteID, pupil: RecordID, passedOn: Bool = false, in db: Database, sites: SiteOrdinals
    ) throws -> VersionVector {
        var held = VersionVector()
        guard let peerOrd = sites.byID[peer] else { return held }
        let statement = try db.cachedStatement(
            sql: "SELECT origin_ord, seq FROM peer_scope WHERE peer_ord = ? AND pupil_id = ? AND passed_on <= ?")
        for row in try Row.fetchAll(statement, arguments: [peerOrd, pupil.description, passedOn]) {
            held[try sites.site(row[0])] = UInt64(row[1] as Int64)
        }
        return held
    }

    /// Whether `peer` last said it passed `pupil` on (what it held then is in its holdings with
    /// `passedOn`).
    static func passedOn(by peer: SiteID, pupil: RecordID, in db: Database, sites: SiteOrdinals) throws -> Bool {
        guard let peerOrd = sites.byID[peer] else { return false }
        return try Bool.fetchOne(
            try db.cachedStatement(
                sql: "SELECT EXISTS (SELECT 1 FROM peer_scope WHERE peer_ord = ? AND pupil_id = ? AND passed_on = 1)"),
            arguments: [peerOrd, pupil.description]) ?? false
    }

    /// Refuses a local write about a pupil this site may not see, unless the change itself
    /// enrols the pupil here.
    func requireEntitled(to pupil: RecordID, ops: [RecordOp], in tx: inout StoreTransaction) throws {
        guard tx.enforcesScope, identity.kind != .la else { return }
        let view = try ScopeView.load(&tx, me: identity, today: today)
        if try view.isEntitled(identity, to: pupil) { return }
        let directory = try tx.directory()
        let enrolsHere = ops.contains { op in
            op.table == RecordSchema.enrolment.name
                && op.writes.contains { write in
                    guard write.field == "school_id", let school = write.value.text.flatMap(SiteID.init) else {
                        return false
                    }
                    return school == identity.id
                        || (identity.kind == .trust && directory?.entry(school)?.trust == identity.id)
                }
        }
        guard enrolsHere else {
            var error = StoreError(
                .invalidInput,
                "This site no longer has, or never had, that pupil on roll, so it cannot change their records.",
                hint: "The pupil's current school or the LA can.")
            error.isNotOnRoll = true
            throw error
        }
    }

    // MARK: Transfers

    /// Moves a pupil to another school from `date`: ends their current enrolment and enrols them
    /// at `school`. Run by the LA or by the school the pupil is leaving. The new school receives
    /// the pupil's complete history in its next bundle; the old school stops receiving anything
    /// about them.
    @discardableResult
    public func transferPupil(_ reference: String, to school: SiteID, on date: String, author: String) throws
        -> WriteReceipt
    {
        try transferPupil(reference, to: school, on: date, author: author, replacing: nil)
    }

    /// ``transferPupil(_:to:on:author:)``; when `school` replaces the site `replaced` (a rejoin or an
    /// academy conversion: the same school under a new id), the pupil's SEN provision episodes open
    /// there on `date` move with them, in the same change: it is the same school's support (the
    /// new site's census read them as no support). Episodes that had ended stay where they were.
    @discardableResult
    func transferPupil(
        _ reference: String, to school: SiteID, on date: String, author: String, replacing replaced: SiteID?
    ) throws -> WriteReceipt {
        try writing {
            let pupil = try pupilID(for: reference)
            let day = try moveDate(date, "transfer date")
            var transferOps: [RecordOp] = []
            return try write(author: author, scope: pupil, ops: []) { tx in
                _ = try Self.requireLive(RecordKey(table: "pupil", scope: pupil, id: pupil), noun: "pupil", in: &tx)
                let directory = try tx.directory()
                guard let target = (school == identity.id ? identity : directory?.entry(school)?.site),
                    target.kind.isSchool
                else {
                    throw StoreError(
                        .unknownSite, "The destination is not a school in the area directory.",
                        hint: "See `sensync directory list`.")
                }
                // Nobody would hold the pupil: a removed school's bundles are refused everywhere.
                guard directory?.entry(school)?.isRevoked != true else {
                    throw StoreError(
                        .invalidInput, "That school was removed from the area directory: the pupil cannot move there.",
                        hint:
                            "If it rejoined under a new identity, transfer to that one (see `sensync directory list`).")
                }
                let view = try ScopeView.load(tx.db, me: identity, directory: directory, today: today)
                let onRoll = identity.kind.isSchool ? try view.isEntitled(identity, to: pupil) : false
                guard identity.kind == .la || onRoll else {
                    throw StoreError(
                        .invalidInput, "Only the LA or the pupil's current school can transfer them.",
                        hint: "Ask the LA.")
                }
                let current = try Row.fetchAll(
                    tx.db,
                    sql:
                        "SELECT id, school_id, entry_date FROM enrolment WHERE pupil_id = ? AND deleted = 0 AND (leaving_date IS NULL OR leaving_date > ?)",
                    arguments: [pupil.description, day])
                guard !current.contains(where: { ($0[1] as String?) == school.description }) else {
                    throw StoreError(
                        .invalidInput, "The pupil is already enrolled at that school.",
                        hint: "Nothing to do; `sensync pupil show` lists their schools.")
                }
                transferOps = try Self.ending(current, on: day, what: "transfer date")
                transferOps.append(
                    RecordOp(
                        table: "enrolment", id: .v7(milliseconds: now()),
                        writes: [
                            FieldWrite("school_id", .text(school.description)), FieldWrite("entry_date", .text(day)),
                        ]))
                if let replaced {
                    let open = try String.fetchAll(
                        tx.db,
                        sql: """
                            SELECT id FROM sen_episode WHERE pupil_id = ? AND deleted = 0 AND school_id = ?
                            AND (end_date IS NULL OR end_date > ?) ORDER BY id
                            """, arguments: [pupil.description, replaced.description, day])
                    for id in open.compactMap(RecordID.init) {
                        transferOps.append(
                            RecordOp(
                                table: SENEpisode.name, id: id,
                                writes: [FieldWrite(SENEpisode.Field.schoolID.rawValue, .text(school.description))]))
                    }
                }
            } opsAfterCheck: {
                transferOps
            }
        }
    }

    /// The day a pupil moves or leaves, checked: a move agreed for next term is dated ahead, but
    /// one more than a year ahead is a slip in typing the year (2062 for 2026), which would keep
    /// the pupil on this school's roll until then.
    private func moveDate(_ date: String, _ what: String) throws -> String {
        let day = try Check.date(date, what)
        try Self.requireWithinAYear(day, what, today: today)
        return day
    }

    /// Refuses a day more than a year after `today` for a move between schools (an entry,
    /// transfer or leaving date): a slip in its year, which would keep the pupil off every roll
    /// (or on one) for years.
    static func requireWithinAYear(_ day: String, _ what: String, today: CalendarDate) throws {
        if let parsed = CalendarDate(day), parsed > today.adding(days: 366) {
            throw StoreError(
                .invalidInput, "The \(what) is at most a year ahead.", hint: "Check the year of the date.")
        }
    }

    /// The writes that end the enrolments `open` (rows of id, school id, entry date) on `day`, for
    /// a transfer or a leaver. A day before one began is refused: it would leave that enrolment
    /// with contradictory dates.
    private static func ending(_ open: [Row], on day: String, what: String) throws -> [RecordOp] {
        if let joined = open.compactMap({ $0[2] as String? }).filter({ $0 > day }).max() {
            throw StoreError(
                .invalidInput, "The \(what) is before the pupil joined their current school (\(joined)).",
                hint: "Give --date \(joined) or later.")
        }
        return try open.map {
            RecordOp(
                table: Enrolment.name, id: try RecordID.stored($0[0] as String),
                writes: [FieldWrite(Enrolment.Field.leavingDate.rawValue, .text(day))])
        }
    }

    /// Records that a pupil left their school on `date` with no new school in the area to go to:
    /// moved away, educated at home, or gone nobody knows where. Ends their enrolment at this
    /// school (at the LA, every enrolment open that day). Run by the LA or the school the pupil
    /// leaves.
    ///
    /// The pupil then shows at the LA as on no school's roll (the area report counts them apart,
    /// so a child with SEN who has no school is visible to someone); the school stops receiving
    /// anything about them and removes its copy once its upstream holds everything it had, as
    /// after a transfer. If they start at a school in the area later, the LA transfers them there.
    ///
    /// - Parameter school: At the LA, the one school whose roll the pupil leaves (one of two they
    ///   are on after transfers made at the same time); `nil` for every school. A school may name
    ///   only itself.
    @discardableResult
    public func recordLeaving(_ reference: String, on date: String, author: String, school: SiteID? = nil) throws
        -> WriteReceipt
    {
        if let school, identity.kind != .la, school != identity.id {
            throw StoreError(
                .invalidInput, "A school records only that a pupil left its own roll.",
                hint: "Leave out --school, or ask the LA.")
        }
        return try writing {
            let pupil = try pupilID(for: reference)
            let day = try moveDate(date, "leaving date")
            var endings: [RecordOp] = []
            return try write(author: author, scope: pupil, ops: []) { tx in
                _ = try Self.requireLive(RecordKey(table: "pupil", scope: pupil, id: pupil), noun: "pupil", in: &tx)
                // A school ends its own enrolment (a pupil registered at two schools stays on the
                // other's roll); the LA ends every enrolment open that day.
                let enrolments = try Row.fetchAll(
                    tx.db,
                    sql: """
                        SELECT id, school_id, entry_date, leaving_date FROM enrolment WHERE pupil_id = ? AND deleted = 0
                        ORDER BY id
                        """,
                    arguments: [pupil.description]
                ).filter {
                    let at = $0[1] as String?
                    return identity.kind == .la
                        ? school.map { at == $0.description } ?? true : at == identity.id.description
                }
                let open = enrolments.filter { (($0[3] as String?).map { $0 > day }) ?? true }
                if identity.kind != .la {
                    let view = try ScopeView.load(&tx, me: identity, today: today)
                    // One who has left already is told so (a second run said only the LA could).
                    let left = enrolments.compactMap { $0[3] as String? }.max()
                    guard identity.kind.isSchool,
                        try view.isEntitled(identity, to: pupil) || (open.isEmpty && left != nil)
                    else {
                        throw StoreError(
                            .invalidInput, "Only the LA or the pupil's current school can record that they left.",
                            hint: "Ask the LA.")
                    }
                    if open.isEmpty, let left {
                        throw StoreError(
                            .invalidInput, "The pupil left this school on \(left): there is nothing to end.",
                            hint: "`sensync pupil show` lists their schools and dates.")
                    }
                }
                guard !open.isEmpty else {
                    throw StoreError(
                        .invalidInput,
                        identity.kind == .la
                            ? school == nil
                                ? "The pupil is on no school's roll on that day: there is nothing to end."
                                : "The pupil is not on that school's roll on that day: there is nothing to end."
                            : "The pupil is not on this school's roll on that day: there is nothing to end.",
                        hint: "`sensync pupil show` lists their schools and dates.")
                }
                endings = try Self.ending(open, on: day, what: "leaving date")
            } opsAfterCheck: {
                endings
            }
        }
    }

    // MARK: Erasure and retention

    /// Erases a pupil everywhere: a replicated change that makes every store that receives it
    /// delete the pupil's personal content, including from its change log, keeping only the
    /// erasure record (pupil id, reason, date, site) and what convergence needs.
    ///
    /// - Parameter reason: Why (for example "retention: DOB + 31 years"). Do not put personal
    ///   data in it: it is kept as proof.
    @discardableResult
    public func erasePupil(_ reference: String, reason: String, author: String) throws -> WriteReceipt {
        try writing {
            let pupil = try pupilID(for: reference)
            let why = try Check.text(reason, "erasure reason", max: 200)
            return try write(
                author: author, scope: pupil,
                ops: [
                    // Each erasure is its own record: two sites erasing the same pupil make two.
                    RecordOp(
                        table: RecordSchema.erasure.name, id: .v7(milliseconds: now()),
                        writes: [
                            FieldWrite("reason", .text(why)), FieldWrite("erased_on", .text(today.description)),
                            FieldWrite("erased_by", .text(identity.name)),
                        ])
                ]
            ) { tx in
                let view = try ScopeView.load(&tx, me: identity, today: today)
                let onRoll = identity.kind.isSchool ? try view.isEntitled(identity, to: pupil) : false
                guard identity.kind == .la || onRoll else {
                    throw StoreError(
                        .invalidInput, "Only the LA or the pupil's school can erase their records.", hint: "Ask the LA."
                    )
                }
            }
        }
    }

    /// Pupils whose SEN file has reached the end of its retention period (date of birth plus
    /// `years`) and that this site may erase.
    public func retentionDue(years: Int) throws -> [RecordID] {
        try Self.checkRetentionYears(years)
        return try reading { db in
            let view = try ScopeView.load(db, me: identity, directory: try Self.directory(in: db), today: today)
            return try Row.fetchAll(
                try db.cachedStatement(sql: "SELECT id, date_of_birth FROM pupil WHERE deleted = 0")
            ).compactMap {
                row in
                guard let id = RecordID(row[0] as String), let dob = (row[1] as String?).flatMap(CalendarDate.init)
                else { return nil }
                let due = CalendarDate(
                    year: dob.year + years, month: dob.month,
                    day: min(dob.day, CalendarDate.daysIn(month: dob.month, year: dob.year + years)))
                guard due <= today, !(try view.erased).contains(id) else { return nil }
                let mayErase = identity.kind == .la ? true : try view.isEntitled(identity, to: id)
                guard mayErase else { return nil }
                return id
            }
        }
    }

    /// The retention period this site applies, in years after the date of birth (default 31).
    public func retentionYears() throws -> Int {
        try reading { db in
            try Int.fetchOne(try db.cachedStatement(sql: "SELECT retention_years FROM site_identity")) ?? 31
        }
    }

    /// The retention periods a site may apply, in years after the date of birth: at least 25, as
    /// a young person may have SEN support or an EHC plan until then (a shorter period, 3 typed
    /// for 31, erased pupils still at school, everywhere the erasure reached).
    public static let retentionYearsAllowed = 25...120

    /// Refuses a retention period outside ``retentionYearsAllowed``.
    static func checkRetentionYears(_ years: Int) throws {
        guard retentionYearsAllowed.contains(years) else {
            throw StoreError(
                .invalidInput,
                "Retention must be between 25 and 120 years after the date of birth: a young person may have SEN support or an EHC plan until 25.",
                hint: "Give --years in that range (SEN files are usually kept to date of birth + 31 years).")
        }
    }

    /// Sets the retention period (years after the date of birth).
    public func setRetentionYears(_ years: Int) throws {
        try Self.checkRetentionYears(years)
        try writer.write { db in
            try db.cachedStatement(sql: "UPDATE site_identity SET retention_years = ?").execute(arguments: [years])
        }
    }

    /// Erases every pupil whose retention period has ended. Returns the pupils erased.
    @discardableResult
    public func runRetention(author: String, years: Int? = nil) throws -> [RecordID] {
        let period = try years ?? retentionYears()
        try Self.checkRetentionYears(period)
        var erased: [RecordID] = []
        for pupil in try retentionDue(years: period) {
            try erasePupil(
                pupil.description, reason: "retention: SEN file kept to date of birth + \(period) years", author: author
            )
            erased.append(pupil)
        }
        return erased
    }
}
