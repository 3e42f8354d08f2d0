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
        ScopeSchedule.seeds(
            base: baseSeed, count: PropertySettings.scheduleCount / 4, property: property, shard: shard,
            countNote: "a quarter of SENSYNC_PROPERTY_SCHEDULES")
    }

    @Test(arguments: 0..<PropertySettings.shards)
    func schoolsThatConvertToAcademiesKeepEveryPupil(shard: Int) throws {
        for seed in Self.seeds(shard: shard) { Self.check(seed: seed) }
    }

    static func check(seed: UInt64) { ScopeSchedule.check(seed: seed, property: property, conversions: true) }
}
