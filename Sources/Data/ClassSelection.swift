/// The classes a run keeps (`--classes`), as given: each item a class name, a label number, or
/// a range of label numbers `a-b`. The kept classes are relabelled 0…k−1 in the order given.
public struct ClassSelection: Sendable, Equatable, CustomStringConvertible {
    /// The comma-separated items, trimmed of spaces.
    public let items: [String]

    /// More than any class count a set may have (`ImageFolder.maximumClasses`), so that a range
    /// such as `0-999999999` is refused before it is expanded.
    private static let maximumItems = ImageFolder.maximumClasses

    /// The items of `list` (comma-separated, none empty); nil for an empty item.
    public init?(parsing list: String) {
        let items = list.split(separator: ",", omittingEmptySubsequences: false).map {
            String($0.drop { $0 == " " }.reversed().drop { $0 == " " }.reversed())
        }
        guard !items.contains(where: \.isEmpty) else { return nil }
        self.items = items
    }

    public init(items: [String]) {
        self.items = items
    }

    public var description: String { items.joined(separator: ",") }

    /// The labels, among `classNames`, of the classes kept, in the order given: an item that
    /// names a class is that class (so a name that looks like a number or a range still means
    /// the class of that name); otherwise a label number, or a range `a-b` of them (a ≤ b).
    /// `location` names the set in errors.
    public func labels(among classNames: [String], of location: String) throws(DataError) -> [Int] {
        var labels: [Int] = []
        for item in items {
            let expanded: [Int]
            if let named = classNames.firstIndex(of: item) {
                expanded = [named]
            } else if let label = Int(item), classNames.indices.contains(label) {
                expanded = [label]
            } else if let range = Self.labelRange(item), range.upperBound <= classNames.count {
                expanded = Array(range)
            } else {
                throw .unknownClass(item, location: location, known: classNames)
            }
            for label in expanded {
                guard !labels.contains(label) else { throw .repeatedClass(classNames[label], location: location) }
                labels.append(label)
            }
        }
        return labels
    }

    /// `a-b` as the labels a…b, when both are numbers and a ≤ b.
    private static func labelRange(_ item: String) -> Range<Int>? {
        let ends = item.split(separator: "-", omittingEmptySubsequences: false)
        guard ends.count == 2, let first = Int(ends[0]), let last = Int(ends[1]),
              first >= 0, first <= last, last < maximumItems else { return nil }
        return first ..< last + 1
    }
}
