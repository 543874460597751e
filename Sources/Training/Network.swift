import CNN

/// The network Training trains: named here, and read everywhere else through `Network.modelDescription`
/// (its tensors, input shape and class count), so that another model changes this line alone.
public typealias Network = SeedCNN
