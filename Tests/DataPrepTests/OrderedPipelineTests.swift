@testable import DataPrep
import Foundation
import Testing

/// The tokenize stage's pipeline: batches transformed on several threads come out in order,
/// never more than the window in flight, and the first error stops it.
struct OrderedPipelineTests {
    final class Counter: @unchecked Sendable {
        let lock = NSLock()
        var inFlight = 0
        var most = 0
        func enter() { lock.lock(); inFlight += 1; most = max(most, inFlight); lock.unlock() }
        func leave() { lock.lock(); inFlight -= 1; lock.unlock() }
    }

    struct Boom: Error, Equatable { var at: Int }

    @Test(arguments: [1, 2, 4])
    func resultsComeInOrderWithABoundedWindow(threads: Int) throws {
        let counter = Counter()
        var seen: [Int] = []
        let window = 2 * threads + 1
        try OrderedPipeline.run(threads: threads, window: window, produce: { submit in
            for i in 0 ..< 300 {
                counter.enter()
                try submit(i)
            }
        }, transform: { (i: Int) -> Int in
            // Uneven work, so later batches often finish first.
            usleep(UInt32((i * 7919) % 5) * 200)
            return i * i
        }, consume: { (v: Int) in
            seen.append(v)
            counter.leave()
        })
        #expect(seen == (0 ..< 300).map { $0 * $0 })
        // A batch counts from just before it is submitted, so the window allows one more.
        #expect(counter.most <= window + 1)
        #expect(counter.most > 1 || threads == 1)
    }

    @Test func theFirstErrorStopsThePipeline() {
        var consumed: [Int] = []
        var produced = 0
        #expect(throws: Boom(at: 50)) {
            try OrderedPipeline.run(threads: 2, window: 5, produce: { submit in
                for i in 0 ..< 10_000 {
                    produced += 1
                    try submit(i)
                }
            }, transform: { (i: Int) -> Int in
                if i == 50 { throw Boom(at: 50) }
                return i
            }, consume: { consumed.append($0) })
        }
        #expect(consumed == Array(consumed.indices))
        #expect(consumed.count <= 50)
        #expect(produced < 100)
    }

    @Test func anErrorWhileConsumingOrProducingStopsIt() {
        #expect(throws: Boom(at: 7)) {
            try OrderedPipeline.run(threads: 2, window: 3, produce: { submit in
                for i in 0 ..< 1000 { try submit(i) }
            }, transform: { $0 }, consume: { (i: Int) in if i == 7 { throw Boom(at: 7) } })
        }
        var consumed = 0
        #expect(throws: Boom(at: 3)) {
            try OrderedPipeline.run(threads: 2, window: 3, produce: { submit in
                for i in 0 ..< 1000 {
                    if i == 3 { throw Boom(at: 3) }
                    try submit(i)
                }
            }, transform: { $0 }, consume: { (_: Int) in consumed += 1 })
        }
        #expect(consumed <= 3)
    }
}
