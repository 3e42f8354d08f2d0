import GRDB
import Testing

@testable import SENSync

/// A record's per-field clock as the store keeps it (``ClockCodec``).
struct ClockCodecTests {
    /// Every head keeps its dot and stamp through the store, however many distinct changes wrote
    /// the record: the encoder finds a dot by scanning a short list and by a dictionary past 16,
    /// so both sides of that line are tried, with concurrent heads (two per field) among them.
    @Test(arguments: [1, 16, 17, 40])
    func aClockRoundTripsWhateverNumberOfChangesWroteIt(_ changes: Int) throws {
        let db = try DatabaseQueue()
        try db.write { db in
            try db.execute(sql: "CREATE TABLE site (ord INTEGER PRIMARY KEY, site_id TEXT NOT NULL UNIQUE)")
            let pupil = fixedID(0x50)
            var state = RecordState()
            for i in 0..<changes {
                // One field per change, from five sites none of which has seen the others: a
                // field written twice holds two heads.
                let site = fixedID(UInt8(1 + i % 5))
                let change = Change(
                    site: site, seq: UInt64(1 + i), hlc: hlc(UInt64(10 + i)), author: "t", scope: pupil,
                    deps: VersionVector(),
                    ops: [])
                let op = RecordOp(
                    table: "#99", id: fixedID(0x60), writes: [FieldWrite("#\(1 + i / 2)", .integer(Int64(i)))])
                state.merge(op, of: change)
            }
            #expect(Set(state.fields.values.flatMap { $0.heads.map(\.dot) }).count == changes)
            var sites = try SiteOrdinals(db)
            let bytes = try ClockCodec.encode(state, keys: [:], sites: &sites, db: db)
            #expect(try ClockCodec.decode(bytes, sites: sites, column: { _ in nil }) == state)
        }
    }
}
