import Foundation
import Testing

@testable import SENSync

/// ``ReadAhead`` parses on a second thread: what the import sees must be exactly what the file's
/// reader gives, in the same order, and an import that stops early must not leave the thread
/// (or the file) behind.
@Suite struct ReadAheadTests {
    /// A reader of `count` rows where every seventh is a problem, then optionally an error.
    final class CountingReader: ImportRowReader, @unchecked Sendable {
        let count: Int
        let failsAtEnd: Bool
        private(set) var read = 0
        var bytesRead: Int { read * 10 }
        /// Set by the reading thread when the reader is dropped.
        let dropped: NSCondition
        let flag: Flag

        final class Flag: @unchecked Sendable {
            var isSet = false
            var reads = 0
        }

        init(count: Int, failsAtEnd: Bool, dropped: NSCondition = NSCondition(), flag: Flag = Flag()) {
            self.count = count
            self.failsAtEnd = failsAtEnd
            self.dropped = dropped
            self.flag = flag
        }

        deinit {
            dropped.lock()
            flag.isSet = true
            flag.reads = read
            dropped.broadcast()
            dropped.unlock()
        }

        func next() throws -> Result<RawImportRow, ImportProblem>? {
            guard read < count else {
                if failsAtEnd {
                    throw ImportError.file(ImportProblem(file: "f", line: read + 1, reason: "The file ends here."))
                }
                return nil
            }
            read += 1
            if read % 7 == 0 { return .failure(ImportProblem(file: "f", line: read, reason: "bad")) }
            return .success(RawImportRow(line: read, kind: Pupil.spec, cells: [("UPN", String(read))]))
        }
    }

    /// Every row and problem in order, then the end (or the error that ended the file), across
    /// several blocks and a part-filled last block.
    @Test(arguments: [0, 1, ReadAhead.blockSize, ReadAhead.blockSize * ReadAhead.maxBlocks * 3 + 17])
    func givesTheRowsInTheReadersOrder(count: Int) throws {
        for failsAtEnd in [false, true] {
            let reader = ReadAhead(CountingReader(count: count, failsAtEnd: failsAtEnd))
            var lines: [Int] = []
            var problems = 0
            var thrown: (any Error)?
            do {
                while let row = try reader.next() {
                    switch row {
                    case .success(let raw):
                        lines.append(raw.line)
                        #expect(raw.cells.first?.text == String(raw.line))
                    case .failure(let problem):
                        lines.append(problem.line)
                        problems += 1
                    }
                }
            } catch {
                thrown = error
            }
            #expect(lines == Array(stride(from: 1, through: count, by: 1)))
            #expect(problems == count / 7)
            #expect((thrown as? ImportError)?.problems.first?.line == (failsAtEnd ? count + 1 : nil))
            // After the end, the end again.
            #expect(try reader.next() == nil)
            #expect(reader.bytesRead == count * 10)
        }
    }

    /// An import stopped after a few rows drops the reader: the thread stops reading (it does
    /// not run on to the end of the file) and lets go of the file's reader.
    @Test func droppingTheReaderStopsTheThread() throws {
        let dropped = NSCondition()
        let flag = CountingReader.Flag()
        let total = 1_000_000
        weak var inner: CountingReader?
        do {
            let wrapped = CountingReader(count: total, failsAtEnd: false, dropped: dropped, flag: flag)
            inner = wrapped
            let reader = ReadAhead(wrapped)
            for _ in 0..<10 { _ = try reader.next() }
        }
        dropped.lock()
        let deadline = Date().addingTimeInterval(10)
        while !flag.isSet && dropped.wait(until: deadline) {}
        let released = flag.isSet
        dropped.unlock()
        #expect(released, "The reading thread still holds the file's reader.")
        #expect(inner == nil)
        #expect(flag.reads <= 10 + ReadAhead.blockSize * (ReadAhead.maxBlocks + 2))
    }

    /// A reader of endless rows of `rowBytes` of text that counts, under a lock, how many it gave.
    final class LongRowReader: ImportRowReader, @unchecked Sendable {
        let text: String
        private let lock = NSLock()
        private var given = 0
        var bytesRead: Int { 0 }
        var rowsGiven: Int { lock.withLock { given } }

        init(rowBytes: Int) { text = String(repeating: "x", count: rowBytes) }

        func next() throws -> Result<RawImportRow, ImportProblem>? {
            let line = lock.withLock {
                given += 1
                return given
            }
            return .success(RawImportRow(line: line, kind: Pupil.spec, cells: [("Note", text)]))
        }
    }

    /// Rows of 300 KB (a JSON Lines line may be up to 16 MiB): the thread reads ahead by a few
    /// MiB of text, not by a thousand rows (about 460 MB of them) as it did when only rows
    /// were counted.
    @Test func longRowsAreReadAheadByTheirSizeNotOnlyTheirNumber() throws {
        let rowBytes = 300_000
        let inner = LongRowReader(rowBytes: rowBytes)
        let reader = ReadAhead(inner)
        _ = try reader.next()
        // Let the thread fill what it may, then see how far it went.
        var previous = -1
        for _ in 0..<50 where inner.rowsGiven != previous {
            previous = inner.rowsGiven
            Thread.sleep(forTimeInterval: 0.05)
        }
        // At most 8 MiB of text read ahead (the queue's 4 MiB, the block being taken and the one
        // being filled), whatever the constants are tuned to.
        let bound = (8 << 20) / rowBytes
        #expect(inner.rowsGiven <= bound, "read \(inner.rowsGiven) rows of \(rowBytes) bytes ahead (bound \(bound))")
        #expect(inner.rowsGiven > 1)
    }
}
