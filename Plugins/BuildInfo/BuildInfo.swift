import Foundation
import PackagePlugin

/// Writes `BuildInfo.swift` before every build of the target it is applied to: the git commit
/// the sources were built from (`unknown` outside a git checkout, such as a source tarball, or
/// without git) and the compiler's version, for `mnist-ddp --version`. The file is rewritten only
/// when its text changes, so an unchanged commit recompiles nothing.
@main
struct BuildInfo: BuildToolPlugin {
    func createBuildCommands(context: PluginContext, target: Target) throws -> [Command] {
        let outputDirectory = context.pluginWorkDirectoryURL.appending(path: "generated")
        let output = outputDirectory.appending(path: "BuildInfo.swift")
        let swiftc = (try? context.tool(named: "swiftc").url.path) ?? "swiftc"
        // A build-tool plugin runs no target of its own package, so the work is a shell script.
        // The commit counts only when the package directory is the checkout's top level: a
        // tarball unpacked inside some other repository must not report that repository's commit.
        let script = #"""
            set -u
            package="$1" output="$2" swiftc="$3"
            top="$(git -C "$package" rev-parse --show-toplevel 2>/dev/null)"
            commit=unknown
            if [ -n "$top" ] && [ "$(cd "$top" && pwd -P)" = "$(cd "$package" && pwd -P)" ]; then
                commit="$(git -C "$package" describe --always --dirty --abbrev=12 2>/dev/null || echo unknown)"
            fi
            compiler="$("$swiftc" --version 2>/dev/null | head -n 1)"
            mkdir -p "$(dirname "$output")"
            {
                echo '// Written by the BuildInfo plugin at each build; not in version control.'
                echo '/// The git commit the sources were built from ("-dirty": with uncommitted changes), or "unknown".'
                echo "let buildCommit = \"$commit\""
                echo '/// The compiler that built this binary, as `swiftc --version` names itself.'
                echo "let buildCompiler = \"${compiler:-unknown}\""
            } > "$output.new"
            if cmp -s "$output.new" "$output"; then rm "$output.new"; else mv "$output.new" "$output"; fi
            """#
        return [
            .prebuildCommand(
                displayName: "Recording the git commit for --version",
                executable: URL(fileURLWithPath: "/bin/sh"),
                arguments: ["-c", script, "build-info", context.package.directoryURL.path, output.path, swiftc],
                outputFilesDirectory: outputDirectory),
        ]
    }
}
