import Foundation
import Testing

@testable import SENSync

/// The randomized schedules of ``ScopeRandomizedTests`` with academy conversions among their
/// steps: now and then a maintained school sends the LA its last bundle and the LA adds a new
/// academy store of the same name in its place (`directory add --replaces`, in a trust or on its
/// own), moving the school's pupils to it while bundles to and from the school are still in the
/// post and the academy's trust (or another) is writing. After the gossip each academy carries
/// over from the school's store (nothing may be new), the area gossips again, and every store is
/// checked as in the other schedules: each holds exactly the pupils it is entitled to, with the
/// LA's rows for them.
///
/// A quarter of `SENSYNC_PROPERTY_SCHEDULES` areas (50 by default), sharded; the other settings
/// are the property tests' (`SENSYNC_PROPERTY_SEED` replays one).
struct ScopeConversionTests {
    static let property = "scope: schools that convert to academies keep every pupil"
    static let baseSeed: UInt64 = 0x5C0_9EC0_0000

    static func seeds(shard: Int) -> [UInt64] {
        let all: [UInt64]
        if let seed = PropertySettings.replaySeed {
            all = [seed]
        } else {
            let count = max(1, PropertySettings.scheduleCount / 4)
            let first = baseSeed + PropertySettings.seedOffset
            if shard == 0 {
                print(
                    "[\(property)] base seed \(PropertySettings.hex(baseSeed)), \(count) areas (seeds \(PropertySettings.hex(first))…\(PropertySettings.hex(first + UInt64(count) - 1)); a quarter of SENSYNC_PROPERTY_SCHEDULES, SENSYNC_PROPERTY_OFFSET to start further on, SENSYNC_PROPERTY_SEED to replay one)"
                )
            }
            all = (0..<UInt64(count)).map { first + $0 }
        }
        return all.enumerated().filter { $0.offset % PropertySettings.shards == shard }.map(\.element)
    }

    @Test(arguments: 0..<PropertySettings.shards)
    func schoolsThatConvertToAcademiesKeepEveryPupil(shard: Int) throws {
        for seed in Self.seeds(shard: shard) { Self.check(seed: seed) }
    }

    static func check(seed: UInt64) {
        var log = ScheduleLog(property: property, seed: seed)
        do {
            try withTemporaryDirectory { dir in
                let schedule = try ScopeSchedule(folder: dir, seed: seed, property: property)
                schedule.conversions = true
                defer { log = schedule.log }
                try schedule.run()
                try schedule.gossipUntilQuiet()
                if seed % 2 == 0 {
                    try schedule.run()
                    try schedule.gossipUntilQuiet()
                }
                try schedule.carryOverConversions()
                try schedule.checkEveryStore()
            }
        } catch {
            log.fail("threw \(error)")
        }
        log.report()
    }
}
