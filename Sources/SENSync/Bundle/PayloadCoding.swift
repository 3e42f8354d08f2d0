/// How a payload's entries are written (payload version 3, `Schemas/bundle-v3.md`): each change's
/// header is coded against what came before it in the same payload, then rebuilt exactly on
/// reading, so the leaf its origin signed is checked against the canonical header bytes.
///
/// What repeats from change to change is written once and then referred to: every site id (a
/// dependency's, a school's, a holdings entry's) and every pupil id (a change's, a holdings
/// entry's) by its place in a table the payload builds as it goes; a change's sequence number by
/// its difference from the last one of the same site; its HLC by its difference from the change
/// before it (the sender writes changes in HLC order, so most are a few bytes); a dependency on
/// the change's own site by how far back it lies. Together about 12% of a full bundle after
/// compression (README, Benchmarks). Contents travel as their canonical bytes.
///
/// Writer and reader keep the same tables, so the reader reverses every step; anything that does
/// not decode, or a reference to a table entry not yet given, is a malformed payload.
package struct PayloadCodingState {
    /// Ids a payload has given, in order, each referred to afterwards by a number: `0` gives a
    /// new id (its 16 bytes follow); `k ≥ 1` is the `k`-th given, or with `fromEnd` the `k`-th
    /// most recently given (a pupil whose changes are near each other costs a byte).
    private struct IDTable {
        let fromEnd: Bool
        private(set) var ids: [UUID128] = []
        /// Where each id is in `ids`: kept by the writer only (the reader looks up by number).
        private var index: [UUID128: Int] = [:]

        init(fromEnd: Bool) { self.fromEnd = fromEnd }

        mutating func write(_ id: UUID128, into w: inout BinaryWriter) {
            if let i = index[id] {
                w.writeVarint(fromEnd ? ids.count - i : i + 1)
            } else {
                w.writeVarint(0)
                w.write(contentsOf: id.bytes)
                index[id] = ids.count
                ids.append(id)
            }
        }

        mutating func read(from r: inout BinaryReader) throws(DecodingFailure) -> UUID128 {
            let reference = try r.readVarint()
            if reference == 0 {
                let id = UUID128(unchecked: Array(try r.readBytes(16)))
                ids.append(id)
                return id
            }
            guard reference <= UInt64(ids.count) else { throw DecodingFailure("a reference is to an id not yet given") }
            return ids[fromEnd ? ids.count - Int(reference) : Int(reference) - 1]
        }

        /// Forgets the ids given after the first `count` (the reader's, read again later).
        mutating func truncate(to count: Int) { ids.removeSubrange(count...) }
    }

    /// Sites (dependencies, schools, holdings), referred to from the start.
    private var sites = IDTable(fromEnd: false)
    /// Pupils (changes, holdings), referred to from the end.
    private var pupils = IDTable(fromEnd: true)
    /// The last sequence number written per site, and the last change's HLC.
    private var lastSeq: [SiteID: UInt64] = [:]
    private var lastHLC: UInt64 = 0

    /// Sequence numbers replaced since ``mark()``, to put back on ``rollBack(to:)``.
    private var replacedSeqs: [(site: SiteID, seq: UInt64?)] = []

    package init() {}

    /// Where the tables stand before an entry is read.
    struct Mark {
        var sites: Int
        var pupils: Int
        var lastHLC: UInt64
    }

    /// Marks the state before reading an entry that may be cut short by the end of the bytes
    /// received so far.
    mutating func mark() -> Mark {
        replacedSeqs.removeAll(keepingCapacity: true)
        return Mark(sites: sites.ids.count, pupils: pupils.ids.count, lastHLC: lastHLC)
    }

    /// Undoes what reading an entry since `mark` changed: the entry is read again, whole, once
    /// more bytes arrive.
    mutating func rollBack(to mark: Mark) {
        sites.truncate(to: mark.sites)
        pupils.truncate(to: mark.pupils)
        lastHLC = mark.lastHLC
        for (site, seq) in replacedSeqs.reversed() { lastSeq[site] = seq }
        replacedSeqs.removeAll(keepingCapacity: true)
    }

    private mutating func writeSite(_ site: SiteID, into w: inout BinaryWriter) { sites.write(site, into: &w) }

    mutating func readSite(from r: inout BinaryReader) throws(DecodingFailure) -> SiteID {
        try sites.read(from: &r)
    }

    private mutating func writePupil(_ pupil: RecordID, into w: inout BinaryWriter) { pupils.write(pupil, into: &w) }

    mutating func readPupil(from r: inout BinaryReader) throws(DecodingFailure) -> RecordID {
        try pupils.read(from: &r)
    }

    /// A version vector: its entries in site order, each a site reference and a sequence number.
    private mutating func writeVector(_ vector: VersionVector, into w: inout BinaryWriter) {
        let entries = vector.entries
        w.writeVarint(entries.count)
        for entry in entries {
            writeSite(entry.site, into: &w)
            w.writeVarint(entry.seq)
        }
    }

    mutating func readVector(from r: inout BinaryReader) throws(DecodingFailure) -> VersionVector {
        var vector = VersionVector()
        var previous: SiteID?
        for _ in 0..<(try r.readCount(limit: 1 << 20)) {
            let site = try readSite(from: &r)
            if let previous, !(previous < site) { throw DecodingFailure("a version vector is not in site order") }
            previous = site
            vector[site] = try r.readSequenceNumber()
        }
        return vector
    }

    /// A checkpoint entry: the origin's signed checkpoint, and whether every change it covers
    /// follows in the payload.
    package mutating func writeCheckpoint(_ checkpoint: Checkpoint, isComplete: Bool, into w: inout BinaryWriter) {
        w.writeVarint(PayloadEntry.Kind.checkpoint.rawValue)
        checkpoint.encode(into: &w)
        w.write(UInt8(isComplete ? 1 : 0))
    }

    /// A change entry: the checkpoint proving it (its place among the payload's checkpoints), its
    /// sequence number, its audit path when the checkpoint is not complete, its header and its
    /// content. `header` is `change.header` decoded.
    ///
    /// - Returns: `false` (nothing written) when the stored header is not in canonical form, so
    ///   no reader could rebuild the bytes its origin signed.
    package mutating func writeChange(
        _ change: EncodedChange, header: ChangeHeader, checkpoint: Int, path: [Digest32]?, into w: inout BinaryWriter
    ) -> Bool {
        guard header.encoded() == change.header else { return false }
        w.writeVarint(PayloadEntry.Kind.change.rawValue)
        w.writeVarint(checkpoint)
        writeSeq(change.seq, of: change.site, into: &w)
        if let path {
            w.writeVarint(path.count)
            for hash in path { w.write(contentsOf: hash.bytes) }
        }
        writeHeaderAndContent(change, header: header, into: &w)
        return true
    }

    /// A holdings entry: what the sender holds of `pupil`, or held when it passed them on.
    package mutating func writeHoldings(
        pupil: RecordID, _ held: VersionVector, passedOn: Bool, into w: inout BinaryWriter
    ) {
        w.writeVarint(PayloadEntry.Kind.holdings.rawValue)
        writePupil(pupil, into: &w)
        writeVector(held, into: &w)
        w.write(UInt8(passedOn ? 1 : 0))
    }

    /// A sequence number as its difference from the last one of `site` (any value can be written:
    /// the reader checks it against the checkpoint).
    package mutating func writeSeq(_ seq: UInt64, of site: SiteID, into w: inout BinaryWriter) {
        w.writeSignedVarint(Int64(bitPattern: seq &- (lastSeq[site] ?? 0)))
        lastSeq[site] = seq
    }

    /// A change's header, coded, and its content (or, redacted, its content's hash).
    package mutating func writeHeaderAndContent(
        _ change: EncodedChange, header: ChangeHeader, into w: inout BinaryWriter
    ) {
        w.writeSignedVarint(Int64(bitPattern: header.hlc.rawValue &- lastHLC))
        lastHLC = header.hlc.rawValue
        writePupil(header.scope, into: &w)
        w.writeVarint(header.directoryVersion)
        let deps = header.deps.entries
        w.writeVarint(deps.count)
        for entry in deps {
            writeSite(entry.site, into: &w)
            // A dependency on the change's own site is its previous change about the pupil: how
            // far back, often 1.
            if entry.site == change.site {
                w.writeSignedVarint(Int64(bitPattern: change.seq &- entry.seq))
            } else {
                w.writeVarint(entry.seq)
            }
        }
        w.writeVarint(header.schools.count)
        for school in header.schools { writeSite(school, into: &w) }
        change.writeContent(into: &w)
    }

    /// The sequence number of the next change of `site` (read before its proof).
    mutating func readSeq(of site: SiteID, from r: inout BinaryReader) throws(DecodingFailure) -> UInt64 {
        let seq = (lastSeq[site] ?? 0) &+ UInt64(bitPattern: try r.readSignedVarint())
        replacedSeqs.append((site, lastSeq[site]))
        lastSeq[site] = seq
        return seq
    }

    /// The rest of a change of `site` at `seq`, its header rebuilt in canonical form, and that
    /// header as read (a reader need not decode its bytes again).
    mutating func readChangeAndHeader(site: SiteID, seq: UInt64, from r: inout BinaryReader) throws(DecodingFailure)
        -> (change: EncodedChange, header: ChangeHeader)
    {
        let hlc = lastHLC &+ UInt64(bitPattern: try r.readSignedVarint())
        lastHLC = hlc
        let scope = try readPupil(from: &r)
        let directoryVersion = try r.readSequenceNumber()
        var deps = VersionVector()
        var previous: SiteID?
        for _ in 0..<(try r.readCount(limit: 1 << 16)) {
            let depSite = try readSite(from: &r)
            if let previous, !(previous < depSite) {
                throw DecodingFailure("dependencies are not in canonical order")
            }
            previous = depSite
            let depSeq =
                depSite == site ? seq &- UInt64(bitPattern: try r.readSignedVarint()) : try r.readVarint()
            guard depSeq > 0, depSeq <= BinaryReader.maxSequence else {
                throw DecodingFailure("a dependency's sequence number is out of range")
            }
            deps[depSite] = depSeq
        }
        var schools: [SiteID] = []
        for _ in 0..<(try r.readCount(limit: 1 << 10)) {
            let school = try readSite(from: &r)
            if let last = schools.last, !(last < school) {
                throw DecodingFailure("schools are not in canonical order")
            }
            schools.append(school)
        }
        let header = ChangeHeader(
            hlc: HLC(rawValue: hlc), scope: scope, directoryVersion: directoryVersion, deps: deps, schools: schools)
        return (try EncodedChange.readContent(site: site, seq: seq, header: header.encoded(), from: &r), header)
    }
}
