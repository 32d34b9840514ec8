using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using GruRegistry.Tests.Support;
using TestSupport;

namespace GruRegistry.Tests.Cli;

/// <summary>gru-model push, inspect and pull as a user runs them, against the real registry.</summary>
public sealed class GruModelRegistryCommandTests : IAsyncLifetime
{
    private static readonly Dictionary<string, string> Users = new() { ["ci-robot"] = "s3cret-Pa55" };
    private RegistryProcess _anonymous = null!;
    private RegistryProcess _basic = null!;

    public async Task InitializeAsync()
    {
        _anonymous = await RegistryProcess.StartAnonymousAsync(CancellationToken.None);
        _basic = await RegistryProcess.StartWithBasicAuthAsync(Users, CancellationToken.None);
    }

    public async Task DisposeAsync()
    {
        await _anonymous.DisposeAsync();
        await _basic.DisposeAsync();
    }

    [Fact]
    public async Task A_plain_http_registry_reached_without_plain_http_is_named_with_the_flag_that_fixes_it()
    {
        var model = TestArtifacts.TempPath("plain.onnx");
        Assert.Equal(0, (await GruModelCommand.RunAsync(["--output", model])).ExitCode);

        var push = await GruModelCommand.RunAsync(["push", model, $"oci://{_anonymous.Host}/models/plain:1.0"]);

        Assert.NotEqual(0, push.ExitCode);
        Assert.Contains("did not answer in TLS", push.Stderr, StringComparison.Ordinal);
        Assert.Contains("gru-model --plain-http", push.Stderr, StringComparison.Ordinal);
        Assert.Contains($"--registry-plain-http {_anonymous.Host}", push.Stderr, StringComparison.Ordinal);
        Assert.DoesNotContain("--ca-file", push.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task WritesPushesInspectsAndPullsAModel()
    {
        var model = TestArtifacts.TempPath("recs.onnx");
        var reference = $"oci://{_anonymous.Host}/models/recs:1.0";
        var written = await GruModelCommand.RunAsync(["--output", model, "--input-size", "6", "--hidden-size", "10", "--layers", "2", "--direction", "Bidirectional"]);
        var layerDigest = "sha256:" + Convert.ToHexStringLower(SHA256.HashData(await File.ReadAllBytesAsync(model)));

        var push = await GruModelCommand.RunAsync(["push", model, reference, "--plain-http"]);
        var inspect = await GruModelCommand.RunAsync(["inspect", reference, "--plain-http"]);
        var output = TestArtifacts.TempPath();
        var pull = await GruModelCommand.RunAsync(["pull", reference, "--output", output, "--plain-http"]);

        Assert.Equal(0, written.ExitCode);
        Assert.True(push.ExitCode == 0, push.Stderr);
        var pushLines = push.Stdout.Trim().Split('\n');
        var manifestDigest = pushLines.Single(l => l.StartsWith("digest: ", StringComparison.Ordinal))["digest: ".Length..];
        Assert.Equal($"{reference}@{manifestDigest}", pushLines[^1]);
        Assert.Contains($"layer {layerDigest} ({new FileInfo(model).Length} bytes, uploaded)", push.Stdout, StringComparison.Ordinal);

        Assert.True(inspect.ExitCode == 0, inspect.Stderr);
        Assert.Contains($"manifest:  {manifestDigest}", inspect.Stdout, StringComparison.Ordinal);
        Assert.Contains($"layer:     {layerDigest}", inspect.Stdout, StringComparison.Ordinal);
        Assert.Contains($"size:      {new FileInfo(model).Length} bytes", inspect.Stdout, StringComparison.Ordinal);
        using var config = JsonDocument.Parse(inspect.Stdout[(inspect.Stdout.IndexOf("config:", StringComparison.Ordinal) + 7)..]);
        Assert.Equal("recs", config.RootElement.GetProperty("name").GetString());
        Assert.Equal("gru-model 1", config.RootElement.GetProperty("producer").GetString());
        var gru = config.RootElement.GetProperty("gru");
        Assert.Equal(6, gru.GetProperty("inputSize").GetInt32());
        Assert.Equal(10, gru.GetProperty("hiddenSize").GetInt32());
        Assert.Equal(2, gru.GetProperty("layers").GetInt32());
        Assert.Equal("bidirectional", gru.GetProperty("direction").GetString());
        Assert.Equal("[-1,-1,6]", config.RootElement.GetProperty("inputs")[0].GetProperty("shape").GetRawText().Replace(" ", "", StringComparison.Ordinal).Replace("\n", "", StringComparison.Ordinal));

        Assert.True(pull.ExitCode == 0, pull.Stderr);
        Assert.Contains($"{layerDigest} verified", pull.Stdout, StringComparison.Ordinal);
        Assert.Equal(await File.ReadAllBytesAsync(model), await File.ReadAllBytesAsync(output));
    }

    [Fact]
    public async Task UsesCredentialsFromTheEnvironmentAndFromADockerConfigFile()
    {
        var model = (await GruTestModels.WriteAsync()).Path;
        var reference = $"oci://{_basic.Host}/models/recs:1.0";
        var dockerConfig = TestArtifacts.TempPath("config.json");
        Directory.CreateDirectory(Path.GetDirectoryName(dockerConfig)!);
        var auth = Convert.ToBase64String(Encoding.UTF8.GetBytes("ci-robot:s3cret-Pa55"));
        await File.WriteAllTextAsync(dockerConfig, $"{{\"auths\":{{\"{_basic.Host}\":{{\"auth\":\"{auth}\"}}}}}}");

        var push = await GruModelCommand.RunAsync(["push", model, reference, "--plain-http"],
            new Dictionary<string, string> { ["GRU_REGISTRY_USERNAME"] = "ci-robot", ["GRU_REGISTRY_PASSWORD"] = "s3cret-Pa55" });
        var inspect = await GruModelCommand.RunAsync(["inspect", reference, "--plain-http", "--docker-config", dockerConfig]);
        var stdin = await GruModelCommand.RunAsync(["inspect", reference, "--plain-http", "--username", "ci-robot", "--password-stdin"], stdin: "s3cret-Pa55\n");
        var anonymous = await GruModelCommand.RunAsync(["pull", reference, "--plain-http", "--output", TestArtifacts.TempPath()]);

        Assert.True(push.ExitCode == 0, push.Stderr);
        Assert.True(inspect.ExitCode == 0, inspect.Stderr);
        Assert.True(stdin.ExitCode == 0, stdin.Stderr);
        Assert.Equal(1, anonymous.ExitCode);
        Assert.StartsWith($"gru-model: {reference}: manifest: the registry refused access (401 Unauthorized", anonymous.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task PullRefusesABlobCorruptedInTheRegistry()
    {
        var model = await GruTestModels.WriteAsync();
        var reference = $"oci://{_anonymous.Host}/models/recs:1.0";
        Assert.Equal(0, (await GruModelCommand.RunAsync(["push", model.Path, reference, "--plain-http"])).ExitCode);
        var stored = _anonymous.BlobDataPath($"sha256:{model.Sha256}");
        var bytes = await File.ReadAllBytesAsync(stored);
        bytes[^1] ^= 0x01;
        await File.WriteAllBytesAsync(stored, bytes);
        var output = TestArtifacts.TempPath();

        var pull = await GruModelCommand.RunAsync(["pull", reference, "--plain-http", "--output", output]);

        Assert.Equal(1, pull.ExitCode);
        Assert.Contains($"blob sha256:{model.Sha256} arrived with sha256 sha256:", pull.Stderr, StringComparison.Ordinal);
        Assert.False(File.Exists(output));
        Assert.False(File.Exists(output + ".partial"));
    }

    [Theory]
    [InlineData("oci://127.0.0.1/Models:1", 2, "'Models' is not a valid repository name")]
    [InlineData("registry/models:1", 2, "is not an OCI reference")]
    [InlineData("{host}/models/absent:1", 1, "manifest not found (404")]
    public async Task BadOrUnknownReferencesAreClearErrors(string reference, int exitCode, string message)
    {
        reference = reference.Replace("{host}", $"oci://{_anonymous.Host}", StringComparison.Ordinal);

        var inspect = await GruModelCommand.RunAsync(["inspect", reference, "--plain-http"]);

        Assert.Equal(exitCode, inspect.ExitCode);
        Assert.Contains(message, inspect.Stderr, StringComparison.Ordinal);
        Assert.Contains(reference, inspect.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task PushRefusesAFileThatIsNotOnnx()
    {
        var path = TestArtifacts.TempPath("notes.onnx");
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        await File.WriteAllTextAsync(path, "these are not the weights you are looking for");

        var push = await GruModelCommand.RunAsync(["push", path, $"oci://{_anonymous.Host}/models/recs:1.0", "--plain-http"]);

        Assert.Equal(2, push.ExitCode);
        Assert.Contains("is not an ONNX model", push.Stderr, StringComparison.Ordinal);
    }
}
