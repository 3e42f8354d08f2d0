import Foundation
import SENSync

/// The cost of origin signatures, measured directly: making and checking a checkpoint over a full
/// run of changes, and proving one change by its audit path.
enum SigningCost {
    struct Result {
        var signSeconds: Double
        var verifySeconds: Double
        var pathSeconds: Double
    }

    static func measure(rounds: Int = 200) throws -> Result {
        let keys = SiteKeys.generate()
        let site = UUID128.v7()
        var rng = SplitMix64(seed: 0x5161)
        let leaves = (0..<Checkpoint.maxLeaves).map { i -> Digest32 in
            Digest32.sha256((0..<48).map { _ in UInt8(truncatingIfNeeded: rng.next() &+ UInt64(i)) })
        }
        var checkpoint: Checkpoint?
        let start = DispatchTime.now().uptimeNanoseconds
        for _ in 0..<rounds {
            checkpoint = try Checkpoint(
                site: site, first: 1, last: UInt64(leaves.count), root: Merkle.root(leaves), previous: .zero,
                signature: []
            ).signed(with: keys)
        }
        let signed = DispatchTime.now().uptimeNanoseconds
        guard let checkpoint else { throw BenchFailure("no checkpoint was made") }
        var valid = 0
        for _ in 0..<rounds where Merkle.root(leaves) == checkpoint.root && checkpoint.isSigned(by: keys.publicKeys) {
            valid += 1
        }
        let verified = DispatchTime.now().uptimeNanoseconds
        guard valid == rounds else { throw BenchFailure("a checkpoint did not verify") }
        let path = Merkle.path(for: 77, in: leaves)
        var proved = 0
        for _ in 0..<(rounds * 50)
        where Merkle.root(leaf: leaves[77], index: 77, count: leaves.count, path: path) == checkpoint.root {
            proved += 1
        }
        let pathDone = DispatchTime.now().uptimeNanoseconds
        guard proved == rounds * 50 else { throw BenchFailure("an audit path did not prove its change") }
        return Result(
            signSeconds: Double(signed - start) / 1e9 / Double(rounds),
            verifySeconds: Double(verified - signed) / 1e9 / Double(rounds),
            pathSeconds: Double(pathDone - verified) / 1e9 / Double(rounds * 50))
    }
}
