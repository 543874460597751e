import Data
import Testing

@Suite("Choosing the data directory")
struct DataDirectoryTests {
    let environment = [DataDirectory.environmentVariable: "/from/environment"]

    @Test func optionWinsOverEnvironment() {
        #expect(DataDirectory.resolve(option: "/from/option", environment: environment) == "/from/option")
    }

    @Test func environmentWinsOverDefault() {
        #expect(DataDirectory.resolve(option: nil, environment: environment) == "/from/environment")
    }

    @Test func defaultIsDataMNIST() {
        #expect(DataDirectory.resolve(option: nil, environment: [:]) == "data/mnist")
    }

    @Test func emptyValuesCountAsNotGiven() {
        #expect(DataDirectory.resolve(option: "", environment: environment) == "/from/environment")
        #expect(DataDirectory.resolve(option: nil, environment: [DataDirectory.environmentVariable: ""]) == "data/mnist")
    }
}
