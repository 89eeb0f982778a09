import ArgumentParser
import SparseGlue

@main
struct SparseGlueCLI: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sparseglue",
        abstract: "Attentional GNNs on sparse graphs for keypoint matching.",
        version: Runtime.version,
        subcommands: [Demo.self]
    )
}
