using System.Text.RegularExpressions;
using GruDemo.Stack;
using LocalServers;

namespace GruDemo.Publishing;

/// <summary>One model version the story publishes: the gru-model flags that write it and the tag it goes under.</summary>
/// <param name="Tag">The registry tag (v1, v2, v3).</param>
/// <param name="HiddenSize">GRU hidden units: v3's are many more, so each request really costs more.</param>
/// <param name="Layers">Stacked GRU layers.</param>
/// <param name="Seed">Weight seed: a different seed is a different model with the same shape.</param>
/// <param name="Variant">gru-model --variant: Reference, SwappedGates or Rounded8Bit (the same weights, other numbers).</param>
public sealed record ModelVersion(string Tag, int HiddenSize, int Layers, int Seed, string Variant = "Reference")
{
    /// <summary>The signature every version shares: 8 features per step, sequence lengths, 4 outputs.</summary>
    public const int InputSize = 8;

    /// <summary>Outputs of the dense head.</summary>
    public const int Outputs = 4;
}

/// <summary>A model in the registry: the tag the GruModel names and the manifest digest the operator will pin.</summary>
public sealed record PublishedModel(ModelVersion Version, string Source, string Digest, long Bytes);

/// <summary>
/// Writes each version with the project's own `gru-model` (seeded random ONNX GRU weights, no Python) and publishes it
/// with `gru-model push`, exactly as "Publish and deploy a model" (docs/models.md) does by hand.
/// </summary>
public sealed partial class ModelPublisher(string registryHost, string directory, string logPath)
{
    /// <summary>The repository in the registry.</summary>
    public const string Repository = "demo/sequence-model";

    /// <summary>Writes <paramref name="version"/> and pushes it to oci://registry/demo/sequence-model:tag.</summary>
    public async Task<PublishedModel> PublishAsync(ModelVersion version, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(version);
        var cli = BuildOutput.Locate("src/GruModelCli", "gru-model.dll");
        Directory.CreateDirectory(directory);
        var file = Path.Combine(directory, $"sequence-model-{version.Tag}.onnx");
        await ChildProcess.RunAsync(ChildProcess.DotnetHost,
        [
            cli, "--output", file, "--input-size", $"{ModelVersion.InputSize}", "--hidden-size", $"{version.HiddenSize}",
            "--layers", $"{version.Layers}", "--sequence-lengths", "--dense-outputs", $"{ModelVersion.Outputs}", "--seed", $"{version.Seed}",
            "--variant", version.Variant,
        ], logPath, TimeSpan.FromMinutes(2), cancellationToken);
        var source = $"oci://{registryHost}/{Repository}:{version.Tag}";
        var pushed = await ChildProcess.RunAsync(ChildProcess.DotnetHost, [cli, "push", file, source, "--plain-http", "--name", "sequence-model"],
            logPath, TimeSpan.FromMinutes(2), cancellationToken);
        var digest = DigestLine().Match(pushed);
        if (!digest.Success) throw new InvalidOperationException($"gru-model push printed no digest:\n{pushed}");
        return new PublishedModel(version, source, digest.Groups[1].Value, new FileInfo(file).Length);
    }

    [GeneratedRegex(@"^digest: (sha256:[0-9a-f]{64})\s*$", RegexOptions.Multiline)]
    private static partial Regex DigestLine();
}
