/// A buffer over a `ByteSource`: peek at the head of a stream, read lines and exact byte counts.
///
/// `offset` counts the bytes handed to the caller, so a parser can say where in the
/// (decompressed) stream a record started.
public final class BufferedReader: ByteSource {
    public let source: ByteSource
    private var buffer: [UInt8]
    private var start = 0
    private var end = 0
    private var atEOF = false
    /// An error of the source met while reading ahead: raised once the bytes before it are used,
    /// so that a damaged stream gives up everything before the damage.
    private var pendingError: Error?
    public private(set) var offset: Int64 = 0

    public init(_ source: ByteSource, capacity: Int = 1 << 18) {
        self.source = source
        // Uninitialised: the bytes are always written by a read before they are looked at.
        self.buffer = [UInt8](unsafeUninitializedCapacity: max(capacity, 512)) { _, n in n = max(capacity, 512) }
    }

    private var available: Int { end - start }

    /// Makes at least `n` bytes available unless the stream ends first.
    private func fill(_ n: Int) throws {
        while available < n && !atEOF {
            if start > 0 && (end == buffer.count || buffer.count - start < n) {
                // Slide the unread bytes to the front.
                let count = available
                buffer.withUnsafeMutableBytes { p in
                    let base = p.baseAddress!
                    if count > 0 { memmove(base, base + start, count) }
                }
                start = 0
                end = count
            }
            if buffer.count < n {
                buffer.append(contentsOf: repeatElement(0, count: max(buffer.count, n - buffer.count)))
            }
            if let e = pendingError {
                if available > 0 { return }
                throw e
            }
            do {
                let got = try buffer.withUnsafeMutableBytes { p in
                    try source.read(into: UnsafeMutableRawBufferPointer(rebasing: p[end...]))
                }
                if got == 0 { atEOF = true } else { end += got }
            } catch {
                if available == 0 { throw error }
                pendingError = error
                return
            }
        }
    }

    /// Bytes of the underlying file consumed (read ahead included).
    public var rawBytesConsumed: Int64 { source.rawBytesConsumed }
    /// Bytes read from the source and not yet handed out.
    public var bufferedCount: Int { available }

    /// Hands out buffered bytes first, then reads on: a reader that has peeked at a stream can
    /// pass the whole stream on to a decoder.
    public func read(into out: UnsafeMutableRawBufferPointer) throws -> Int {
        guard out.count > 0 else { return 0 }
        if available == 0 {
            if atEOF { return 0 }
            if out.count >= buffer.count / 2 && pendingError == nil {
                let n = try source.read(into: out)
                if n == 0 { atEOF = true }
                offset += Int64(n)
                return n
            }
            try fill(1)
            if available == 0 { return 0 }
        }
        let n = min(available, out.count)
        buffer.withUnsafeBytes { src in
            out.baseAddress!.copyMemory(from: src.baseAddress! + start, byteCount: n)
        }
        start += n
        offset += Int64(n)
        return n
    }

    /// Up to `n` bytes from the current position, without consuming them.
    public func peek(_ n: Int) throws -> [UInt8] {
        try fill(n)
        return Array(buffer[start..<(start + min(n, available))])
    }

    /// True when no byte is left.
    public func isAtEnd() throws -> Bool {
        try fill(1)
        return available == 0
    }

    /// The most `read(upTo:)` reserves before any byte has arrived.
    static let initialReadReserve = 1 << 20

    /// Exactly `n` bytes, or fewer when the stream ends first (the caller checks the count).
    ///
    /// `n` often comes from the data (a WARC record's Content-Length), so memory follows the bytes
    /// that arrive, not the count claimed: at most 1 MiB is reserved up front, then the result
    /// doubles as it fills, never past `n`. A 100-byte record that claims 256 MB used to reserve
    /// 256 MB; a complete read still ends with a capacity of about `n`, not up to 2 × `n`.
    public func read(upTo n: Int) throws -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(min(n, Self.initialReadReserve))
        while out.count < n {
            try fill(min(n - out.count, buffer.count))
            if available == 0 { break }
            let take = min(available, n - out.count)
            if out.count + take > out.capacity {
                out.reserveCapacity(min(n, max(out.count + take, 2 * out.capacity)))
            }
            out.append(contentsOf: buffer[start..<(start + take)])
            start += take
            offset += Int64(take)
        }
        return out
    }

    /// Discards up to `n` bytes; returns how many were discarded.
    @discardableResult
    public func skip(_ n: Int64) throws -> Int64 {
        var left = n
        while left > 0 {
            try fill(1)
            if available == 0 { break }
            let take = Int(min(Int64(available), left))
            start += take
            offset += Int64(take)
            left -= Int64(take)
        }
        return n - left
    }

    public enum Line {
        /// A line's bytes without its terminating `\n` (a `\r` before it is kept).
        case line([UInt8])
        /// A line longer than the limit: it was skipped to its end, `length` bytes in all.
        case tooLong(length: Int64)
    }

    /// The next line, or nil at the end of the stream. A last line without `\n` is returned too.
    public func readLine(maxLength: Int) throws -> Line? {
        var collected: [UInt8] = []
        var length: Int64 = 0
        var overflow = false
        while true {
            try fill(1)
            if available == 0 {
                if length == 0 { return nil }
                return overflow ? .tooLong(length: length) : .line(collected)
            }
            let found: Int? = buffer.withUnsafeBytes { p -> Int? in
                guard let m = memchr(p.baseAddress! + start, 0x0A, available) else { return nil }
                return p.baseAddress!.distance(to: UnsafeRawPointer(m))
            }
            let stop = found ?? end
            let piece = stop - start
            length += Int64(piece)
            if !overflow {
                if collected.count + piece > maxLength {
                    overflow = true
                    collected = []
                } else {
                    collected.append(contentsOf: buffer[start..<stop])
                }
            }
            offset += Int64(piece)
            start = stop
            if found != nil {
                start += 1
                offset += 1
                return overflow ? .tooLong(length: length) : .line(collected)
            }
        }
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
