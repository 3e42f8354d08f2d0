import Foundation

/// Reads a file's rows on a second thread, a few blocks ahead of the import that checks and
/// writes them: parsing (JSON or CSV) and writing (SQLite) then run side by side on two cores
/// instead of one after the other. Memory stays bounded: at most ``maxBlocks`` blocks of
/// ``blockSize`` rows wait to be taken.
///
/// Rows, problems and a problem that spoils the file arrive in the order the file gives them,
/// exactly as the wrapped reader returns them. Dropping the reader (an import stopped by an
/// error) stops the thread and waits for it, so no file stays open behind the caller.
final class ReadAhead: ImportRowReader {
    static let blockSize = 256
    static let maxBlocks = 4

    typealias Row = Result<RawImportRow, ImportProblem>

    private struct Block {
        var rows: [Row]
        var bytesRead: Int
    }

    /// What the two threads share, under its condition's lock.
    private final class Channel: @unchecked Sendable {
        let condition = NSCondition()
        var blocks: [Block] = []
        /// Set by the reading thread at the end of the file or on an error (then `failure`).
        var finished = false
        var failure: (any Error)?
        /// Set by the importing side when it drops the reader.
        var stopped = false
        /// Set by the reading thread as it returns.
        var exited = false
    }

    /// Hands a reader made on the calling thread to the reading thread, which alone uses it from
    /// then on.
    private final class Handoff: @unchecked Sendable {
        var reader: any ImportRowReader
        init(_ reader: any ImportRowReader) { self.reader = reader }
    }

    private let channel = Channel()
    private var current: [Row] = []
    private var position = 0
    private var done = false
    private(set) var bytesRead = 0

    /// Starts reading `reader` on a thread of its own.
    init(_ reader: any ImportRowReader) {
        let channel = self.channel
        let handoff = Handoff(reader)
        let thread = Thread {
            Self.produce(handoff, into: channel)
        }
        // The same room as the main thread: a deeply nested line must fail as it would there.
        thread.stackSize = 8 << 20
        thread.name = "sensync-import-read"
        thread.start()
    }

    deinit {
        channel.condition.lock()
        channel.stopped = true
        channel.condition.broadcast()
        while !channel.exited { channel.condition.wait() }
        channel.condition.unlock()
    }

    private static func produce(_ handoff: Handoff, into channel: Channel) {
        var failure: (any Error)?
        var atEnd = false
        while !atEnd && failure == nil {
            var rows: [Row] = []
            rows.reserveCapacity(blockSize)
            do {
                while rows.count < blockSize, let row = try handoff.reader.next() { rows.append(row) }
                atEnd = rows.count < blockSize
            } catch {
                failure = error
            }
            let block = Block(rows: rows, bytesRead: handoff.reader.bytesRead)
            channel.condition.lock()
            while channel.blocks.count >= maxBlocks && !channel.stopped { channel.condition.wait() }
            if channel.stopped {
                channel.condition.unlock()
                break
            }
            channel.blocks.append(block)
            if atEnd || failure != nil {
                channel.finished = true
                channel.failure = failure
            }
            channel.condition.broadcast()
            channel.condition.unlock()
        }
        channel.condition.lock()
        channel.exited = true
        channel.condition.broadcast()
        channel.condition.unlock()
    }

    func next() throws -> Row? {
        while position == current.count {
            guard !done else { return nil }
            channel.condition.lock()
            while channel.blocks.isEmpty && !channel.finished { channel.condition.wait() }
            if channel.blocks.isEmpty {
                // Finished, and every block taken: the end, or the error that ended the file.
                done = true
                let failure = channel.failure
                channel.condition.unlock()
                if let failure { throw failure }
                return nil
            }
            let block = channel.blocks.removeFirst()
            channel.condition.broadcast()
            channel.condition.unlock()
            current = block.rows
            position = 0
            bytesRead = block.bytesRead
        }
        defer { position += 1 }
        return current[position]
    }
}
