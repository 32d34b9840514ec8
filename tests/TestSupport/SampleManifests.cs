using System.Text.RegularExpressions;

namespace TestSupport;

/// <summary>Reads the one document of a kind from a multi-document manifest (a sample may create its namespace first).</summary>
public static partial class SampleManifests
{
    /// <summary>The YAML text of the single document in <paramref name="path"/> whose kind is <paramref name="kind"/>.</summary>
    public static string DocumentOfKind(string path, string kind) =>
        DocumentSeparator().Split(File.ReadAllText(path)).Single(d => d.Contains($"kind: {kind}", StringComparison.Ordinal));

    [GeneratedRegex(@"^---\s*$", RegexOptions.Multiline)]
    private static partial Regex DocumentSeparator();
}
