import Foundation
import SENSync

/// A small, fast, seedable generator (SplitMix64), so the synthetic content is reproducible.
/// Record ids still use the store's own UUIDv7s, so ids differ between runs; sizes do not.
struct SplitMix64: RandomNumberGenerator {
    /// The library's SplitMix64, so a seed means the same sequence everywhere.
    private var base: SeededGenerator

    init(seed: UInt64) { base = SeededGenerator(seed: seed) }

    mutating func next() -> UInt64 { base.next() }

    mutating func int(_ range: ClosedRange<Int>) -> Int { Int.random(in: range, using: &self) }
    mutating func chance(_ p: Double) -> Bool { Double.random(in: 0..<1, using: &self) < p }
    mutating func pick<T>(_ items: [T]) -> T { items[Int.random(in: 0..<items.count, using: &self)] }
}

/// Word lists for synthetic SEN text. Nothing here is real personal data.
enum Lexicon {
    static let words = [
        "reading", "phonics", "attention", "classroom", "speech", "language", "anxiety", "social", "peers",
        "listening", "instructions", "fine", "motor", "handwriting", "sensory", "noise", "transitions", "routine",
        "maths", "number", "working", "memory", "processing", "vocabulary", "comprehension", "behaviour",
        "support", "adult", "small", "group", "intervention", "progress", "parents", "observed", "reported",
        "difficulty", "friendships", "lunchtime", "playground", "focus", "tasks", "independently", "visual",
        "timetable", "prompts", "regulation", "calm", "space", "assessment", "teacher", "concern", "spelling",
        "writing", "letters", "sounds", "expressive", "receptive", "eye", "contact", "turn-taking", "fatigue",
        "hearing", "vision", "seating", "frustration", "withdrawn", "confidence", "homework", "attendance",
        "with", "during", "after", "before", "when", "and", "in", "the", "to", "of", "at", "needs", "shows",
        "finds", "struggles", "responds", "well", "slowly", "often", "sometimes", "weekly", "daily",
    ]
    static let forenames = [
        "Amelia", "Oliver", "Isla", "George", "Ava", "Noah", "Mia", "Arthur", "Ivy", "Muhammad", "Freya", "Leo",
        "Lily", "Oscar", "Florence", "Harry", "Willow", "Archie", "Rosie", "Jack", "Sophia", "Henry", "Isabella",
        "Theo", "Grace", "Charlie", "Evie", "Jacob", "Aisha", "Finley", "Zara", "Alfie", "Poppy", "Thomas",
        "Maryam", "Joshua", "Ella", "Yusuf", "Sienna", "Reuben",
    ]
    static let surnames = [
        "Smith", "Jones", "Taylor", "Brown", "Williams", "Wilson", "Johnson", "Davies", "Patel", "Robinson",
        "Wright", "Thompson", "Evans", "Walker", "White", "Roberts", "Green", "Hall", "Khan", "Wood", "Jackson",
        "Clarke", "Hussain", "Turner", "Hill", "Lewis", "Cooper", "Ward", "Morris", "Harris", "Begum", "Moore",
        "Ahmed", "Kaur", "Singh", "Okafor", "Nowak", "Kowalski", "Mensah", "Ali",
    ]
    static let planTitles = [
        "SEN support plan", "Communication and interaction plan", "Literacy support plan",
        "Social, emotional and mental health plan", "Sensory and physical support plan", "Numeracy support plan",
    ]
    static let providers = [
        "Speech and Language Therapy Service", "Educational Psychology Service", "Teaching assistant (in class)",
        "Specialist teacher, Learning Support Service", "School counsellor", "Occupational Therapy Service",
        "Sensory Support Service", "SENCO",
    ]
    static let frequencies = [
        "3 x 20 min weekly", "Daily 15 min", "Weekly 1 hour", "Fortnightly 45 min", "Termly visit",
        "2 x 30 min weekly",
    ]
    static let people = [
        "J. Patel (SENCO)", "A. Okafor (class teacher)", "S. Green (SLT)", "M. Nowak (EP)", "R. Khan (TA)",
        "L. Evans (specialist teacher)", "C. Ward (OT)",
    ]
    static let needs: [SENNeed] = [.slcn, .asd, .semh, .spld, .mld, .sld, .hi, .vi, .pd, .oth, .nsa, .ds]

    /// Sentences of words from the list, between `minChars` and `maxChars` characters.
    static func text<G: RandomNumberGenerator>(_ rng: inout G, minChars: Int, maxChars: Int, prefix: String = "")
        -> String
    {
        let target = Int.random(in: minChars...maxChars, using: &rng)
        var out = prefix
        var startOfSentence = prefix.isEmpty
        var wordsInSentence = 0
        var sentenceLength = Int.random(in: 6...14, using: &rng)
        while out.count < target {
            var word = words[Int.random(in: 0..<words.count, using: &rng)]
            if startOfSentence { word = word.prefix(1).uppercased() + word.dropFirst() }
            if !out.isEmpty && !out.hasSuffix(" ") { out += " " }
            out += word
            startOfSentence = false
            wordsInSentence += 1
            if wordsInSentence >= sentenceLength {
                out += "."
                startOfSentence = true
                wordsInSentence = 0
                sentenceLength = Int.random(in: 6...14, using: &rng)
            }
        }
        if out.count > maxChars {
            out = String(out.prefix(maxChars - 1))
            if let space = out.lastIndex(of: " "), out.distance(from: out.startIndex, to: space) >= minChars - 1 {
                out = String(out[..<space])
            }
        }
        if !out.hasSuffix(".") { out += "." }
        return out
    }
}

/// One site in the synthetic area.
final class SyntheticSite {
    let identity: SiteIdentity
    let store: Store
    let path: String?
    var pupils: [RecordID] = []

    init(identity: SiteIdentity, store: Store, path: String?) {
        self.identity = identity
        self.store = store
        self.path = path
    }
}

/// What building an area wrote.
struct WriteStats {
    var changes = 0
    var seconds = 0.0
    /// Per API call: count and total seconds.
    var byKind: [String: (count: Int, seconds: Double)] = [:]

    mutating func record(_ kind: String, _ seconds: Double) {
        changes += 1
        self.seconds += seconds
        let old = byKind[kind] ?? (0, 0)
        byKind[kind] = (old.count + 1, old.seconds + seconds)
    }
}

struct SyntheticArea {
    var la: SyntheticSite
    var schools: [SyntheticSite]
    var writes: WriteStats
    var pupils: Int
    /// The LA store before any bundle was applied.
    var pristineLA: String

    /// A fresh copy of the LA store before any bundle, at `path` (with its key file).
    static func copyPristine(_ pristine: String, to path: String) throws -> Store {
        try FileManager.default.copyItem(atPath: pristine, toPath: path)
        try FileManager.default.copyItem(atPath: KeyFile.path(forStore: pristine), toPath: KeyFile.path(forStore: path))
        return try Store.open(at: path)
    }
}

/// Builds the area: an LA store and school stores, with every pupil's SEN content written through
/// the public `Store` API (one change per call).
enum AreaBuilder {
    static let laCode = "801"

    /// `earlyIdentification` adds what the area report reads beyond plans: a first concern for
    /// every pupil and referrals to outside agencies for some.
    static func build(
        pupils: Int, schools schoolCount: Int, seed: UInt64, in folder: URL, tag: String, fileBackedSchools: Bool,
        earlyIdentification: Bool = false, batched: Bool = false, progress: Progress
    ) throws -> SyntheticArea {
        var rng = SplitMix64(seed: seed)
        let laIdentity = SiteIdentity(id: .v7(), name: "Synthetic Local Authority", kind: .la, laCode: laCode)
        let laPath = folder.appendingPathComponent("\(tag)-la.sensync").path
        let la = SyntheticSite(
            identity: laIdentity, store: try Store.create(at: laPath, identity: laIdentity), path: laPath)
        let laPublic = la.store.publicIdentity
        var schools: [SyntheticSite] = []
        for k in 1...schoolCount {
            let academy = k % 2 == 0
            let identity = SiteIdentity(
                id: .v7(), name: academy ? "Synthetic Academy \(k)" : "Synthetic Primary \(k)",
                kind: academy ? .academy : .maintainedSchool, urn: String(format: "%06d", 190_000 + k), laCode: laCode)
            let store: Store
            var path: String?
            if fileBackedSchools {
                path = folder.appendingPathComponent("\(tag)-school-\(k).sensync").path
                store = try Store.create(at: path!, identity: identity, la: laPublic)
            } else {
                store = try Store.inMemory(identity: identity, la: laPublic)
            }
            try la.store.addToDirectory(store.publicIdentity)
            schools.append(SyntheticSite(identity: identity, store: store, path: path))
        }
        // Uneven school sizes: weights 0.6–1.4, every school gets at least one pupil.
        let weights = (0..<schoolCount).map { _ in Double.random(in: 0.6...1.4, using: &rng) }
        var counts = weights.map { max(1, Int(Double(pupils) * $0 / weights.reduce(0, +))) }
        while counts.reduce(0, +) > pupils { counts[counts.firstIndex(of: counts.max()!)!] -= 1 }
        while counts.reduce(0, +) < pupils { counts[counts.firstIndex(of: counts.min()!)!] += 1 }

        let today = CalendarDate.today()
        let academicYear = today.month >= 9 ? today.year : today.year - 1
        var stats = WriteStats()
        var done = 0
        var nextReport = 0
        for (k, school) in schools.enumerated() {
            let secondary = school.identity.kind == .academy
            // With `batched`, 100 pupils' writes at a time share one transaction (`Store.batch`).
            let chunk = batched ? 100 : 1
            for first in stride(from: 0, to: counts[k], by: chunk) {
                func writeChunk() throws {
                    for serial in first..<min(first + chunk, counts[k]) {
                        if done >= nextReport {
                            progress.say("[\(tag)] writing: \(done)/\(pupils) pupils, \(stats.changes) changes")
                            nextReport += max(1, pupils / 10)
                        }
                        try writePupil(
                            school: school, serial: serial, schoolIndex: k + 1, secondary: secondary,
                            academicYear: academicYear, today: today, rng: &rng, stats: &stats)
                        if earlyIdentification {
                            try writeEarlyIdentification(school: school, today: today, rng: &rng, stats: &stats)
                        }
                        done += 1
                    }
                }
                if batched { try school.store.batch { try writeChunk() } } else { try writeChunk() }
            }
        }
        progress.say("[\(tag)] writing: \(done)/\(pupils) pupils, \(stats.changes) changes")
        // A copy of the LA store as it is before any bundle (keys and directory included), so
        // repeated applies can start from the same state.
        try la.store.checkpoint()
        let pristine = folder.appendingPathComponent("\(tag)-la-pristine.sensync").path
        try FileManager.default.copyItem(atPath: laPath, toPath: pristine)
        try FileManager.default.copyItem(
            atPath: KeyFile.path(forStore: laPath), toPath: KeyFile.path(forStore: pristine))
        return SyntheticArea(la: la, schools: schools, writes: stats, pupils: pupils, pristineLA: pristine)
    }

    /// A valid synthetic UPN: LA 801 (a real LA number, as UPN rule 1530 requires), establishment 2000 + school, a five-digit serial.
    static func upn(schoolIndex: Int, serial: Int) -> String {
        let body = laCode + String(format: "%04d", 2000 + schoolIndex) + String(format: "%05d", serial)
        return String(UPN.checkLetter(for: body)!) + body
    }

    /// A first concern (raised 3 to 40 weeks ago) and, for a third of pupils, a referral that was
    /// seen after 2 to 30 weeks or is still waiting.
    private static func writeEarlyIdentification(
        school: SyntheticSite, today: CalendarDate, rng: inout SplitMix64, stats: inout WriteStats
    ) throws {
        guard let pupil = school.pupils.last?.description else { return }
        let author = rng.pick(Lexicon.people)
        let raised = today.adding(days: -rng.int(21...280))
        let observations = Lexicon.text(&rng, minChars: 60, maxChars: 200)
        let reviewDate = raised.adding(days: 42).description
        let start = DispatchTime.now().uptimeNanoseconds
        _ = try school.store.addRecord(
            Concern.self, pupil: pupil,
            [
                .raisedOn: raised.description, .raisedByRole: "class-teacher", .areas: "communication-interaction",
                .observations: observations, .reviewDate: reviewDate, .status: rng.chance(0.8) ? "sen-support" : "open",
            ], author: author)
        stats.record("addConcern", Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)
        guard rng.chance(0.35) else { return }
        let referred = raised.adding(days: rng.int(7...20))
        var fields: [Referral.Field: String] = [
            .agency: rng.pick(["speech-language-therapy", "educational-psychology", "camhs", "occupational-therapy"]),
            .reason: Lexicon.text(&rng, minChars: 40, maxChars: 120), .referredOn: referred.description,
            .referredBy: author,
        ]
        let seen = referred.adding(days: rng.int(14...210))
        if seen < today && rng.chance(0.7) { fields[.firstSeenOn] = seen.description }
        let referralStart = DispatchTime.now().uptimeNanoseconds
        _ = try school.store.addRecord(Referral.self, pupil: pupil, fields, author: author)
        stats.record("addReferral", Double(DispatchTime.now().uptimeNanoseconds - referralStart) / 1e9)
    }

    private static func writePupil(
        school: SyntheticSite, serial: Int, schoolIndex: Int, secondary: Bool, academicYear: Int, today: CalendarDate,
        rng: inout SplitMix64, stats: inout WriteStats
    ) throws {
        let store = school.store
        let author = rng.pick(Lexicon.people)
        let yearGroup = secondary ? rng.int(7...11) : rng.int(0...6)
        // Born between 1 September and 31 August of the cohort's year.
        let cohortStart = CalendarDate(year: academicYear - 5 - yearGroup - 1, month: 9, day: 1)
        let dob = cohortStart.adding(days: rng.int(0...364))
        let entry = CalendarDate(
            year: academicYear - rng.int(0...(secondary ? yearGroup - 7 : yearGroup)), month: 9, day: rng.int(1...7))

        func timed<T>(_ kind: String, _ body: () throws -> T) rethrows -> T {
            let start = DispatchTime.now().uptimeNanoseconds
            let result = try body()
            stats.record(kind, Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)
            return result
        }

        let pupil = try timed("addPupil") {
            try store.addPupil(
                NewPupil(
                    upn: upn(schoolIndex: schoolIndex, serial: serial), forename: rng.pick(Lexicon.forenames),
                    surname: rng.pick(Lexicon.surnames), dateOfBirth: dob.description, yearGroup: yearGroup,
                    entryDate: entry.description), author: author)
        }
        school.pupils.append(pupil)
        let ref = pupil.description

        let ehc = rng.chance(0.08)
        var needs: [SENNeed] = []
        for _ in 0..<rng.int(1...2) {
            let need = rng.pick(Lexicon.needs)
            if !needs.contains(need) && !(ehc && need == .nsa) { needs.append(need) }
        }
        if needs.isEmpty { needs = [.slcn] }
        // NSA (no specialist assessment) stands alone: the store refuses it beside another need.
        if needs.count > 1 { needs.removeAll { $0 == .nsa } }
        try timed("updatePupil") {
            _ = try store.updatePupil(
                ref, PupilUpdate(senStatus: ehc ? "E" : "K", senNeeds: needs.map(\.rawValue).joined(separator: ",")),
                author: author)
        }

        for _ in 0..<rng.int(2...4) {
            let text = Lexicon.text(&rng, minChars: 80, maxChars: 300)
            let area = rng.pick(NoteArea.allCases)
            try timed("addNote") { _ = try store.addNote(pupil: ref, text: text, area: area, author: author) }
        }

        let start = today.adding(days: -rng.int(14...300))
        let plan = try timed("createPlan") {
            try store.createPlan(
                pupil: ref,
                NewSupportPlan(
                    title: rng.pick(Lexicon.planTitles), startDate: start.description,
                    reviewDate: start.adding(days: 84).description, responsibleOrg: school.identity.name,
                    responsiblePerson: rng.pick(Lexicon.people)), author: author)
        }
        let planRef = plan.description

        for _ in 0..<rng.int(2...3) {
            let description = Lexicon.text(&rng, minChars: 60, maxChars: 180, prefix: "By the next review,")
            let target = start.adding(days: rng.int(120...300)).description
            try timed("addOutcome") {
                _ = try store.addOutcome(plan: planRef, description: description, targetDate: target, author: author)
            }
        }

        for _ in 0..<2 {
            let provider = rng.pick(Lexicon.providers)
            let provision = NewProvision(
                description: Lexicon.text(&rng, minChars: 40, maxChars: 120), provider: provider,
                frequency: rng.pick(Lexicon.frequencies),
                responsibleOrg: provider == "SENCO" || provider.hasPrefix("Teaching") ? school.identity.name : provider,
                responsiblePerson: rng.pick(Lexicon.people), costPence: Int64(rng.int(10...2500)) * 100)
            try timed("addProvision") { _ = try store.addProvision(plan: planRef, provision, author: author) }
        }

        // A review is recorded once it has been held (twelve weeks after the plan started).
        if rng.chance(0.5), start.adding(days: 84) <= today {
            let held = start.adding(days: 84)
            let decision: PlanDecision = rng.chance(0.1) ? .escalate : (rng.chance(0.5) ? .modify : .continue)
            let review = NewReview(
                heldOn: held.description, summary: Lexicon.text(&rng, minChars: 80, maxChars: 300), decision: decision,
                nextReviewDate: held.adding(days: 84).description)
            try timed("recordReview") { _ = try store.recordReview(plan: planRef, review, author: author) }
        }
    }
}

/// Progress on stderr.
struct Progress {
    let started = DispatchTime.now().uptimeNanoseconds

    func say(_ message: String) {
        let t = Double(DispatchTime.now().uptimeNanoseconds - started) / 1e9
        FileHandle.standardError.write(Data(String(format: "[%7.1fs] ", t).utf8) + Data((message + "\n").utf8))
    }
}
