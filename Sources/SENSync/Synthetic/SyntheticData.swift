import Foundation

/// SplitMix64: a small, fast, seedable generator for synthetic data and property tests.
public struct SeededGenerator: RandomNumberGenerator, Sendable {
    private var state: UInt64

    public init(seed: UInt64) { state = seed }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// Invented pupils and SEN content for demos, tests and benchmarks. Never real data: names come
/// from short fixed lists and UPNs use a made-up establishment number with a valid check letter.
public struct SyntheticData: Sendable {
    public var random: SeededGenerator
    /// Today, for dates of birth and plan dates.
    public var today: CalendarDate
    private var serial = 0

    public init(seed: UInt64, today: CalendarDate) {
        random = SeededGenerator(seed: seed)
        self.today = today
    }

    static let forenames = [
        "Amara", "Ben", "Chloe", "Dev", "Ella", "Finn", "Grace", "Hamza", "Isla", "Jack", "Kemi", "Leo", "Maya", "Noah",
        "Olivia",
        "Priya", "Quinn", "Ruby", "Sami", "Tom", "Uma", "Vikram", "Willow", "Yusuf", "Zara",
    ]
    static let surnames = [
        "Ashworth", "Begum", "Carter", "Dlamini", "Evans", "Fletcher", "Gallagher", "Hussain", "Iqbal", "Jones",
        "Kowalski",
        "Lewis", "Mensah", "Nowak", "Okafor", "Patel", "Quinlan", "Reid", "Shah", "Taylor", "Usman", "Vaughan",
        "Wright", "Young",
    ]
    static let observations = [
        "finds it hard to follow two-step instructions", "avoids reading aloud and becomes upset",
        "struggles to blend CVC words",
        "is often alone at break and lunch", "has difficulty holding a pencil", "reverses letters when writing",
        "responds well to visual timetables", "needs movement breaks during long tasks",
        "is anxious at transitions between lessons",
        "speech is hard for peers to understand", "number bonds to ten not yet secure",
        "loses focus after a few minutes",
    ]
    static let strategies = [
        "Seated near the front with a visual timetable", "Pre-teaching of key vocabulary",
        "Five-minute movement break each hour",
        "Now/next board at transitions", "Coloured overlay trial", "Buddy system at lunchtime",
    ]
    static let provision = [
        ("Phonics catch-up, small group", "3 x 20 min weekly", 45_000),
        ("Speech and language programme", "2 x 30 min weekly", 60_000),
        ("Emotional literacy support (ELSA)", "1 x 45 min weekly", 52_000),
        ("Precision teaching, number", "daily 10 min", 38_000),
        ("Fine motor skills group", "2 x 20 min weekly", 30_000),
        ("Social skills group", "1 x 40 min weekly", 35_000),
    ]
    static let outcomes = [
        "Reads 40 high-frequency words accurately", "Uses a calm-down strategy without adult prompting",
        "Follows a two-step instruction in class", "Recalls number bonds to 10 within 5 seconds",
        "Joins a structured game at lunchtime twice a week", "Writes a sentence with a capital letter and full stop",
    ]

    public mutating func pick<T>(_ list: [T]) -> T { list[Int(random.next() % UInt64(list.count))] }
    public mutating func chance(_ percent: Int) -> Bool { Int(random.next() % 100) < percent }
    public mutating func int(_ range: ClosedRange<Int>) -> Int {
        range.lowerBound + Int(random.next() % UInt64(range.count))
    }

    /// A synthetic UPN: LA `laCode`, establishment 9xxx (not a real school), a serial, valid check letter.
    public mutating func upn(laCode: String) -> String {
        serial += 1
        let body =
            laCode + String(format: "9%03d", int(0...999)) + String(format: "%02d%03d", today.year % 100, serial % 1000)
        return String(UPN.checkLetter(for: body)!) + body
    }

    /// A pupil in `yearGroup` with a plausible date of birth.
    public mutating func pupil(laCode: String, yearGroup: Int) -> NewPupil {
        let birthYear = today.year - yearGroup - 5 - (today.month >= 9 ? 0 : 1)
        let dob = CalendarDate(year: birthYear, month: 9, day: 1).adding(days: int(0...364))
        return NewPupil(
            upn: upn(laCode: laCode), forename: pick(Self.forenames), surname: pick(Self.surnames),
            dateOfBirth: dob.description,
            yearGroup: yearGroup)
    }

    /// An SEN status and ranked needs, in roughly census proportions (most pupils N).
    public mutating func senProfile() -> (status: String, needs: String) {
        let roll = int(0...99)
        let needs = [SENNeed.slcn, .semh, .spld, .mld, .asd, .pd, .hi, .vi, .sld, .oth]
        if roll < 55 { return ("N", "") }
        let primary = pick(needs)
        var list = [primary]
        if chance(40) {
            let second = pick(needs)
            if second != primary { list.append(second) }
        }
        if roll < 70 { return ("E", list.map(\.rawValue).joined(separator: ",")) }
        return ("K", list.map(\.rawValue).joined(separator: ","))
    }

    public mutating func noteText() -> String {
        "Observed that the pupil \(pick(Self.observations)); \(pick(Self.strategies).lowercased()) agreed with the class teacher."
    }

    public mutating func outcome() -> String { pick(Self.outcomes) }

    public mutating func provisionItem(school: String) -> NewProvision {
        let (what, often, cost) = pick(Self.provision)
        return NewProvision(
            description: what,
            provider: pick(["Teaching assistant", "Class teacher", "SALT service", "ELSA", "Outreach teacher"]),
            frequency: often, responsibleOrg: school, responsiblePerson: "SENCO", costPence: Int64(cost))
    }
}

/// What ``SyntheticData/record(pupils:in:laCode:author:)`` wrote.
public struct SyntheticTally: Sendable {
    public var pupils = 0
    public var ehcPlans = 0
    public var senSupport = 0
    public var notes = 0
    public var plans = 0
    public var concerns = 0
    public var referrals = 0
    public var assessments = 0
    public var changes = 0
}

extension SyntheticData {
    /// Records `count` synthetic pupils with SEN status, notes, plans, outcomes, provision and
    /// reviews in `store`, as a SENCO would, one change per action.
    @discardableResult
    public mutating func record(pupils count: Int, in store: Store, laCode: String, author: String) throws
        -> SyntheticTally
    {
        var tally = SyntheticTally()
        // One transaction for the whole school (`Store.batch`), as an import would.
        try store.batch {
            for _ in 0..<count {
                let pupil = try store.addPupil(pupil(laCode: laCode, yearGroup: int(0...6)), author: author).description
                tally.pupils += 1
                tally.changes += 1
                let (status, needs) = senProfile()
                if status != "E" && chance(45) {
                    // An early-identification concern, with the action agreed on it.
                    let raised = today.adding(days: -int(60...240))
                    let concern = try store.addRecord(
                        Concern.self, pupil: pupil,
                        [
                            .raisedOn: raised.description,
                            .raisedByRole: pick(["class-teacher", "teaching-assistant", "parent"]),
                            .areas: pick([
                                "communication-interaction", "cognition-learning", "semh", "sensory-physical",
                            ]),
                            .observations: noteText(), .strategiesTried: "Seating near the front; visual timetable.",
                            .parentInformedOn: raised.adding(days: int(1...10)).description,
                            .status: status == "K" ? "sen-support" : pick(["open", "monitoring"]),
                            .reviewDate: today.adding(days: int(-10...40)).description,
                        ], author: author)
                    try store.addRecord(
                        ConcernAction.self, pupil: nil,
                        [
                            .concernID: concern.description,
                            .action: "Observe in small-group work and share with parents",
                            .owner: "Class teacher", .dueOn: raised.adding(days: 21).description,
                            .doneOn: raised.adding(days: int(14...28)).description,
                        ], author: author)
                    tally.concerns += 1
                    tally.changes += 2
                }
                let notes = status == "N" ? int(0...1) : int(1...3)
                for _ in 0..<notes {
                    try store.addNote(pupil: pupil, text: noteText(), area: pick(NoteArea.allCases), author: author)
                    tally.notes += 1
                    tally.changes += 1
                }
                guard status != "N" else { continue }
                try store.updatePupil(pupil, PupilUpdate(senStatus: status, senNeeds: needs), author: author)
                tally.changes += 1
                if status == "E" { tally.ehcPlans += 1 } else { tally.senSupport += 1 }
                let start = today.adding(days: -int(30...200))
                let plan = try store.createPlan(
                    pupil: pupil,
                    NewSupportPlan(
                        title: status == "E" ? "EHC plan provision" : "SEN support plan", startDate: start.description,
                        reviewDate: today.adding(days: int(-20...90)).description, responsibleOrg: store.identity.name,
                        responsiblePerson: author),
                    author: author
                ).description
                tally.plans += 1
                tally.changes += 1
                for _ in 0..<int(1...2) {
                    try store.addOutcome(
                        plan: plan, description: outcome(), targetDate: today.adding(days: int(30...120)).description,
                        author: author)
                    tally.changes += 1
                }
                try store.addProvision(plan: plan, provisionItem(school: store.identity.name), author: author)
                tally.changes += 1
                if chance(55) {
                    let referred = today.adding(days: -int(20...150))
                    var fields: [Referral.Field: String] = [
                        .agency: pick([
                            "speech-language-therapy", "educational-psychology", "occupational-therapy", "camhs",
                        ]),
                        .referredOn: referred.description, .referredBy: author,
                        .reason: "Progress below expected despite support.",
                    ]
                    if chance(60) {
                        fields[.acceptedOn] = referred.adding(days: int(7...20)).description
                        let seen = referred.adding(days: int(21...59))
                        if seen <= today, chance(70) { fields[.firstSeenOn] = seen.description }
                    }
                    try store.addRecord(Referral.self, pupil: pupil, fields, author: author)
                    tally.referrals += 1
                    tally.changes += 1
                }
                // A review is recorded once it has been held (six weeks after the plan started).
                if chance(40), start.adding(days: 42) <= today {
                    try store.recordReview(
                        plan: plan,
                        NewReview(
                            heldOn: start.adding(days: 42).description,
                            summary: "Progress reviewed with parents; targets adjusted.",
                            decision: .continue, nextReviewDate: today.adding(days: int(20...100)).description),
                        author: author)
                    tally.changes += 1
                }
            }
        }
        return tally
    }
}

extension SyntheticData {
    /// The LA's statutory work on pupils it holds: an EHC needs assessment carried through to a
    /// plan (with sections naming their owners) for up to two pupils with E, and a new request
    /// awaiting the decision whether to assess for one pupil on SEN support.
    @discardableResult
    public mutating func recordStatutoryWork(in store: Store, author: String) throws -> SyntheticTally {
        var tally = SyntheticTally()
        let pupils = try store.pupils()
        for pupil in pupils.filter({ $0.senStatus == "E" }).prefix(2) {
            let received = today.adding(days: -int(200...260))
            let id = pupil.id.description
            let assessment = try store.addRecord(
                EHCAssessment.self, pupil: id,
                [
                    .requestReceivedOn: received.description, .requestSource: pick(["parent", "school"]),
                    .caseOfficer: author,
                ],
                author: author)
            try store.updateRecord(
                EHCAssessment.self, assessment.description,
                [.decision: "Y", .decidedOn: received.adding(days: int(28...41)).description], author: author)
            try store.addRecord(
                EHCAdvice.self, pupil: nil,
                [
                    .assessmentID: assessment.description, .agency: "educational-psychology",
                    .requestedOn: received.adding(days: 42).description,
                    .receivedOn: received.adding(days: 80).description,
                ], author: author)
            try store.updateRecord(
                EHCAssessment.self, assessment.description, [.draftServedOn: received.adding(days: 105).description],
                author: author)
            let plan = try store.issueEHCPlan(
                assessment: assessment.description, on: received.adding(days: int(125...150)).description,
                caseOfficer: nil,
                author: author)
            for (section, owner) in [("B", "LA SEN team"), ("F", "LA SEN team"), ("G", "Integrated care board")] {
                try store.addRecord(
                    EHCSection.self, pupil: nil,
                    [
                        .planID: plan.description, .section: section, .ownerAgency: owner,
                        .content: "Agreed at the assessment.",
                    ],
                    author: author)
            }
            tally.assessments += 1
            tally.changes += 8
        }
        if let pupil = pupils.first(where: { $0.senStatus == "K" }) {
            try store.addRecord(
                EHCAssessment.self, pupil: pupil.id.description,
                [
                    .requestReceivedOn: today.adding(days: -int(10...30)).description, .requestSource: "school",
                    .caseOfficer: author,
                ],
                author: author)
            tally.assessments += 1
            tally.changes += 1
        }
        return tally
    }
}
