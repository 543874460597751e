import Foundation
import Testing
import TestSupport

/// A family of sources compiled once per instruction set keeps its files in one folder
/// (Sources/KernelSources, Sources/AffineSamplerSources) and reaches each per-path target
/// (Sources/<Target>Baseline, …AVX2, …AVX512) through one symbolic link per file: a file without
/// its link would be missing from that path's build, and a copy in place of a link would drift.
@Suite("Per-instruction-set source links")
struct DispatchedSourceLinkTests {
    let sources = ProcessRunner.packageRoot.appendingPathComponent("Sources")
    let pathSuffixes = ["Baseline", "AVX2", "AVX512"]

    func entries(_ directory: URL) throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: directory.path).sorted()
    }

    /// Where `link` points, or nil if it is not a symbolic link.
    func destination(_ link: URL) -> String? {
        try? FileManager.default.destinationOfSymbolicLink(atPath: link.path)
    }

    /// The per-path target prefixes (`Kernels`, `AffineSampler`): every Sources/<Prefix>Baseline.
    func targetPrefixes() throws -> [String] {
        try entries(sources).filter { $0.hasSuffix("Baseline") }.map { String($0.dropLast("Baseline".count)) }
    }

    @Test func theKernelAndSamplerTargetsAreFound() throws {
        #expect(try targetPrefixes() == ["AffineSampler", "Kernels"])
    }

    @Test func everyPathLinksEveryFileOfItsFamilysSourceFolderAndHoldsNothingElse() throws {
        var sourceFolders: [String] = []
        for prefix in try targetPrefixes() {
            let baseline = sources.appendingPathComponent(prefix + "Baseline")
            let firstLink = try #require(try entries(baseline).first.map { destination(baseline.appendingPathComponent($0)) } ?? nil,
                                         "\(baseline.path) holds no link")
            // "../KernelSources/Layers.swift" → "KernelSources"
            let folder = try #require(firstLink.split(separator: "/").dropFirst().first.map(String.init))
            sourceFolders.append(folder)
            let files = try entries(sources.appendingPathComponent(folder))
            #expect(!files.isEmpty)
            for suffix in pathSuffixes {
                let pathDirectory = sources.appendingPathComponent(prefix + suffix)
                #expect(try entries(pathDirectory) == files, "\(prefix + suffix) does not hold exactly the files of \(folder)")
                for file in files {
                    let link = pathDirectory.appendingPathComponent(file)
                    #expect(destination(link) == "../\(folder)/\(file)", "\(link.path) is not a link to ../\(folder)/\(file)")
                }
            }
        }
        // No family's source folder is left without its per-path targets.
        #expect(sourceFolders.sorted() == (try entries(sources).filter { $0.hasSuffix("Sources") }))
    }
}
