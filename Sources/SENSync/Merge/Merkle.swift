import Foundation

/// A binary Merkle tree over a run of leaf hashes, shaped as in RFC 6962 §2.1: a run of `n > 1`
/// leaves splits after the largest power of two below `n`.
///
/// A site signs one root per run of its changes (a ``Checkpoint``). Any holder of every leaf of a
/// run recomputes the root; a holder of a single change proves it with the change's audit path
/// (at most `log2(n)` hashes), so a change relayed on its own is still checked against its
/// origin's signature.
public enum Merkle {
    private static let interiorTag: UInt8 = 1

    /// The hash of an interior node.
    static func parent(_ left: Digest32, _ right: Digest32) -> Digest32 {
        var bytes = [UInt8]()
        bytes.reserveCapacity(65)
        bytes.append(interiorTag)
        bytes.append(contentsOf: left.bytes)
        bytes.append(contentsOf: right.bytes)
        return .sha256(bytes)
    }

    /// The largest power of two strictly below `n` (`n >= 2`).
    private static func split(_ n: Int) -> Int {
        var k = 1
        while k << 1 < n { k <<= 1 }
        return k
    }

    /// The root of `leaves` (at least one).
    public static func root(_ leaves: ArraySlice<Digest32>) -> Digest32 {
        precondition(!leaves.isEmpty, "a Merkle tree needs at least one leaf")
        if leaves.count == 1 { return leaves[leaves.startIndex] }
        let k = split(leaves.count)
        let mid = leaves.startIndex + k
        return parent(root(leaves[leaves.startIndex..<mid]), root(leaves[mid...]))
    }

    public static func root(_ leaves: [Digest32]) -> Digest32 { root(leaves[...]) }

    /// The audit path of the leaf at `index`: sibling hashes from the bottom up.
    public static func path(for index: Int, in leaves: ArraySlice<Digest32>) -> [Digest32] {
        precondition(leaves.indices.contains(leaves.startIndex + index), "leaf index out of range")
        if leaves.count == 1 { return [] }
        let k = split(leaves.count)
        let mid = leaves.startIndex + k
        if index < k {
            return path(for: index, in: leaves[leaves.startIndex..<mid]) + [root(leaves[mid...])]
        }
        return path(for: index - k, in: leaves[mid...]) + [root(leaves[leaves.startIndex..<mid])]
    }

    public static func path(for index: Int, in leaves: [Digest32]) -> [Digest32] { path(for: index, in: leaves[...]) }

    /// The root implied by `leaf` at `index` of `count` leaves with audit path `path`, or `nil`
    /// when the path does not have the length the tree's shape requires.
    public static func root(leaf: Digest32, index: Int, count: Int, path: [Digest32]) -> Digest32? {
        guard count >= 1, index >= 0, index < count else { return nil }
        var remaining = path[...]
        guard let result = fold(leaf, index: index, count: count, path: &remaining), remaining.isEmpty else {
            return nil
        }
        return result
    }

    private static func fold(
        _ leaf: Digest32, index: Int, count: Int, path: inout ArraySlice<Digest32>
    ) -> Digest32? {
        if count == 1 { return leaf }
        let k = split(count)
        if index < k {
            guard let left = fold(leaf, index: index, count: k, path: &path), let sibling = path.popFirst() else {
                return nil
            }
            return parent(left, sibling)
        }
        guard let right = fold(leaf, index: index - k, count: count - k, path: &path), let sibling = path.popFirst()
        else { return nil }
        return parent(sibling, right)
    }

    /// The number of hashes in the audit path of leaf `index` of `count`.
    public static func pathLength(index: Int, count: Int) -> Int {
        guard count > 1 else { return 0 }
        let k = split(count)
        return 1 + (index < k ? pathLength(index: index, count: k) : pathLength(index: index - k, count: count - k))
    }
}
