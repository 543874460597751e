import CNNKernelInterface

extension ModelPlan.Layer {
    /// A convolution layer's sizes, as the kernels take them; nil for other layers.
    public var convolutionShape: ConvolutionShape? {
        guard case .convolution(let outChannels, let kernel, let padding) = kind else { return nil }
        return ConvolutionShape(
            inputChannels: inputShape[0], height: inputShape[1], width: inputShape[2], outputChannels: outChannels,
            kernel: kernel, padding: padding)
    }

    /// The input as planes, for layers before flatten; nil after.
    public var inputPlanes: PlanesShape? {
        inputShape.count == 3 ? PlanesShape(channels: inputShape[0], height: inputShape[1], width: inputShape[2]) : nil
    }
}
