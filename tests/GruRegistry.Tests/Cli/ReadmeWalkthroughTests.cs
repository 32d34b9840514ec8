using System.Text.RegularExpressions;
using TestSupport;

namespace GruRegistry.Tests.Cli;

/// <summary>The "publish and deploy a model" walk-through (docs/models.md) gives the digests it shows.</summary>
public sealed partial class ReadmeWalkthroughTests
{
    [Fact]
    public async Task PushPrintsTheDigestsTheReadmeShows()
    {
        var readme = await File.ReadAllTextAsync(Path.Combine(Repository.Root, "docs", "models.md"));
        var section = readme[readme.IndexOf("## Publish and deploy a model", StringComparison.Ordinal)..];
        var shownLayer = LayerLine().Match(section).Groups[1].Value;
        var shownManifest = DigestLine().Match(section).Groups[1].Value;
        await using var registry = await RegistryProcess.StartAnonymousAsync(CancellationToken.None);
        var model = Support.TestArtifacts.TempPath("recs.onnx");
        var reference = $"oci://{registry.Host}/models/session-recs:1.0";

        var write = await GruModelCommand.RunAsync(["--output", model, "--input-size", "8", "--hidden-size", "32", "--layers", "2",
            "--linear-before-reset", "--sequence-lengths", "--dense-outputs", "4", "--seed", "42"]);
        var push = await GruModelCommand.RunAsync(["push", model, reference, "--plain-http", "--name", "session-recs"]);
        var pull = await GruModelCommand.RunAsync(["pull", $"oci://{registry.Host}/models/session-recs@{shownManifest}", "--plain-http",
            "--output", Support.TestArtifacts.TempPath()]);

        Assert.Equal(0, write.ExitCode);
        Assert.True(push.ExitCode == 0, push.Stderr);
        Assert.Contains($"layer {shownLayer} (43398 bytes, uploaded)", push.Stdout, StringComparison.Ordinal);
        Assert.Contains($"digest: {shownManifest}", push.Stdout, StringComparison.Ordinal);
        Assert.True(pull.ExitCode == 0, pull.Stderr);
        Assert.Contains($"{shownLayer} verified", pull.Stdout, StringComparison.Ordinal);
    }

    [GeneratedRegex(@"#   layer (sha256:[0-9a-f]{64})")]
    private static partial Regex LayerLine();

    [GeneratedRegex(@"# digest: (sha256:[0-9a-f]{64})")]
    private static partial Regex DigestLine();
}
