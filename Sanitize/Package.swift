// swift-tools-version: 6.1
// Kiln's threaded code under a sanitizer without building the test suite: one executable,
// `parallel-stages`, that runs each parallel stage through the library on one thread and on
// several and compares the bytes. Only the modules it imports (and their dependencies) are
// compiled with the sanitizer, so a from-scratch ThreadSanitizer build fits in `make test`'s
// budget, where the test suite under a sanitizer (`make test-asan`) does not:
//
//   swift build --package-path Sanitize --scratch-path .build-sanitize-thread --sanitize=thread
//
// `make test-sanitize` (scripts/sanitize.sh) builds and runs it; docs/RELIABILITY.md, "Sanitizers".
// A package of its own, depending on Kiln by path, as Fuzz/ does.
import PackageDescription

let package = Package(
    name: "KilnSanitize",
    platforms: [.macOS(.v13)],
    dependencies: [.package(name: "Kiln", path: "..")],
    targets: [
        .executableTarget(name: "parallel-stages", dependencies: [
            .product(name: "DataPrep", package: "Kiln"),
            .product(name: "Tokenization", package: "Kiln"),
            .product(name: "GPTModel", package: "Kiln"),
            .product(name: "Kernels", package: "Kiln"),
        ]),
    ],
    swiftLanguageModes: [.v6]
)
