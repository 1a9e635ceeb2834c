// swift-tools-version: 6.1
// Kiln: raw text archives to training data and fine-tuned GPT-style models.
//
// Modules (dependencies point one way; see ../shared/docs/STYLE.md):
//   prep ─► DataPrep ─► ArchiveIO ─► CArchive, CZlib, CZstd, CIsal (libarchive, zlib, zstd, ISA-L)
//              ├──────► ShardFormat ─► Tokenization, CPrctl (Linux's parent-death signal)
//   tune ─► FineTuning ─► GPTModel ─► Kernels (OpenBLAS, loaded at run time)
//              ├──────► MessagePassing ─► CMPI (Open MPI: data-parallel training over processes)
//              └──────► ShardFormat ─► Tokenization
// The two tools share only on-disk contracts (ShardFormat): tune links no libarchive, prep no BLAS.
import PackageDescription

let package = Package(
    name: "Kiln",
    platforms: [.macOS(.v13)],
    products: [
        .executable(name: "prep", targets: ["prep"]),
        .executable(name: "tune", targets: ["tune"]),
        // The modules as libraries, for the fuzz targets in Fuzz/ and the sanitizer driver in
        // Sanitize/ (packages of their own that depend on this one by path: the normal build never
        // sees a libFuzzer entry point, and a sanitizer build compiles only the modules it runs).
        .library(name: "ArchiveIO", targets: ["ArchiveIO"]),
        .library(name: "Tokenization", targets: ["Tokenization"]),
        .library(name: "ShardFormat", targets: ["ShardFormat"]),
        .library(name: "DataPrep", targets: ["DataPrep"]),
        .library(name: "GPTModel", targets: ["GPTModel"]),
        .library(name: "Kernels", targets: ["Kernels"]),
        .library(name: "FineTuning", targets: ["FineTuning"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-crypto", from: "3.12.3"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
    ],
    targets: [
        // System libraries: one folder each, owned by the ArchiveIO module alone.
        .systemLibrary(name: "CArchive", pkgConfig: "libarchive",
                       providers: [.apt(["libarchive-dev"])]),
        .systemLibrary(name: "CZlib", pkgConfig: "zlib",
                       providers: [.apt(["zlib1g-dev"])]),
        .systemLibrary(name: "CZstd", pkgConfig: "libzstd",
                       providers: [.apt(["libzstd-dev"])]),
        // Intel ISA-L's igzip: gzip inflate two to three times faster than zlib's.
        .systemLibrary(name: "CIsal", pkgConfig: "libisal",
                       providers: [.apt(["libisal-dev"])]),

        // Byte streams, compression codecs, archive containers and character-set conversion.
        .target(name: "ArchiveIO", dependencies: ["CArchive", "CZlib", "CZstd", "CIsal"]),

        // Byte-level BPE: pre-tokenizers, encoder, trainer, tokenizer files (pure Swift).
        .target(name: "Tokenization"),

        // prctl, owned by ShardFormat alone: a stage that `prep run` starts dies with it.
        .systemLibrary(name: "CPrctl"),

        // The files prep writes and tune reads: llm.c token shards and Kiln's index beside them,
        // and the other contracts between the tools (configuration files, chat templates, the
        // environment `prep run` gives its stages).
        .target(name: "ShardFormat", dependencies: [
            "Tokenization", "CPrctl",
            .product(name: "Crypto", package: "swift-crypto"),
            .product(name: "Yams", package: "Yams"),
        ]),

        // Documents: ingest, clean, dedup, manifests, the JSONL record format.
        .target(name: "DataPrep", dependencies: [
            "ArchiveIO", "Tokenization", "ShardFormat",
            .product(name: "Crypto", package: "swift-crypto"),
            .product(name: "Yams", package: "Yams"),
        ]),

        .executableTarget(name: "prep", dependencies: [
            "DataPrep", "ShardFormat", "Tokenization",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
            .product(name: "Logging", package: "swift-log"),
        ]),
        // Compute kernels of the GPT engine, and OpenBLAS loaded at run time (dlopen) with the
        // fastest core type this CPU supports.
        .target(name: "Kernels"),

        // The GPT-2 model: configuration, parameter table, forward/backward, checkpoints.
        .target(name: "GPTModel", dependencies: ["Kernels"]),

        // Open MPI, owned by MessagePassing alone: the processes of an `mpirun`/`srun` job and
        // the sums of gradients between them.
        .systemLibrary(name: "CMPI", pkgConfig: "ompi-c",
                       providers: [.apt(["libopenmpi-dev"])]),
        .target(name: "MessagePassing", dependencies: ["CMPI"]),

        // Fine-tuning and continued pretraining: data loaders over token shards, AdamW, schedules.
        .target(name: "FineTuning", dependencies: ["GPTModel", "ShardFormat", "MessagePassing"]),

        .executableTarget(name: "tune", dependencies: [
            "FineTuning", "GPTModel", "Kernels", "MessagePassing", "ShardFormat", "Tokenization",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
            .product(name: "Logging", package: "swift-log"),
        ]),

        .target(name: "TestSupport", dependencies: ["DataPrep", "ArchiveIO"], path: "Tests/TestSupport"),
        .testTarget(name: "ArchiveIOTests", dependencies: ["ArchiveIO", "TestSupport"]),
        .testTarget(name: "ShardFormatTests", dependencies: ["ShardFormat"]),
        .testTarget(name: "TokenizationTests", dependencies: ["Tokenization", "TestSupport"]),
        .testTarget(name: "DataPrepTests", dependencies: ["DataPrep", "ShardFormat", "TestSupport"]),
        .testTarget(name: "PrepCLITests", dependencies: ["DataPrep", "ShardFormat", "TestSupport"]),
        .testTarget(name: "FineTuningTests", dependencies: ["FineTuning", "GPTModel", "Kernels", "ShardFormat", "TestSupport"]),
        .testTarget(name: "TuneCLITests", dependencies: ["FineTuning", "GPTModel", "TestSupport"]),
        .testTarget(name: "KernelsTests", dependencies: ["Kernels", "TestSupport"]),
        .testTarget(name: "GPTModelTests", dependencies: ["GPTModel", "Kernels", "TestSupport"],
                    exclude: ["check_hf_export.py", "check_hf_logits.py", "reference_gpt2.py"]),
    ],
    swiftLanguageModes: [.v6]
)
