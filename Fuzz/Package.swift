// swift-tools-version: 6.1
// Kiln's libFuzzer targets: one executable per parser, each a `@_cdecl("LLVMFuzzerTestOneInput")`
// function and no `main`, so they link only with libFuzzer's main:
//
//   swift build --package-path Fuzz --scratch-path .build-fuzz -c debug \
//       --sanitize=fuzzer --sanitize=address -Xswiftc -sanitize=fuzzer,address
//
// (swiftc keeps only the last -sanitize= flag: without the -Xswiftc one the code has no coverage
// instrumentation.)
// `make fuzz` (scripts/fuzz.sh) builds and runs them. A package of its own, depending on Kiln by
// path, so that the normal `swift build` / `swift test` of Kiln never sees a target that cannot
// link without libFuzzer.
import PackageDescription

/// The targets and the Kiln modules each one exercises.
let targets: [(name: String, modules: [String])] = [
    ("archive", ["ArchiveIO"]),
    ("gzip", ["ArchiveIO"]),
    ("zstd", ["ArchiveIO"]),
    ("warc", ["ArchiveIO", "DataPrep"]),
    ("html", ["DataPrep"]),
    ("jsonl", ["DataPrep"]),
    ("tokenizer-json", ["Tokenization"]),
    ("vocab-merges", ["Tokenization"]),
    ("tiktoken", ["Tokenization"]),
    ("bpe", ["Tokenization"]),
    ("pretokenizer", ["Tokenization"]),
    ("token-shard", ["ShardFormat", "FineTuning"]),
    ("llmc-checkpoint", ["GPTModel"]),
    ("safetensors", ["GPTModel"]),
    ("pipeline-yaml", ["DataPrep"]),
    ("gpt2-tokenizer-bin", ["Tokenization"]),
    ("hf-config", ["GPTModel"]),
    ("sft-records", ["DataPrep", "ShardFormat", "Tokenization"]),
    ("stage-config", ["DataPrep", "ShardFormat", "FineTuning"]),
]

let package = Package(
    name: "KilnFuzz",
    platforms: [.macOS(.v13)],
    products: targets.map { .executable(name: "fuzz-\($0.name)", targets: ["fuzz-\($0.name)"]) },
    dependencies: [.package(name: "Kiln", path: "..")],
    targets: [
        .target(name: "FuzzSupport", dependencies: [.product(name: "ArchiveIO", package: "Kiln")]),
    ] + targets.map { t in
        .executableTarget(name: "fuzz-\(t.name)",
                          dependencies: ["FuzzSupport"] + t.modules.map { .product(name: $0, package: "Kiln") },
                          path: "Sources/\(t.name)")
    },
    swiftLanguageModes: [.v6]
)
