import Foundation

/// Reads a file's rows on a second thread, a few blocks ahead of the import that checks and
/// writes them: parsing (JSON or CSV) and writing (SQLite) then run side by side on two cores
/// instead of one after the other. Memory stays bounded: a block holds up to ``blockSize`` rows
/// or ``blockBytes`` of text, and at most ``maxBlocks`` blocks, or ``maxQueuedBytes`` of text,
/// wait to be taken (so a file of long rows does not queue thousands of them).
///
/// Rows, problems and a problem that spoils the file arrive in the order the file gives them,
/// exactly as the wrapped reader returns them. Dropping the reader (an import stopped by an
/// error) stops the thread and waits for it, so no file stays open behind the caller.
final class ReadAhead: ImportRowReader {
    static let blockSize = 256
    static let blockBytes = 1 << 20
    static let maxBlocks = 4
    static let maxQueuedBytes = 4 << 20

    typealias Row = Result<RawImportRow, ImportProblem>

    private struct Block {
        var rows: [Row]
        var bytesRead: Int
        /// About how much text the rows hold.
        var size: Int
    }

    /// What the two threads share, under its condition's lock.
    private final class Channel: @unchecked Sendable {
        let condition = NSCondition()
        var blocks: [Block] = []
        /// The text the waiting blocks hold.
        var queuedBytes = 0
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
            var size = 0
            do {
                while rows.count < blockSize && size < blockBytes {
                    guard let row = try handoff.reader.next() else { break }
                    size += Self.size(of: row)
                    rows.append(row)
                }
                atEnd = rows.count < blockSize && size < blockBytes
            } catch {
                failure = error
            }
            let block = Block(rows: rows, bytesRead: handoff.reader.bytesRead, size: size)
            channel.condition.lock()
            // A block waits while the queue is full, by count or by text (one block always fits).
            while !channel.blocks.isEmpty && !channel.stopped
                && (channel.blocks.count >= maxBlocks || channel.queuedBytes + block.size > maxQueuedBytes)
            {
                channel.condition.wait()
            }
            if channel.stopped {
                channel.condition.unlock()
                break
            }
            channel.blocks.append(block)
            channel.queuedBytes += block.size
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

    /// About how much memory a row's text takes.
    private static func size(of row: Row) -> Int {
        switch row {
        case .success(let raw): raw.cells.reduce(64) { $0 + 16 + $1.name.utf8.count + ($1.text?.utf8.count ?? 0) }
        case .failure(let problem): 64 + problem.reason.utf8.count
        }
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
            channel.queuedBytes -= block.size
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
