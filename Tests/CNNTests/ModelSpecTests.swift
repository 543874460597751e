import CNN
import Testing

/// A network description is parsed into layers, planned on the data's shapes into named tensors
/// and sizes, and refused in one line naming the layer when it cannot work.
@Suite("Network descriptions")
struct ModelSpecTests {
    let mnist = (inputShape: [1, 28, 28], classCount: 10)

    func plan(_ text: String, inputShape: [Int] = [1, 28, 28], classes: Int = 10) throws -> ModelPlan {
        try ModelPlan(try ModelSpec(parsing: text), inputShape: inputShape, classCount: classes)
    }

    /// The error a description gets, as its one line.
    func refusal(_ text: String, inputShape: [Int] = [1, 28, 28], classes: Int = 10) -> String? {
        do {
            _ = try plan(text, inputShape: inputShape, classes: classes)
            return nil
        } catch {
            return "\(error)"
        }
    }

    @Test func theSeedNetworkWrittenOutIsTheSeedPreset() throws {
        let written = try ModelSpec(parsing: "conv(8,3,pad=1) relu maxpool(2) conv(16,3,pad=1) relu maxpool(2) flatten linear")
        let planned = try ModelPlan(written, inputShape: mnist.inputShape, classCount: mnist.classCount)
        #expect(planned.modelDescription == ParameterLayout.seedPlan.modelDescription)
    }

    @Test func theSeedPlanHasTheTutorialsTensors() {
        let tensors = ParameterLayout.seedPlan.modelDescription.tensors
        #expect(tensors.map(\.name) == ["conv1.weight", "conv1.bias", "conv2.weight", "conv2.bias", "fc1.weight", "fc1.bias"])
        #expect(tensors.map(\.shape) == [[8, 1, 3, 3], [8], [16, 8, 3, 3], [16], [10, 784], [10]])
        #expect(ParameterLayout.seedPlan.parameterCount == 9098)
        #expect(ParameterLayout.seedPlan.layers.map(\.outputShape) == [
            [8, 28, 28], [8, 28, 28], [8, 14, 14], [16, 14, 14], [16, 14, 14], [16, 7, 7], [784], [10],
        ])
    }

    @Test func lenet5FlattensTo400AndNamesItsLayersLikeTheTutorials() throws {
        let plan = try ModelPlan(.lenet5, inputShape: mnist.inputShape, classCount: mnist.classCount)
        #expect(plan.layers.first { $0.kind == .flatten }?.outputShape == [400])
        #expect(plan.modelDescription.tensors.map(\.name) == [
            "conv1.weight", "conv1.bias", "conv2.weight", "conv2.bias",
            "fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias", "fc3.weight", "fc3.bias",
        ])
        #expect(plan.modelDescription.tensors.map(\.shape) == [
            [6, 1, 5, 5], [6], [16, 6, 5, 5], [16], [120, 400], [120], [84, 120], [84], [10, 84], [10],
        ])
        // torchsummary's total for LeNet-5 on 28×28 with a padded first convolution.
        #expect(plan.parameterCount == 61_706)
    }

    @Test func kerasTransferFlattensTo4608AndTakesTheClassCountAsItsHead() throws {
        let plan = try ModelPlan(.kerasTransfer, inputShape: mnist.inputShape, classCount: 5)
        #expect(plan.layers.first { $0.kind == .flatten }?.outputShape == [4608])
        #expect(plan.modelDescription.tensors.last?.shape == [5])
        #expect(plan.modelDescription.tensor(named: "fc1.weight")?.shape == [128, 4608])
        #expect(plan.layers.filter { if case .dropout = $0.kind { true } else { false } }.count == 2)
    }

    @Test func fanInsAreThoseOfPyTorchsLayers() throws {
        let plan = try ModelPlan(.kerasTransfer, inputShape: mnist.inputShape, classCount: 10)
        #expect(plan.modelDescription.tensors.map(\.fanIn) == [9, 9, 288, 288, 4608, 4608, 128, 128])
    }

    @Test func forwardFLOPsCountEveryMultiplyAdd() throws {
        // conv1: 2·9·8·28·28, conv2: 2·72·16·14·14, fc1: 2·784·10.
        #expect(ParameterLayout.seedPlan.forwardFLOPs == 2 * 9 * 8 * 784 + 2 * 72 * 16 * 196 + 2 * 784 * 10)
    }

    @Test func presetsAndLayerListsParseBackFromTheirText() throws {
        for (name, spec) in ModelSpec.presets {
            #expect(try ModelSpec(parsing: name) == spec)
            #expect(try ModelSpec(parsing: spec.description) == spec)
        }
    }

    @Test func theResolvedSpecNamesEveryLayerWithParametersAndPlansTheSame() throws {
        let plan = try plan("stem=conv(4,3) act=relu conv(4,3) relu flatten linear(32) relu linear", classes: 5)
        #expect(plan.resolvedSpec.description
            == "stem=conv(4,3,pad=0) act=relu conv2=conv(4,3,pad=0) relu flatten fc1=linear(32) relu fc2=linear(5)")
        let replanned = try ModelPlan(try ModelSpec(parsing: plan.resolvedSpec.description), inputShape: [1, 28, 28], classCount: 5)
        #expect(replanned.modelDescription == plan.modelDescription)
        #expect(replanned.layers.map(\.name) == plan.layers.map(\.name))
        #expect(replanned.resolvedSpec == plan.resolvedSpec)
        #expect(ParameterLayout.seedPlan.resolvedSpec.description
            == "conv1=conv(8,3,pad=1) relu maxpool(2) conv2=conv(16,3,pad=1) relu maxpool(2) flatten fc1=linear(10)")
    }

    @Test func layersMayBeSeparatedByCommasAndNewLinesWithComments() throws {
        let text = """
            # a LeNet-like network
            features=conv(6, 5, pad=2), relu, maxpool
            flatten   # to 6·14·14
            head=linear
            """
        let plan = try plan(text)
        #expect(plan.modelDescription.tensors.map(\.name) == ["features.weight", "features.bias", "head.weight", "head.bias"])
        #expect(plan.layers.map(\.name) == ["features", "relu1", "pool1", "flatten1", "head"])
    }

    @Test func unnamedLayersAreNumberedByKindCountingNamedOnes() throws {
        let plan = try plan("stem=conv(4,3) relu conv(4,3) relu flatten linear(32) relu linear")
        #expect(plan.layers.map(\.name) == ["stem", "relu1", "conv2", "relu2", "flatten1", "fc1", "relu3", "fc2"])
    }

    @Test func maxPoolingFloorsOddSides() throws {
        let plan = try plan("conv(2,3) maxpool(2) flatten linear", inputShape: [1, 11, 9])
        #expect(plan.layers[1].outputShape == [2, 4, 3])
    }

    @Test func theInputShapeComesFromTheData() throws {
        let plan = try plan("conv(4,3,pad=1) maxpool flatten linear", inputShape: [3, 32, 32], classes: 7)
        #expect(plan.modelDescription.tensors.map(\.shape) == [[4, 3, 3, 3], [4], [7, 1024], [7]])
    }

    @Test(arguments: [
        ("conv(8,3) relu pool flatten linear", "layer 3 'pool': unknown layer 'pool' (known: conv, relu, maxpool, dropout, flatten, linear; presets: seed, lenet5, keras-transfer)"),
        ("conv(8,x) flatten linear", "layer 1 'conv(8,x)': the kernel size must be a whole number from 1 to 7, not 'x'"),
        ("conv(8,9) flatten linear", "layer 1 'conv(8,9)': the kernel size must be a whole number from 1 to 7, not '9'"),
        ("conv(8,3,pad=3) flatten linear", "layer 1 'conv(8,3,pad=3)': the padding of a 3×3 kernel must be a whole number from 0 to 2, not '3'"),
        ("conv(8,3,stride=2) flatten linear", "layer 1 'conv(8,3,stride=2)': conv has no argument 'stride' (it has pad)"),
        ("conv(99999999999999999999,3) flatten linear", "layer 1 'conv(99999999999999999999,3)': the output channels must be a whole number from 1 to 65536, not '99999999999999999999'"),
        ("dropout(1.5) flatten linear", "layer 1 'dropout(1.5)': the dropout probability must be a number from 0 up to (not including) 1, not '1.5'"),
        ("maxpool(3) flatten linear", "layer 1 'maxpool(3)': only 2×2 pooling is supported, not '3'"),
        ("1x=conv(8,3) flatten linear", "layer 1 '1x=conv(8,3)': '1x' is not a layer name (letters, digits and _, not starting with a digit)"),
        ("conv(8,3 flatten linear", "layer 1 'conv(8,3 flatten linear': its arguments must end with one ')'"),
    ])
    func badWordsAreRefusedNamingTheLayer(text: String, message: String) {
        #expect(refusal(text) == message)
    }

    @Test(arguments: [
        ("conv(8,7) maxpool conv(8,7) maxpool conv(8,7) flatten linear", [1, 28, 28],
         "layer 5 (conv3): a 7×7 kernel with padding 0 is larger than its 2×2 input"),
        ("conv(4,3,pad=1) maxpool maxpool flatten linear", [1, 2, 2],
         "layer 3 (pool2): a 2×2 pool does not fit its 1×1 input"),
        ("linear flatten", [1, 28, 28],
         "layer 1 (fc1): linear needs a flat input (put flatten before it), it receives 1×28×28"),
        ("flatten conv(4,3) linear", [1, 28, 28],
         "layer 2 (conv1): conv needs a channels×height×width input, it receives 784 after flatten"),
        ("flatten linear(10) relu", [1, 28, 28],
         "layer 3 (relu1): the last layer must be linear, giving one output per class (10)"),
        ("flatten linear(5)", [1, 28, 28],
         "layer 2 (fc1): the last layer gives 5 outputs, the data has 10 classes"),
        ("flatten linear linear", [1, 28, 28],
         "layer 2 (fc1): only the last linear layer may leave out its output features"),
        ("flatten fc=linear(4) fc=linear", [1, 28, 28],
         "layer 3 (fc): a second layer named 'fc'"),
        ("flatten linear(65536) linear(65536) linear", [1, 28, 28],
         "layer 3 (fc2): the network would have 4346478592 parameters, more than the 100000000 allowed"),
    ])
    func layersThatDoNotFitTheirInputAreRefusedWithTheShapes(text: String, inputShape: [Int], message: String) {
        #expect(refusal(text, inputShape: inputShape) == message)
    }

    @Test func anEmptyDescriptionIsRefused() {
        #expect(refusal(" # nothing\n") == "the network has no layers")
    }

    @Test func aDescriptionBeyondItsBoundsIsRefusedBeforeItIsParsed() {
        let tooMany = Array(repeating: "relu", count: ModelSpec.maxLayers + 1).joined(separator: " ")
        #expect(refusal(tooMany) == "the network has 257 layers, more than the 256 allowed")
        let tooLong = String(repeating: " ", count: ModelSpec.maxDescriptionBytes + 1)
        #expect(refusal(tooLong)?.hasPrefix("the network description has 65537 bytes") == true)
    }

    @Test func aBatchWhoseActivationsExceedTheBoundIsRefused() throws {
        let plan = try ModelPlan(.kerasTransfer, inputShape: mnist.inputShape, classCount: 10)
        try plan.check(batch: 60)
        #expect(throws: ModelSpecError.self) { try plan.check(batch: 10_000_000) }
    }
}
