using GruRegistry.Tests.Support;
using TestSupport;

namespace GruRegistry.Tests.Cli;

/// <summary>
/// gru-model pull of an https:// model, as the operator's model-fetcher init container runs it (pull URL --sha256 HEX
/// --output PATH), against a real https server: the real registry with a private-CA certificate, whose blob URL serves
/// the model file.
/// </summary>
public sealed class GruModelHttpsPullTests : IAsyncLifetime
{
    private RegistryProcess _registry = null!;
    private GruModelFile _model = null!;
    private string _url = "";

    public async Task InitializeAsync()
    {
        _registry = await RegistryProcess.StartWithTlsAsync(CancellationToken.None);
        _model = await GruTestModels.WriteAsync();
        var push = await GruModelCommand.RunAsync(["push", _model.Path, $"oci://{_registry.Host}/models/recs:1.0", "--ca-file", _registry.CaCertificateFile!]);
        Assert.True(push.ExitCode == 0, push.Stderr);
        _url = $"https://{_registry.Host}/v2/models/recs/blobs/sha256:{_model.Sha256}";
    }

    public async Task DisposeAsync() => await _registry.DisposeAsync();

    [Fact]
    public async Task FetchesTheFileAndVerifiesItsSha256()
    {
        var output = TestArtifacts.TempPath("model.onnx");

        var pull = await GruModelCommand.RunAsync(["pull", _url, "--sha256", _model.Sha256, "--output", output, "--ca-file", _registry.CaCertificateFile!]);

        Assert.True(pull.ExitCode == 0, pull.Stderr);
        Assert.Equal(await File.ReadAllBytesAsync(_model.Path), await File.ReadAllBytesAsync(output));
        Assert.Contains($"sha256:{_model.Sha256} verified", pull.Stdout, StringComparison.Ordinal);
        Assert.False(File.Exists(output + ".partial"));
    }

    [Fact]
    public async Task AFileWithAnotherSha256IsRefusedAndTheFileInPlaceIsKept()
    {
        var output = TestArtifacts.TempPath("model.onnx");
        Directory.CreateDirectory(Path.GetDirectoryName(output)!);
        await File.WriteAllTextAsync(output, "the previous model");
        var wrong = new string('0', 64);

        var pull = await GruModelCommand.RunAsync(["pull", _url, "--sha256", wrong, "--output", output, "--ca-file", _registry.CaCertificateFile!]);

        Assert.Equal(1, pull.ExitCode);
        Assert.Contains($"{_url}: sha256 mismatch: expected {wrong}, the {new FileInfo(_model.Path).Length} bytes downloaded have {_model.Sha256}; refusing the file",
            pull.Stderr, StringComparison.Ordinal);
        Assert.Equal("the previous model", await File.ReadAllTextAsync(output));
        Assert.False(File.Exists(output + ".partial"));
    }

    [Fact]
    public async Task AMissingFileNamesTheStatusAndTheField()
    {
        var output = TestArtifacts.TempPath("model.onnx");
        var missing = $"https://{_registry.Host}/v2/models/recs/blobs/sha256:{new string('1', 64)}";

        var pull = await GruModelCommand.RunAsync(["pull", missing, "--sha256", _model.Sha256, "--output", output, "--ca-file", _registry.CaCertificateFile!]);

        Assert.Equal(1, pull.ExitCode);
        Assert.Contains($"{missing}: the server answered 404 Not Found; check the model's URL (spec.model.source)", pull.Stderr, StringComparison.Ordinal);
        Assert.False(File.Exists(output));
    }

    [Fact]
    public async Task APresignedUrlsSignatureNeverReachesTheMessage()
    {
        // The message becomes the init container's termination message, which the operator quotes in status and Events:
        // whoever reads the GruModel must not get the signature (issue 27).
        var output = TestArtifacts.TempPath("model.onnx");
        var missing = $"https://{_registry.Host}/v2/models/recs/blobs/sha256:{new string('1', 64)}";

        var pull = await GruModelCommand.RunAsync(["pull", missing + "?X-Amz-Signature=s3cr3t", "--sha256", _model.Sha256, "--output", output, "--ca-file", _registry.CaCertificateFile!]);

        Assert.Equal(1, pull.ExitCode);
        Assert.Contains($"{missing}?…: the server answered 404 Not Found", pull.Stderr, StringComparison.Ordinal);
        Assert.DoesNotContain("s3cr3t", pull.Stdout + pull.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task AnUntrustedCertificateIsRefusedNamingTheFix()
    {
        var pull = await GruModelCommand.RunAsync(["pull", _url, "--sha256", _model.Sha256, "--output", TestArtifacts.TempPath("model.onnx")]);

        Assert.Equal(1, pull.ExitCode);
        Assert.Contains($"{_url}: the server's TLS certificate is not trusted", pull.Stderr, StringComparison.Ordinal);
        Assert.Contains("pass its PEM with --ca-file", pull.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task AnOciPullChecksAGivenSha256AgainstTheModelLayer()
    {
        var reference = $"oci://{_registry.Host}/models/recs:1.0";
        var output = TestArtifacts.TempPath("model.onnx");

        var matching = await GruModelCommand.RunAsync(["pull", reference, "--sha256", "sha256:" + _model.Sha256, "--output", output, "--ca-file", _registry.CaCertificateFile!]);
        var other = await GruModelCommand.RunAsync(["pull", reference, "--sha256", new string('0', 64), "--output", output + ".2", "--ca-file", _registry.CaCertificateFile!]);

        Assert.True(matching.ExitCode == 0, matching.Stderr);
        Assert.Equal(await File.ReadAllBytesAsync(_model.Path), await File.ReadAllBytesAsync(output));
        Assert.Equal(2, other.ExitCode);
        Assert.Contains($"--sha256 {new string('0', 64)} is not the model file of {reference}", other.Stderr, StringComparison.Ordinal);
        Assert.False(File.Exists(output + ".2"));
    }

    public static TheoryData<string, string[], string> UsageErrors => new()
    {
        { "plain http", ["pull", "http://models.example/m.onnx", "--sha256", new string('a', 64), "--output", "m.onnx"], "is not an https:// URL; models are fetched over https:// (or pulled from oci://), never plain http" },
        { "no sha256", ["pull", "https://models.example/m.onnx", "--output", "m.onnx"], "pulling https://models.example/m.onnx needs --sha256" },
        { "short sha256", ["pull", "https://models.example/m.onnx", "--sha256", "abc", "--output", "m.onnx"], "--sha256 'abc' is not a sha256" },
        { "registry flags", ["pull", "https://models.example/m.onnx", "--sha256", new string('a', 64), "--plain-http", "--output", "m.onnx"], "an https:// pull takes only --ca-file" },
        { "missing CA file", ["pull", "https://models.example/m.onnx", "--sha256", new string('a', 64), "--ca-file", "/nonexistent/ca.pem", "--output", "m.onnx"], "--ca-file '/nonexistent/ca.pem' does not exist" },
    };

    [Theory]
    [MemberData(nameof(UsageErrors))]
    public async Task BadArgumentsAreUsageErrorsNamingTheFix(string scenario, string[] arguments, string expected)
    {
        var pull = await GruModelCommand.RunAsync(arguments);

        Assert.True(pull.ExitCode == 2, $"{scenario}: exit {pull.ExitCode}, {pull.Stderr}");
        Assert.Contains(expected, pull.Stderr, StringComparison.Ordinal);
    }
}
