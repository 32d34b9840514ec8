using System.Security.Cryptography;
using GruOnnx.Models;
using Microsoft.ML.OnnxRuntime;

namespace GruServer.Tests.Models;

/// <summary>The gru-model command, run as a process: it writes loadable models and refuses bad sizes clearly.</summary>
public sealed class GruModelCommandTests
{
    [Fact]
    public async Task WritesAModelOnnxRuntimeLoadsAndPrintsItsDigest()
    {
        var path = Path.Combine(Path.GetTempPath(), $"cli-{Guid.NewGuid():N}.onnx");

        var (exitCode, output) = await RunAsync("--output", path, "--input-size", "6", "--hidden-size", "10", "--layers", "2",
            "--direction", "Bidirectional", "--sequence-lengths", "--dense-outputs", "3", "--seed", "5");

        Assert.Equal(0, exitCode);
        var digest = Convert.ToHexStringLower(SHA256.HashData(await File.ReadAllBytesAsync(path)));
        Assert.Contains($"sha256:{digest}", output, StringComparison.Ordinal);
        using var session = new InferenceSession(path);
        Assert.Equal([GruModelNames.Input, GruModelNames.SequenceLengths], session.InputNames);
        Assert.Equal([-1, -1, 6], session.InputMetadata[GruModelNames.Input].Dimensions);
        Assert.Equal([-1, 3], session.OutputMetadata[GruModelNames.Output].Dimensions);
        Assert.Equal([-1, 20], session.OutputMetadata[GruModelNames.Hidden].Dimensions);
    }

    [Fact]
    public async Task StateInputsExposeEachLayersInitialHAndYh()
    {
        var path = Path.Combine(Path.GetTempPath(), $"cli-{Guid.NewGuid():N}.onnx");

        var (exitCode, output) = await RunAsync("--output", path, "--input-size", "3", "--hidden-size", "4", "--layers", "2", "--state-inputs");

        Assert.Equal(0, exitCode);
        Assert.Contains("state=inputs", output, StringComparison.Ordinal);
        using var session = new InferenceSession(path);
        Assert.Equal([GruModelNames.Input, GruModelNames.InitialHidden(0), GruModelNames.InitialHidden(1)], session.InputNames);
        Assert.Equal([1, -1, 4], session.InputMetadata[GruModelNames.InitialHidden(1)].Dimensions);
        Assert.Equal([GruModelNames.FinalHidden(0), GruModelNames.FinalHidden(1)], session.OutputNames.Where(n => n.StartsWith("y_h_", StringComparison.Ordinal)));
    }

    [Theory]
    [InlineData("--hidden-size", "0", "HiddenSize must be between 1 and 8192, got 0")]
    [InlineData("--layers", "99", "Layers must be between 1 and 64, got 99")]
    public async Task RefusesSizesOutOfRange(string flag, string value, string message)
    {
        var (exitCode, output) = await RunAsync("--output", Path.Combine(Path.GetTempPath(), "never.onnx"), flag, value);

        Assert.Equal(2, exitCode);
        Assert.Contains(message, output, StringComparison.Ordinal);
    }

    private static async Task<(int ExitCode, string Output)> RunAsync(params string[] arguments)
    {
        var (exitCode, stdout, stderr) = await TestSupport.GruModelCommand.RunAsync(arguments);
        return (exitCode, stdout + stderr);
    }
}
