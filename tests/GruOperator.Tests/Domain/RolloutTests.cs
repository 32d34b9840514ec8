using GruOperator.Domain.Rollout;

namespace GruOperator.Tests.Domain;

public sealed class RolloutTests
{
    private const string Hex = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
    private const string OtherHex = "fedcba9876543210fedcba9876543210fedcba9876543210fedcba9876543210";

    public static TheoryData<string, string, string?, ModelSourceKind, string, string?> SourceRows => new()
    {
        { "file in the image", "file:///opt/models/m.onnx", Hex, ModelSourceKind.File, "/opt/models/m.onnx", Hex },
        { "https with prefixed digest", "https://models.example/m.onnx", "sha256:" + Hex, ModelSourceKind.Https, "https://models.example/m.onnx", Hex },
        { "oci pinned by digest", "oci://reg:5000/models/m@sha256:" + Hex, null, ModelSourceKind.Oci, "reg:5000/models/m@sha256:" + Hex, Hex },
        { "oci tag with digest in spec", "oci://reg:5000/models/m:1.0", Hex, ModelSourceKind.Oci, "reg:5000/models/m:1.0", Hex },
        { "oci tag, digest unknown yet", "oci://reg:5000/models/m:1.0", "", ModelSourceKind.Oci, "reg:5000/models/m:1.0", null },
    };

    [Theory]
    [MemberData(nameof(SourceRows))]
    public void ModelSourcesParse(string scenario, string source, string? sha, ModelSourceKind kind, string location, string? hex)
    {
        Assert.True(ModelSource.TryParse(source, sha, out var parsed, out var error), $"{scenario}: {error}");
        Assert.Equal(kind, parsed!.Kind);
        Assert.Equal(location, parsed.Location);
        Assert.Equal(hex, parsed.Sha256Hex);
    }

    public static TheoryData<string, string, string?, string> BadSourceRows => new()
    {
        { "no scheme", "models/m.onnx", Hex, "unsupported scheme" },
        { "s3 scheme", "s3://bucket/m.onnx", Hex, "unsupported scheme" },
        { "file without digest", "file:///opt/m.onnx", null, "spec.model.sha256 is required" },
        { "https without digest", "https://x.example/m.onnx", "", "spec.model.sha256 is required" },
        { "relative file path", "file://opt/m.onnx", Hex, "absolute path" },
        { "digest in spec disagrees with reference", "oci://reg/models/m@sha256:" + Hex, OtherHex, "differs" },
        { "malformed sha", "file:///opt/m.onnx", "abc", "not a sha256" },
        { "oci without repository", "oci://registry-only", null, "registry and repository" },
    };

    [Theory]
    [MemberData(nameof(BadSourceRows))]
    public void BadModelSourcesNameTheFieldAndTheFix(string scenario, string source, string? sha, string expected)
    {
        Assert.False(ModelSource.TryParse(source, sha, out _, out var error), scenario);
        Assert.Contains(expected, error, StringComparison.Ordinal);
        Assert.Contains("spec.model", error, StringComparison.Ordinal);
    }

    public static TheoryData<string, string?, string?, string?, string> RevisionRows => new()
    {
        { "first rollout", null, null, null, "1" },
        { "same model keeps the revision", "3", "file:///m.onnx", Hex, "3" },
        { "new digest bumps", "3", "file:///m.onnx", OtherHex, "4" },
        { "new source bumps", "3", "file:///other.onnx", Hex, "4" },
        { "garbage restarts", "x", "file:///m.onnx", Hex, "1" },
    };

    [Theory]
    [MemberData(nameof(RevisionRows))]
    public void RevisionsCountModelVersions(string scenario, string? current, string? currentUri, string? currentHex, string expected)
    {
        ModelSource.TryParse("file:///m.onnx", Hex, out var desired, out _);
        Assert.True(expected == RevisionPolicy.Next(current, currentUri, currentHex, desired!), scenario);
    }
}
