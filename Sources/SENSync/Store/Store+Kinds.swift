import Foundation
import GRDB

/// A record of any kind, as this store holds it.
public struct KindRecord: Sendable, Hashable {
    /// The kind's name (its table).
    public let kind: String
    public let id: RecordID
    public let pupilID: RecordID
    public var values: KindValues
    public var isDeleted: Bool

    /// The kind's declaration.
    public var spec: KindSpec? { RecordSchema.kind(kind) }
}

/// A record of kind `K`, read by GRDB from its table by column name.
public struct Record<K: RecordKind>: FetchableRecord, Sendable, Hashable {
    public let id: RecordID
    public let pupilID: RecordID
    public var values: KindValues
    public var isDeleted: Bool

    public init(row: Row) throws {
        guard let id = RecordID(row[Column("id")] as String), let pupil = RecordID(row[Column("pupil_id")] as String)
        else {
            throw StoreError(.database, "A \(K.noun) record has a damaged id.", hint: "Run `sensync audit verify`.")
        }
        self.id = id
        self.pupilID = pupil
        var values: [String: Value] = [:]
        for field in K.Field.allCases {
            values[field.rawValue] = Value(row[Column(field.rawValue)] as DatabaseValue)
        }
        self.values = KindValues(values)
        isDeleted = K.isAppendOnly ? false : (row[Column(RecordState.deletedField)] as Int64? ?? 0) != 0
    }

    public subscript(_ field: K.Field) -> Value? { values[field] }
    public func text(_ field: K.Field) -> String? { values.text(field) }
    public func date(_ field: K.Field) -> CalendarDate? { values.date(field) }
    public func integer(_ field: K.Field) -> Int64? { values.integer(field) }

    /// The same record, untyped.
    public var untyped: KindRecord {
        KindRecord(kind: K.name, id: id, pupilID: pupilID, values: values, isDeleted: isDeleted)
    }
}

/// Money as people type it.
public enum Money {
    /// "450", "450.5", "£450.50" pounds in pence; `nil` if it is not an amount.
    public static func pence(fromPounds text: String) -> Int64? {
        let parts = text.trimmingCharacters(in: .whitespaces).replacingOccurrences(of: "£", with: "").split(
            separator: ".", omittingEmptySubsequences: false)
        guard (1...2).contains(parts.count), let pounds = Int64(parts[0]), pounds >= 0, pounds < 1_000_000_000,
            parts.count == 1 || (parts[1].count <= 2 && parts[1].allSatisfy(\.isNumber) && !parts[1].isEmpty)
        else { return nil }
        let fraction = parts.count == 2 ? Int64(parts[1].padding(toLength: 2, withPad: "0", startingAt: 0)) ?? 0 : 0
        return pounds * 100 + fraction
    }
}

extension Check {
    static func pence(_ text: String, _ what: @autoclosure () -> String) throws -> Int64 {
        guard let pence = Money.pence(fromPounds: text) else {
            throw StoreError(
                .invalidInput, "The \(what()) is not an amount in pounds.", hint: "Use a number like 450 or 450.00.")
        }
        return pence
    }

    static func code(_ text: String, list name: String, _ what: @autoclosure () -> String) throws -> String {
        guard let list = CodeLists.named(name) else {
            throw StoreError(
                .database, "The code list '\(name)' is missing from this installation.",
                hint: "Reinstall SENSync with its resources (`swift build` puts them beside the binary).")
        }
        guard let code = list.code(matching: text) else {
            throw StoreError(
                .invalidInput, "That is not a valid \(what()).", hint: "Use one of: \(list.codeSummary).")
        }
        return code.code
    }
}

extension Store {
    /// Turns what a person typed for `field` into the value stored, checking it against the
    /// field's rule. An empty text clears the field. References resolve within `pupil`.
    func parse(
        _ text: String, for field: FieldDefinition, kind: KindSpec, pupil: RecordID?, in db: Database
    ) throws -> Value {
        let trimmed = text.trimmedOfSpace
        if trimmed.isEmpty {
            guard !field.isRequired else {
                throw StoreError(
                    .invalidInput, "The \(field.label.lowercased()) of \(kind.nounWithArticle) cannot be cleared.",
                    hint: "Give a value for \(field.option).")
            }
            return .null
        }
        // Only an error message names the field: not lower-cased for every value.
        var what: String { field.label.lowercased() }
        switch field.rule {
        case .text(let max): return .text(try Check.text(trimmed, what, max: max))
        case .date:
            // "Raised on" names a date as "the date raised" in a sentence.
            return .text(try Check.date(trimmed, field.dateName))
        case .code(let list): return .text(try Check.code(trimmed, list: list, what))
        case .codes(let list):
            var codes: [String] = []
            for part in trimmed.split(separator: ",") {
                let code = try Check.code(String(part), list: list, "code for \(what)")
                if !codes.contains(code) { codes.append(code) }
            }
            return .text(codes.joined(separator: ","))
        case .integer(let range):
            guard let n = Int64(trimmed), range.contains(n) else {
                throw StoreError(
                    .invalidInput,
                    "The \(what) must be a whole number from \(range.lowerBound) to \(range.upperBound).",
                    hint: "Check \(field.option).")
            }
            return .integer(n)
        case .pence: return .integer(try Check.pence(trimmed, what))
        case .flag:
            switch trimmed.lowercased() {
            case "yes", "y", "true", "1": return .integer(1)
            case "no", "n", "false", "0": return .integer(0)
            default: throw StoreError(.invalidInput, "The \(what) is yes or no.", hint: "Check \(field.option).")
            }
        case .reference(let table):
            let noun = RecordSchema.kind(table)?.noun ?? table
            let found = try Self.recordID(for: trimmed, table: table, noun: noun, in: db)
            if let pupil, found.scope != pupil {
                throw StoreError(
                    .invalidInput, "That \(noun) belongs to a different pupil.", hint: "Check \(field.option).")
            }
            return .text(found.id.description)
        case .site:
            if trimmed.lowercased() == identity.name.lowercased() || trimmed.lowercased() == "here" {
                return .text(identity.id.description)
            }
            return .text(try Self.site(named: trimmed, in: db).description)
        }
    }

    /// Shows records with the names of the sites this store knows, and of the records `records`
    /// refer to (a provision item's plan by its title).
    public func presenter(naming records: [KindRecord] = []) throws -> RecordPresenter {
        try reading { db in
            // By kind, by pupil (a record refers only to records of its own pupil).
            var referred: [String: [RecordID: Set<RecordID>]] = [:]
            for record in records {
                for field in record.spec?.fields ?? [] {
                    guard case .reference(let table) = field.rule,
                        let id = record.values.text(field.name).flatMap(RecordID.init)
                    else { continue }
                    referred[table, default: [:]][record.pupilID, default: []].insert(id)
                }
            }
            var named: [KindRecord] = []
            for (table, byPupil) in referred {
                guard let kind = RecordSchema.kind(table) else { continue }
                for (pupil, ids) in byPupil {
                    named += try Self.records(kind, pupil: pupil, includeDeleted: true, in: db).filter {
                        ids.contains($0.id)
                    }
                }
            }
            return try presenter(in: db).naming(named)
        }
    }

    func presenter(in db: Database) throws -> RecordPresenter {
        var names: [SiteID: String] = [:]
        for row in try Row.fetchAll(try db.cachedStatement(sql: "SELECT site_id, name FROM site")) {
            if let id = SiteID(row[0] as String) { names[id] = (row[1] as String?) ?? "another site" }
        }
        names[identity.id] = identity.name
        return RecordPresenter(siteNames: names)
    }

    /// A site by id or by the name the directory gives it.
    static func site(named reference: String, in db: Database) throws -> SiteID {
        if let id = SiteID(reference) { return id }
        let ids = try String.fetchAll(
            try db.cachedStatement(sql: "SELECT site_id FROM site WHERE lower(name) = lower(?)"), arguments: [reference]
        )
        guard ids.count == 1, let id = SiteID(ids[0]) else {
            throw StoreError(
                ids.isEmpty ? .unknownSite : .ambiguous,
                ids.isEmpty ? "No site of that name is known here." : "More than one site has that name.",
                hint: "Use the site id from `sensync directory list`.")
        }
        return id
    }

    private func requireOwner(_ kind: KindSpec) throws {
        if kind.owner == .localAuthority && identity.kind != .la {
            throw StoreError(
                .invalidInput, "Only the local authority records \(kind.plural).",
                hint: "Ask the LA's SEN team; they will see this pupil's records when you next sync.")
        }
    }

    private func definitions(_ fields: [String: String], of kind: KindSpec) throws -> [(FieldDefinition, String)] {
        try fields.sorted { $0.key < $1.key }.map { name, text in
            let key = name.replacingOccurrences(of: "-", with: "_").trimmingCharacters(
                in: CharacterSet(charactersIn: "_"))
            guard let field = kind.fieldNamedByPeople(key) else {
                if let field = kind.field(key), field.personName != field.name {
                    // `cost_pence` by its stored name: the amount is given in pounds, by its own name.
                    throw StoreError(
                        .invalidInput, "The \(field.label.lowercased()) is given in pounds, with \(field.option).",
                        hint: "Give \(field.option) 450.00 for £450, not --\(name).")
                }
                throw StoreError(
                    .invalidInput, "\(kind.nounWithArticle.capitalizingFirst) has no field '\(name)'.",
                    hint:
                        "Its fields are: \(kind.fields.filter { !$0.isSystem }.map(\.personName).joined(separator: ", "))."
                )
            }
            guard !field.isSystem else {
                throw StoreError(
                    .invalidInput,
                    "The \(field.label.lowercased()) of \(kind.nounWithArticle) is set by SENSync, not by hand.",
                    hint: "`sensync \(kind.commandName) --help` says which commands make \(kind.plural).")
            }
            return (field, text)
        }
    }

    /// Records a new record of `kind` about a pupil. `fields` are keyed by field name (or option
    /// name without the dashes) and given as a person would type them. A kind that belongs to a
    /// parent record (an outcome to its plan) takes its pupil from the parent.
    @discardableResult
    public func addRecord(_ kind: KindSpec, pupil reference: String?, fields: [String: String], author: String) throws
        -> RecordID
    {
        try writing {
            try requireOwner(kind)
            var fields = fields
            for field in kind.fields where !field.isSystem {
                guard let value = field.defaultValue(at: identity.kind) else { continue }
                let given = fields.keys.contains { $0.replacingOccurrences(of: "-", with: "_") == field.personName }
                if !given { fields[field.personName] = value }
            }
            let given = try definitions(fields, of: kind)
            let missing = kind.fields.filter { field in
                field.isRequired && !field.isSystem && !given.contains { $0.0.name == field.name }
            }
            guard missing.isEmpty else {
                throw StoreError(
                    .invalidInput,
                    "\(kind.nounWithArticle.capitalizingFirst) needs \(missing.map(\.label).joined(separator: ", ").lowercased()).",
                    hint: "Give \(missing.map(\.option).joined(separator: " ")).")
            }
            let (pupilID, values) = try reading { db -> (RecordID, [String: Value]) in
                var pupilID = try reference.map { try Self.pupilID(for: $0, in: db) }
                if let parent = kind.parent, let parentField = kind.field(parent),
                    case .reference(let table) = parentField.rule,
                    let text = fields[parent] ?? fields[parentField.option.dropFirst(2).description]
                {
                    let found = try Self.recordID(
                        for: text, table: table, noun: RecordSchema.kind(table)?.noun ?? table, in: db)
                    if let pupilID, pupilID != found.scope {
                        throw StoreError(
                            .invalidInput,
                            "That \(RecordSchema.kind(table)?.noun ?? table) belongs to a different pupil.",
                            hint: "Leave out --pupil; it follows from \(parentField.option).")
                    }
                    pupilID = found.scope
                }
                guard let pupilID else {
                    throw StoreError(
                        .invalidInput, "Which pupil is this \(kind.noun) about?", hint: "Give --pupil UPN.")
                }
                var values: [String: Value] = [:]
                for (field, text) in given {
                    values[field.name] = try self.parse(text, for: field, kind: kind, pupil: pupilID, in: db)
                }
                return (pupilID, values)
            }
            let id = RecordID.v7(milliseconds: now())
            try writeChecked(
                kind, key: RecordKey(table: kind.name, scope: pupilID, id: id), writes: values, isNew: true,
                author: author)
            return id
        }
    }

    /// Changes fields of an existing record. An empty value clears a field that is not required.
    @discardableResult
    public func updateRecord(_ reference: String, kind: KindSpec, fields: [String: String], author: String) throws
        -> WriteReceipt
    {
        try writing {
            try requireOwner(kind)
            guard !kind.isAppendOnly else {
                throw StoreError(
                    .appendOnly, "\(kind.nounWithArticle.capitalizingFirst) cannot be changed once recorded.")
            }
            let given = try definitions(fields, of: kind)
            guard !given.isEmpty else {
                throw StoreError(.invalidInput, "Nothing to change.", hint: "Give at least one field to update.")
            }
            let (key, values) = try reading { db -> (RecordKey, [String: Value]) in
                let found = try Self.recordID(for: reference, table: kind.name, noun: kind.noun, in: db)
                var values: [String: Value] = [:]
                for (field, text) in given {
                    values[field.name] = try self.parse(text, for: field, kind: kind, pupil: found.scope, in: db)
                }
                return (RecordKey(table: kind.name, scope: found.scope, id: found.id), values)
            }
            return try writeChecked(kind, key: key, writes: values, isNew: false, author: author)
        }
    }

    /// Writes `writes` to one record of a live pupil (and, for an update, a live record); the
    /// kind's rules are checked by ``write(author:scope:ops:check:opsAfterCheck:)``.
    @discardableResult
    func writeChecked(
        _ kind: KindSpec, key: RecordKey, writes: [String: Value], isNew: Bool, author: String,
        extraOps: [RecordOp] = []
    ) throws -> WriteReceipt {
        let ordered = kind.fields.compactMap { field in writes[field.name].map { FieldWrite(field.name, $0) } }
        return try write(
            author: author, scope: key.scope,
            ops: [RecordOp(table: kind.name, id: key.id, writes: ordered)] + extraOps
        ) { tx in
            _ = try Self.requireLive(
                RecordKey(table: RecordSchema.pupil.name, scope: key.scope, id: key.scope), noun: "pupil", in: &tx)
            if !isNew { _ = try Self.requireLive(key, noun: kind.noun, in: &tx) }
        }
    }

    /// Refuses a new record of `kind` that lacks a field its declaration requires (for the
    /// hand-written domain writes; generic writes check this as they parse).
    static func requireDeclaredFields(_ kind: KindSpec, in writes: [FieldWrite]) throws {
        let missing = kind.fields.filter { field in
            field.isRequired && !writes.contains { $0.field == field.name && !$0.value.isNull }
        }
        guard missing.isEmpty else {
            throw StoreError(
                .invalidInput,
                "\(kind.nounWithArticle.capitalizingFirst) needs \(missing.map(\.label).joined(separator: ", ").lowercased()).",
                hint: "Give \(missing.map(\.option).joined(separator: " ")).")
        }
    }

    /// Every local write keeps the rules its kinds declare: each record as it will be after `ops`
    /// (rules across fields, then rules across the pupil's records). Deletions and restores are
    /// not checked.
    static func checkDeclaredRules(
        _ ops: [RecordOp], scope: RecordID, today: CalendarDate, in tx: inout StoreTransaction
    ) throws {
        // What the change writes, by record: other records' rules see the pupil as it will be.
        var overlay: [RecordID: [String: Value]] = [:]
        // A pupil this store holds no change about has no records here to read.
        let holdsRecords = !(try tx.scopeClock(of: scope).isEmpty)
        // Records the change makes, by table: other records' rules count them as the pupil's too.
        var created: [String: [(id: RecordID, values: KindValues)]] = [:]
        // Each record as the store holds it, read once for both passes.
        var held: [RecordState?] = []
        held.reserveCapacity(ops.count)
        for op in ops {
            var writes: [String: Value] = [:]
            for write in op.writes { writes[write.field] = write.value }
            overlay[op.id, default: [:]].merge(writes) { $1 }
            let state = holdsRecords ? try tx.record(RecordKey(table: op.table, scope: scope, id: op.id)) : nil
            held.append(state)
            if state == nil, writes[RecordState.deletedField] != .integer(1) {
                created[op.table, default: []].append((op.id, KindValues(writes)))
            }
        }
        let order = tx.rulesLastFirst ? Array(ops.indices.reversed()) : Array(ops.indices)
        // An import's: every rule each record breaks (once per rule), thrown together at the end.
        var refused: [StoreError] = []
        for index in order {
            let op = ops[index]
            guard let kind = RecordSchema.kind(op.table), kind.name == op.table,
                !op.writes.allSatisfy({ $0.field == RecordState.deletedField })
            else { continue }
            let key = RecordKey(table: op.table, scope: scope, id: op.id)
            var current: [String: Value] = [:]
            if let state = held[index] {
                for field in kind.fields { current[field.name] = state[field.name] ?? .null }
                if state.isDeleted { current[RecordState.deletedField] = .integer(1) }
            }
            let hasPastDates = kind.hasPastDates
            for write in op.writes {
                current[write.field] = write.value
                if hasPastDates, let field = kind.field(write.field) {
                    try requireHappened(field, write.value, by: today)
                }
            }
            let values = KindValues(current)
            do {
                do {
                    try kind.checkRules(values)
                } catch let violation {
                    var error = StoreError(.invalidInput, violation.message, hint: violation.hint)
                    error.field = violation.field
                    throw error
                }
                try checkStoreRules(
                    kind, key: key, values: values, overlay: overlay, created: created, holdsRecords: holdsRecords,
                    in: tx.db)
            } catch var error as StoreError where error.code == .invalidInput {
                error.record = op.id
                guard tx.rulesLastFirst else { throw error }
                if !refused.contains(where: { $0.message == error.message }) { refused.append(error) }
            }
        }
        if var first = refused.first {
            first.alsoRefused = Array(refused.dropFirst())
            throw first
        }
    }

    /// Refuses a date of something that happened (``FieldDefinition/isPastDate``) later than
    /// `today`: every report counts what has happened by its day, so it would be counted nowhere.
    static func requireHappened(_ field: FieldDefinition, _ value: Value, by today: CalendarDate) throws {
        guard field.isPastDate, let date = value.text.flatMap(CalendarDate.init), date > today else { return }
        throw StoreError(
            .invalidInput, "The \(field.dateName) is in the future: it is the day it happened.",
            hint: "Check \(field.option); record it once it has happened.")
    }

    /// Rules that look at other records of the pupil: those the store holds, as `overlay` will
    /// leave them, and those the same change makes (`created`, by table). `holdsRecords` false
    /// says the store holds none of the pupil's records (it has no change about them), so there
    /// is nothing to read.
    static func checkStoreRules(
        _ kind: KindSpec, key: RecordKey, values: KindValues, overlay: [RecordID: [String: Value]] = [:],
        created: [String: [(id: RecordID, values: KindValues)]] = [:], holdsRecords: Bool = true, in db: Database
    ) throws {
        /// Another record's values as they will be after this change.
        func after(_ id: RecordID, _ values: KindValues) -> KindValues {
            var values = values
            for (name, value) in overlay[id] ?? [:] { values[name] = value }
            return values
        }
        /// The pupil's live records of kind `K` (cached statements: every local write of an
        /// episode or need runs these; nothing to read when the store holds no record of the
        /// pupil), then those the change makes.
        func others<K: RecordKind>(_: K.Type, sql: String, excludingThis: Bool) throws -> [(
            id: RecordID, values: KindValues
        )] {
            let made = (created[K.name] ?? []).filter { !excludingThis || $0.id != key.id }
            guard holdsRecords else { return made }
            return try Record<K>.fetchAll(
                db.cachedStatement(sql: sql),
                arguments: excludingThis ? [key.scope.description, key.id.description] : [key.scope.description]
            ).map { ($0.id, $0.values) } + made
        }
        if let rules = DateAfterParent.rules[kind.name] {
            // A date that cannot fall before a date of the record it belongs to (read as stored:
            // a parent made in the same change is not checked).
            for rule in rules {
                guard holdsRecords, let date = values.date(rule.field), let parent = values.text(rule.parentField)
                else { continue }
                let parentDate = try String.fetchOne(
                    try db.cachedStatement(
                        sql: "SELECT \(rule.parentDate) FROM \(rule.parentTable) WHERE pupil_id = ? AND id = ?"),
                    arguments: [key.scope.description, parent]
                ).flatMap(CalendarDate.init)
                if let parentDate, date < parentDate {
                    throw StoreError(
                        .invalidInput, rule.says,
                        hint: "Check \(kind.field(rule.field)?.option ?? rule.field).")
                }
            }
        }
        if let rule = OnePerParent.rules[kind.name], values.integer(RecordState.deletedField) != 1 {
            // One record per parent and key (one section F per plan): a second is a mistake, not
            // a second value (the first would be shown as if it were all there is).
            let fields = [rule.parentField] + rule.keyFields
            let wanted = fields.map { values[$0] }
            if !wanted.contains(where: { $0 == nil }) {
                let made = (created[kind.name] ?? []).contains { other in
                    other.id != key.id && fields.map { other.values[$0] } == wanted
                }
                let conditions = fields.map { "\($0) = ?" }.joined(separator: " AND ")
                let held =
                    try holdsRecords
                    && Bool.fetchOne(
                        db.cachedStatement(
                            sql: """
                                SELECT EXISTS (SELECT 1 FROM \(kind.name)
                                WHERE pupil_id = ? AND id != ? AND deleted = 0 AND \(conditions))
                                """),
                        arguments: StatementArguments(
                            [key.scope.description.databaseValue, key.id.description.databaseValue]
                                + wanted.compactMap { $0?.databaseValue })) == true
                if made || held {
                    throw StoreError(.invalidInput, rule.says, hint: rule.hint)
                }
            }
        }
        switch kind.name {
        case SENEpisode.name:
            guard values[SENEpisode.Field.endDate] == nil, let school = values.text(SENEpisode.Field.schoolID) else {
                return
            }
            let episodes = try others(
                SENEpisode.self, sql: "SELECT * FROM sen_episode WHERE pupil_id = ? AND id != ? AND deleted = 0",
                excludingThis: true)
            let open = episodes.map { after($0.id, $0.values) }.filter {
                $0.text(SENEpisode.Field.schoolID) == school && $0[SENEpisode.Field.endDate] == nil
                    && $0.integer(RecordState.deletedField) != 1
            }
            if !open.isEmpty {
                throw StoreError(
                    .invalidInput, "This pupil already has an open SEN provision episode at that school.",
                    hint: "End it first (`sensync sen-episode update ID --end-date DATE`).")
            }
        case SENNeedRecord.name:
            let episodes = try others(
                SENEpisode.self, sql: "SELECT * FROM sen_episode WHERE pupil_id = ? AND deleted = 0",
                excludingThis: false)
            let needs = try others(
                SENNeedRecord.self, sql: "SELECT * FROM sen_need WHERE pupil_id = ? AND id != ? AND deleted = 0",
                excludingThis: true)
            var proposed = needs.map { after($0.id, $0.values) }
            if values.integer(RecordState.deletedField) != 1 { proposed.append(values) }
            let provision = episodes.map { after($0.id, $0.values) }
            if let problem = CensusRules.needProblem(
                needs: proposed.filter { $0[SENNeedRecord.Field.endDate] == nil },
                openProvision: provision.filter { $0[SENEpisode.Field.endDate] == nil }.compactMap {
                    $0.text(SENEpisode.Field.provision)
                })
            {
                throw StoreError(.invalidInput, problem.message, hint: problem.hint)
            }
        default: break
        }
    }

    /// Records of which a parent has at most one per key: a plan has one section F, and one
    /// review meeting on a day.
    struct OnePerParent {
        var parentField: String
        var keyFields: [String]
        var says: String
        var hint: String

        static let rules: [String: OnePerParent] = [
            EHCSection.name: OnePerParent(
                parentField: EHCSection.Field.planID.rawValue, keyFields: [EHCSection.Field.section.rawValue],
                says: "That section of this plan is already recorded.",
                hint:
                    "Change it with `sensync ehc-section update ID` (`sensync ehc-section list --pupil PUPIL` gives the ids)."
            ),
            EHCReview.name: OnePerParent(
                parentField: EHCReview.Field.planID.rawValue, keyFields: [EHCReview.Field.meetingOn.rawValue],
                says: "A review meeting on that day is already recorded for this plan.",
                hint:
                    "Change it with `sensync ehc-review update ID` (`sensync ehc-review list --pupil PUPIL` gives the ids)."
            ),
        ]
    }

    /// A record's date that cannot fall before a date of the record it belongs to.
    struct DateAfterParent {
        var field: String
        var parentField: String
        var parentTable: String
        var parentDate: String
        var says: String

        static let rules: [String: [DateAfterParent]] = [
            PlanReview.name: [
                DateAfterParent(
                    field: PlanReview.Field.heldOn.rawValue, parentField: PlanReview.Field.planID.rawValue,
                    parentTable: SupportPlan.name, parentDate: SupportPlan.Field.startDate.rawValue,
                    says: "The review is before the plan started.")
            ],
            PlanOutcome.name: [
                DateAfterParent(
                    field: PlanOutcome.Field.targetDate.rawValue, parentField: PlanOutcome.Field.planID.rawValue,
                    parentTable: SupportPlan.name, parentDate: SupportPlan.Field.startDate.rawValue,
                    says: "The outcome's target date is before the plan started.")
            ],
            EHCReview.name: [
                DateAfterParent(
                    field: EHCReview.Field.meetingOn.rawValue, parentField: EHCReview.Field.planID.rawValue,
                    parentTable: EHCPlan.name, parentDate: EHCPlan.Field.issuedOn.rawValue,
                    says: "The review meeting is before the plan was issued.")
            ],
            EHCAdvice.name: [
                DateAfterParent(
                    field: EHCAdvice.Field.requestedOn.rawValue, parentField: EHCAdvice.Field.assessmentID.rawValue,
                    parentTable: EHCAssessment.name, parentDate: EHCAssessment.Field.requestReceivedOn.rawValue,
                    says: "The advice was asked for before the request for an assessment was received.")
            ],
            ConcernAction.name: [ConcernAction.Field.dueOn, .doneOn].map { field in
                DateAfterParent(
                    field: field.rawValue, parentField: ConcernAction.Field.concernID.rawValue,
                    parentTable: Concern.name, parentDate: Concern.Field.raisedOn.rawValue,
                    says: "The action's \(field.definition.label.lowercased()) is before the concern was raised.")
            },
        ]
    }

    /// The records of `kind` about a pupil, in the kind's order (deleted ones left out).
    public func records(_ kind: KindSpec, of pupil: String, includeDeleted: Bool = false) throws -> [KindRecord] {
        let pupilID: RecordID
        do { pupilID = try self.pupilID(for: pupil) } catch let error as StoreError where error.code == .notFound {
            // An erased pupil (no pupil record any more) is named by their full id: what is kept
            // of them (the erasure itself) is listed; an id nothing is kept of is still not found.
            guard let id = RecordID(pupil.trimmedOfSpace) else { throw error }
            let kept = try reading { db in try Self.records(kind, pupil: id, includeDeleted: includeDeleted, in: db) }
            guard !kept.isEmpty else { throw error }
            return kept
        }
        return try reading { db in try Self.records(kind, pupil: pupilID, includeDeleted: includeDeleted, in: db) }
    }

    /// Every record of `kind` in the store, pupil by pupil (an erasure too, whose pupil has no
    /// UPN here any more).
    public func records(_ kind: KindSpec, includeDeleted: Bool = false) throws -> [KindRecord] {
        try reading { db in try Self.records(kind, pupil: nil, includeDeleted: includeDeleted, in: db) }
    }

    static func records(_ kind: KindSpec, pupil: RecordID?, includeDeleted: Bool = false, in db: Database) throws
        -> [KindRecord]
    {
        var records: [KindRecord] = []
        try readRecords(kind, pupil: pupil, includeDeleted: includeDeleted, in: db) { records.append($0) }
        return records
    }

    /// Every live record of `kind`, one pupil at a time (pupils in id order, each pupil's records
    /// in the kind's order): for reading a whole store, without a lookup per record.
    static func recordsByPupil(_ kind: KindSpec, in db: Database, _ body: (RecordID, [KindRecord]) -> Void) throws {
        var pupil: RecordID?
        var batch: [KindRecord] = []
        try readRecords(kind, pupil: nil, byPupil: true, in: db) { record in
            if record.pupilID != pupil {
                if let pupil { body(pupil, batch) }
                pupil = record.pupilID
                batch.removeAll(keepingCapacity: true)
            }
            batch.append(record)
        }
        if let pupil { body(pupil, batch) }
    }

    /// Every live record of `kind`, one at a time (by pupil, then in the kind's order), never all
    /// in memory: for writing a whole store out.
    static func eachRecord(_ kind: KindSpec, in db: Database, _ body: (KindRecord) throws -> Void) throws {
        try readRecords(kind, pupil: nil, byPupil: true, in: db, body)
    }

    private static func readRecords(
        _ kind: KindSpec, pupil: RecordID?, includeDeleted: Bool = false, byPupil: Bool = false, in db: Database,
        _ body: (KindRecord) throws -> Void
    ) throws {
        // Columns are read by position from a cursor: looking each up by name costs more than
        // decoding it, and a cursor holds one row at a time, whatever the table's size.
        let quoted = { (name: String) in "\"\(name)\"" }
        var columns = ["id", "pupil_id"] + kind.fields.map(\.name)
        if !kind.isAppendOnly { columns.append(RecordState.deletedField) }
        var sql = "SELECT \(columns.map(quoted).joined(separator: ", ")) FROM \(quoted(kind.name))"
        var conditions: [String] = []
        var arguments: StatementArguments = []
        if let pupil {
            conditions.append("pupil_id = ?")
            arguments += [pupil.description]
        }
        if !kind.isAppendOnly && !includeDeleted { conditions.append("\(quoted(RecordState.deletedField)) = 0") }
        if !conditions.isEmpty { sql += " WHERE " + conditions.joined(separator: " AND ") }
        sql +=
            " ORDER BY "
            + ((byPupil ? ["pupil_id"] : []) + (kind.orderedBy.map { [$0] } ?? []) + ["id"]).map(quoted).joined(
                separator: ", ")
        let cursor = try Row.fetchCursor(db, sql: sql, arguments: arguments)
        // Read in pupil order, consecutive rows share the pupil's id: parsed once.
        var lastScopeText = ""
        var lastScope: RecordID?
        while let row = try cursor.next() {
            let scopeText = row[1] as String
            if scopeText != lastScopeText {
                lastScopeText = scopeText
                lastScope = RecordID(scopeText)
            }
            guard let id = RecordID(row[0] as String), let scope = lastScope else { continue }
            var values: [String: Value] = [:]
            values.reserveCapacity(kind.fields.count)
            for (i, field) in kind.fields.enumerated() {
                values[field.name] = Value(row[i + 2] as DatabaseValue)
            }
            let deleted = kind.isAppendOnly ? false : (row[columns.count - 1] as Int64? ?? 0) != 0
            try body(
                KindRecord(kind: kind.name, id: id, pupilID: scope, values: KindValues(values), isDeleted: deleted))
        }
    }

    /// One record of `kind` by id or unique id prefix.
    public func record(_ reference: String, kind: KindSpec) throws -> KindRecord {
        try reading { db in
            let found = try Self.recordID(for: reference, table: kind.name, noun: kind.noun, in: db)
            guard
                let record = try Self.records(kind, pupil: found.scope, includeDeleted: true, in: db).first(where: {
                    $0.id == found.id
                })
            else { throw StoreError(.notFound, "No \(kind.noun) with that id is in this store.") }
            return record
        }
    }

    /// Refuses to record a step of a record (an EHC assessment's decision, say) a second time
    /// with other values: a step verb records what happened once, and a second one with another
    /// day or outcome silently replaced the first. The same values again pass (nothing changes);
    /// a correction goes through `KIND update`.
    public func requireStepNotRecorded(_ reference: String, kind: KindSpec, fields: [String: String]) throws {
        let record = try record(reference, kind: kind)
        let given = try reading { db in
            try definitions(fields, of: kind).map { field, text in
                (field, try parse(text, for: field, kind: kind, pupil: record.pupilID, in: db))
            }
        }
        let differs = given.filter { field, value in
            guard let held = record.values[field.name] else { return false }
            return held != value
        }
        guard differs.isEmpty else {
            throw StoreError(
                .invalidInput,
                "This \(kind.noun) already has its \(differs.map { $0.0.label.lowercased() }.joined(separator: " and ")), recorded differently.",
                hint:
                    "To correct it: `sensync \(kind.commandName) update \(record.id.description.prefix(8)) \(differs.map { "\($0.0.option) VALUE" }.joined(separator: " "))`."
            )
        }
    }

    // MARK: Typed forms

    /// Records a new record of kind `K`.
    @discardableResult
    public func addRecord<K: RecordKind>(_ kind: K.Type, pupil: String?, _ fields: [K.Field: String], author: String)
        throws -> RecordID
    {
        try addRecord(
            K.spec, pupil: pupil, fields: Dictionary(uniqueKeysWithValues: fields.map { ($0.rawValue, $1) }),
            author: author)
    }

    /// Changes fields of a record of kind `K`.
    @discardableResult
    public func updateRecord<K: RecordKind>(
        _ kind: K.Type, _ reference: String, _ fields: [K.Field: String], author: String
    )
        throws -> WriteReceipt
    {
        try updateRecord(
            reference, kind: K.spec, fields: Dictionary(uniqueKeysWithValues: fields.map { ($0.rawValue, $1) }),
            author: author)
    }

    /// The records of kind `K` about a pupil (all pupils when `pupil` is nil).
    public func records<K: RecordKind>(_ kind: K.Type, of pupil: String? = nil) throws -> [Record<K>] {
        let scope = try pupil.map { try self.pupilID(for: $0) }
        return try reading { db in
            var request = Table(K.name).all()
            if let scope { request = request.filter(Column("pupil_id") == scope.description) }
            if !K.isAppendOnly { request = request.filter(Column(RecordState.deletedField) == 0) }
            if let order = K.orderedBy {
                request = request.order(Column(order.rawValue), Column("id"))
            } else {
                request = request.order(Column("id"))
            }
            let records: [Record<K>] = try Record<K>.fetchAll(db, request)
            return records
        }
    }
}
