using System.Text.RegularExpressions;
using TestSupport;

namespace Ecosystem.Tests.Docs;

/// <summary>
/// The README and docs/ link to each other by file and heading: every relative link names a file that exists and, with
/// a #fragment, a heading in it (GitHub's anchor for it), so a moved or renamed section breaks here, not for a reader.
/// </summary>
public sealed partial class DocLinksTests
{
    public static TheoryData<string> Documents => new(
        new[] { "README.md" }.Concat(Directory.GetFiles(Path.Combine(Repository.Root, "docs"), "*.md").Select(f => Path.Combine("docs", Path.GetFileName(f)))));

    [Theory]
    [MemberData(nameof(Documents))]
    public void Every_relative_link_names_an_existing_file_and_heading(string document)
    {
        var path = Path.Combine(Repository.Root, document);
        var broken = new List<string>();
        foreach (Match link in Link().Matches(StripCode(File.ReadAllText(path))))
        {
            var target = link.Groups["target"].Value;
            if (target.Contains("://", StringComparison.Ordinal) || target.StartsWith("mailto:", StringComparison.Ordinal)) continue;
            var parts = target.Split('#', 2);
            var file = parts[0].Length == 0 ? path : Path.GetFullPath(Path.Combine(Path.GetDirectoryName(path)!, parts[0]));
            if (!File.Exists(file) && !Directory.Exists(file))
            {
                broken.Add($"{target}: no such file");
                continue;
            }
            if (parts.Length == 2 && File.Exists(file) && !Anchors(file).Contains(parts[1])) broken.Add($"{target}: no heading with that anchor");
        }
        Assert.True(broken.Count == 0, $"{document}:\n{string.Join('\n', broken)}");
    }

    [Theory]
    [InlineData("## `make demo`: a canary, promoted and rolled back", "make-demo-a-canary-promoted-and-rolled-back")]
    [InlineData("### Run it locally (like kubebuilder's `make run`)", "run-it-locally-like-kubebuilders-make-run")]
    [InlineData("### The real-node lane (`make e2e`)", "the-real-node-lane-make-e2e")]
    [InlineData("## Try GruServer", "try-gruserver")]
    public void Anchors_are_GitHubs(string heading, string anchor) => Assert.Equal(anchor, Anchor(heading));

    private static HashSet<string> Anchors(string file) =>
        StripCode(File.ReadAllText(file)).Split('\n').Where(l => l.StartsWith('#')).Select(Anchor).ToHashSet(StringComparer.Ordinal);

    /// <summary>GitHub's heading anchor: lower case, punctuation other than '-' and '_' dropped, spaces as '-'.</summary>
    private static string Anchor(string heading)
    {
        var text = heading.TrimStart('#').Trim().ToLowerInvariant();
        return string.Concat(text.Where(c => char.IsLetterOrDigit(c) || c is '-' or '_' or ' ')).Replace(' ', '-');
    }

    /// <summary>Fenced code blocks removed: a '#' comment in a shell example is not a heading, a [x](y) in code not a link.</summary>
    private static string StripCode(string markdown) => Fence().Replace(markdown, "");

    [GeneratedRegex(@"\[[^\]]*\]\((?<target>[^)\s]+)\)")]
    private static partial Regex Link();

    [GeneratedRegex(@"^```.*?^```", RegexOptions.Multiline | RegexOptions.Singleline)]
    private static partial Regex Fence();
}
