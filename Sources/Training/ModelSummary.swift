import CNN

extension ModelPlan {
    /// The network as Keras' `summary()` and torchsummary print it: each layer's name, type,
    /// output shape and parameters, then the totals and what a rank needs for batches of `batch`.
    public func summary(batch: Int) -> String {
        let header = ("Layer (type)", "Output shape", "Param #")
        let rows = layers.map { layer in
            ("\(layer.name) (\(layer.kind.pytorchType))", Self.shapeText(layer.outputShape), grouped(layer.parameterCount))
        }
        let nameWidth = max(header.0.count, rows.map(\.0.count).max() ?? 0) + 2
        let shapeWidth = max(header.1.count, rows.map(\.1.count).max() ?? 0) + 2
        let countWidth = max(header.2.count, rows.map(\.2.count).max() ?? 0)
        func row(_ name: String, _ shape: String, _ count: String) -> String {
            name.padding(toLength: nameWidth) + shape.padding(toLength: shapeWidth) + pad(count, countWidth)
        }
        let rule = String(repeating: "=", count: nameWidth + shapeWidth + countWidth)
        let activationBytes = batch * activationBytesPerSample
        return ([
            "input \(Self.shapeText(inputShape)), \(classCount) classes",
            row(header.0, header.1, header.2),
            rule,
        ] + rows.map { row($0.0, $0.1, $0.2) } + [
            rule,
            "Total params: \(grouped(parameterCount)) (\(memoryText(4 * parameterCount)))",
            "Forward pass: \(fixed(Double(forwardFLOPs) / 1e6, 2)) MFLOP per sample",
            "Memory per rank, batch \(batch): \(memoryText(parameterStateBytes + activationBytes)) "
                + "(parameters, gradients and Adam moments \(memoryText(parameterStateBytes)); "
                + "activations and their gradients \(memoryText(activationBytes)))",
        ]).joined(separator: "\n")
    }
}

/// `bytes` in KiB below a MiB, else in MiB, with one decimal.
private func memoryText(_ bytes: Int) -> String {
    bytes < 1 << 20 ? "\(fixed(Double(bytes) / 1024, 1)) KiB" : "\(fixed(Double(bytes) / 1_048_576, 1)) MiB"
}

extension String {
    /// The text followed by spaces up to `width` characters.
    fileprivate func padding(toLength width: Int) -> String {
        self + String(repeating: " ", count: max(0, width - count))
    }
}
