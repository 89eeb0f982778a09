import ArgumentParser
import SparseGlue

struct SparseGlueCLI: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sparseglue",
        abstract: "Attentional GNNs on sparse graphs for keypoint matching.",
        version: Runtime.version,
        subcommands: [Match.self, Demo.self, Bench.self, Variants.self]
    )
}

@main
enum Entry {
    static func main() {
        BLASCoreSelection.reexecWithFastKernelsIfNeeded()
        SparseGlueCLI.main()
    }
}
